"""Tests of the rule modules: pure functions of a case and a fixed clock."""

from __future__ import annotations
