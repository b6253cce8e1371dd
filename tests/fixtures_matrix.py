"""pytest fixtures for the matrix fake (filled in with the matrix connector)."""

from __future__ import annotations
