"""pytest fixtures for the mautic fake (filled in with the mautic connector)."""

from __future__ import annotations
