"""pytest fixtures for the freescout fake (filled in with the freescout connector)."""

from __future__ import annotations
