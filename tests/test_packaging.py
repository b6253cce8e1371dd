"""What an install gets: a license, pinned dev tools, the message templates as package data."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found: dict[str, object] = data["project"]
    return found


def test_the_license_is_declared_and_shipped() -> None:
    assert project()["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_dev_tools_are_pinned_so_make_test_does_not_drift() -> None:
    extras = project()["optional-dependencies"]
    assert isinstance(extras, dict)
    assert all("==" in requirement for requirement in extras["dev"]), extras["dev"]


def test_templates_are_package_data() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["tool"]["setuptools"]["package-data"]["syncd"] == ["templates/*.txt"]
    assert sorted(p.name for p in (ROOT / "syncd" / "templates").glob("*.txt"))
