"""Planning pauses Python's cyclic garbage collector, and leaves it as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from syncd.cycle import collector_paused
from tests.harness import World


@pytest.fixture
def collector_enabled() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_paused_inside_and_back_after(collector_enabled: None) -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_back_after_an_error(collector_enabled: None) -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a bug while planning")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled(collector_enabled: None) -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_a_cycle_leaves_the_collector_running(world: World, collector_enabled: None) -> None:
    world.dolibarr.add_thirdparty("Aspen Labs", email="ann@aspen.example", tags=("Trial",))
    world.cycle()
    assert gc.isenabled()
