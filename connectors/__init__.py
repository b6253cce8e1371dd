"""Thin, typed clients of the external APIs; no business logic lives here."""
