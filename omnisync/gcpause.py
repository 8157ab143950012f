"""Python's cycle collector held to rare young passes while a command builds many objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# New objects (net) between two passes over the young generations; Python's default is 700.
# What a pass finds unreachable is freed, so the cyclic garbage waiting stays under about
# this many objects (25 MB at most, at the 250 bytes each measured) however long the run.
YOUNG_PASS_EVERY = 100_000
# Young passes between two passes over every object: none inside the block.
_NEVER = 1 << 30


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Inside, the collector walks only young objects, and only every 100,000 new ones; as
    it was after (left alone if it was off already).

    A sync run holds every listing and order it read (100,000 listings is half a million
    objects), a report every order line of its window; at Python's thresholds the collector
    walks all of them each time they grow by a quarter: 30% of a big run's CPU. What these
    build is freed by reference counting the moment nothing refers to it; the few reference
    cycles (asyncio's, httpx's, a traceback's: about 100 objects per HTTP request) are freed
    by the young passes. Turning the collector off instead held them to the end of the run,
    growing with it: peak memory of Shopify + WooCommerce at 20,000 listings each 114 MB off,
    104 MB with these passes, 100 MB at Python's thresholds. The core benchmark's CPU (1M
    lines, 10,000 changed): 1.31 s off, 1.40 s with them (reconcile + plan 0.48 and 0.50 s),
    1.9 s at Python's thresholds (medians of 3).
    """
    threshold = gc.get_threshold()
    if not gc.isenabled() or threshold[0] == 0:
        yield
        return
    gc.set_threshold(max(threshold[0], YOUNG_PASS_EVERY), threshold[1], _NEVER)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def young_collections_from_now() -> None:
    """`young_collections_only` for the rest of the process (the CLI, whose process ends with
    its command): the ~80,000 objects start-up builds live to the end anyway, and Python's
    thresholds, back after a big run, walked everything it held just before the exit (17-35
    ms after a 5,000-listing sync)."""
    gc.set_threshold(YOUNG_PASS_EVERY, 10, _NEVER)


class SetAside:
    """The cycle collector off for the block (reconcile and plan), and what the block built
    set aside from it afterwards, until `release`.

    The block makes no HTTP request (whose reference cycles the young passes are for) and
    builds few cycles, but it builds and keeps a run's movements, effects and plans: each
    young pass walked up to 100,000 of them, all still alive (17 ms at 10,000 changed orders,
    95 ms at 50,000). Set aside (`gc.freeze`, a constant-time move), the next passes do not
    walk them either; `release` (`gc.unfreeze`, as the run ends) hands them back to the
    oldest generation, so cyclic garbage made in the block is collected as before, later.
    Left alone when the collector is off or something else froze objects.
    """

    def __init__(self) -> None:
        self._paused = False
        self._froze = False

    def __enter__(self) -> None:
        self._paused = gc.isenabled() and gc.get_freeze_count() == 0
        if self._paused:
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._paused:
            gc.freeze()
            self._froze = True
            gc.enable()

    def release(self) -> None:
        if self._froze:
            gc.unfreeze()
            self._froze = False
