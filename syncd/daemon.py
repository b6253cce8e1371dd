"""Wiring and the poll loop: config → connectors → runtime → cycles.

Role: build the connectors a configuration names, hand them to the cycle, and
run cycles once or every `poll_interval`. A cycle that fails on a remote fault
is logged and the next one runs on time: the daemon never dies of a remote
fault. This and `cli.py` are the only places that read the real clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from loguru import logger

from connectors.dolibarr import DolibarrClient, DolibarrSettings
from connectors.freescout import FreescoutClient, FreescoutSettings
from connectors.matrix import MatrixClient, MatrixSettings, txn_id_for
from connectors.mautic import MauticClient, MauticSettings
from syncd.config import Config
from syncd.cycle import CycleResult, Runtime, run_cycle
from syncd.engine import RuleSet
from syncd.errors import SyncdError
from syncd.executor import Executor, Targets
from syncd.store import Store


def clock(config: Config) -> datetime:
    """The time now, or the pinned `[daemon] now` (tests and the demo)."""
    return config.daemon.now or datetime.now(UTC)


def dolibarr_client(config: Config) -> DolibarrClient:
    d = config.dolibarr
    return DolibarrClient(DolibarrSettings(d.url, d.api_key, d.timezone, d.page_size, d.timeout))


def build_executor(
    config: Config, dolibarr: DolibarrClient, category_ids: dict[str, int]
) -> Executor:
    timeout = config.dolibarr.timeout
    m, f, x = config.mautic, config.freescout, config.matrix
    mautic = (
        MauticClient(
            MauticSettings(m.url, m.username, m.password, m.client_id, m.client_secret, timeout)
        )
        if m
        else None
    )
    freescout = FreescoutClient(FreescoutSettings(f.url, f.api_key, timeout)) if f else None
    matrix = MatrixClient(MatrixSettings(x.homeserver, x.access_token, timeout)) if x else None
    rooms = {"sales": x.room_sales, "success": x.room_success} if x else {}
    targets = Targets(
        field_codes=config.fields,
        category_ids=category_ids,
        rooms=rooms,
        freescout_user_id=f.user_id if f else None,
    )
    return Executor(
        dolibarr, targets, mautic=mautic, freescout=freescout, matrix=matrix, txn_id=txn_id_for
    )


def build_runtime(config: Config, ruleset: RuleSet) -> Runtime:
    store = Store(config.daemon.state_db)
    mirror = store.load_mirror()
    dolibarr = dolibarr_client(config)
    executor = build_executor(config, dolibarr, mirror.category_ids)
    rules = [entry.rule for entry in ruleset.rules]
    return Runtime(store, dolibarr, executor, config, ruleset, mirror, rules)


def run_once(rt: Runtime, should_stop: Callable[[], bool] = lambda: False) -> CycleResult:
    return run_cycle(rt, clock(rt.config), should_stop)


def run_forever(rt: Runtime, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Cycle every poll_interval until asked to stop; remote faults never end the loop."""
    interval = rt.config.daemon.poll_interval
    while not should_stop():
        started = time.monotonic()
        try:
            run_once(rt, should_stop)
        except SyncdError as exc:
            logger.error("cycle failed: {}", exc)
        while not should_stop() and time.monotonic() - started < interval:
            time.sleep(min(1.0, interval))
