"""Reconcile and plan run with the cycle collector off; what they built is set aside from it
until the run ends, then handed back: nothing stays frozen, cyclic garbage is still freed."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from omnisync.gcpause import SetAside


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector on and nothing frozen, whatever the test runner set; put back as found."""
    enabled = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def dropped_cycle() -> None:
    cycle: list[object] = []
    cycle.append(cycle)


@pytest.mark.usefixtures("collector")
def test_the_block_runs_without_passes_and_the_run_ends_with_nothing_frozen() -> None:
    aside = SetAside()
    gc.collect()
    with aside:
        assert not gc.isenabled()
        kept = [[n] for n in range(1_000)]
        dropped_cycle()
    assert gc.isenabled()
    # Set aside: neither what the block holds nor what it dropped is walked by a pass now.
    assert gc.get_freeze_count() >= len(kept)
    assert gc.collect() == 0
    aside.release()
    assert gc.get_freeze_count() == 0
    # Handed back: the cycle the block dropped is freed after all.
    assert gc.collect() >= 1


@pytest.mark.usefixtures("collector")
def test_a_failed_block_still_ends_with_the_collector_on_and_nothing_frozen() -> None:
    aside = SetAside()
    with pytest.raises(RuntimeError), aside:
        raise RuntimeError("a failed reconcile")
    assert gc.isenabled()
    aside.release()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("collector")
def test_objects_someone_else_froze_stay_frozen_and_a_collector_turned_off_stays_off() -> None:
    held = [[n] for n in range(100)]
    gc.freeze()
    frozen = gc.get_freeze_count()
    aside = SetAside()
    with aside:
        assert gc.isenabled()  # not ours to pause: their freeze must not be undone
    aside.release()
    assert gc.get_freeze_count() == frozen >= len(held)
    gc.unfreeze()
    gc.disable()
    aside = SetAside()
    with aside:
        pass
    aside.release()
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0
