"""`make bench`: what a syncd cycle costs at 2,000 and 10,000 third parties; never asserted.

`world` seeds the fake Dolibarr and changes it, `server` runs that fake in a
process of its own, `scenarios` runs syncd as the daemon does and measures each
scenario, `profiling` boils a cProfile down, and `report` writes the tables and
findings (docs/performance.md). The test suite runs it once at a tiny size,
only to see that it still runs.
"""
