"""`python -m tests.bench [--sizes 2000,10000] [--rounds 3] [--write docs/performance.md]`.

Each size runs in a fresh process of its own, so one size's memory never
shows in the next one's peak. The profile is taken at 10,000 when that size
runs, else at the largest.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tests.bench.report import render
from tests.bench.scenarios import SizeResult, run_size

PROFILE_SIZE = 10_000
TITLE = "# Performance: what a syncd cycle costs"
PREAMBLE = (
    "Written by `make bench` (`python -m tests.bench --write docs/performance.md`); "
    "re-run it rather than edit this file. The larger size is opt-in: "
    "`make bench SIZES=2000,10000,50000`."
)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument(
        "--sizes", default="2000,10000", help="numbers of third parties, comma-separated"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of idle / 1 %% changed / after own writes"
    )
    parser.add_argument("--write", metavar="PATH", help="also write the report to this file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser.parse_args(argv)


def measure(size: int, rounds: int, with_profile: bool, progress: bool) -> SizeResult:
    """One size in a fresh process."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(run_size, size, rounds, with_profile, progress).result()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    profiled = PROFILE_SIZE if PROFILE_SIZE in sizes else sizes[-1]
    results = []
    for size in sizes:
        if not args.quiet:
            print(f"bench: {size:,} third parties", file=sys.stderr, flush=True)
        results.append(measure(size, args.rounds, size == profiled, not args.quiet))
    text = render(results, args.rounds)
    print(text, end="")
    if args.write:
        Path(args.write).write_text(f"{TITLE}\n\n{PREAMBLE}\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
