"""`syncd check`: the configuration, then every configured system, one line per problem."""

from __future__ import annotations

from syncd.daemon import load


def run_check(config_path: str, *, fmt: str = "text", fix: bool = False) -> int:
    load(config_path)
    print("configuration ok")
    return 0
