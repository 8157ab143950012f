"""Python's cycle collector paused while a command builds a big, acyclic set of objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """The cycle collector off inside, back on after (left alone if it was off already).

    A sync run holds every listing and order it read (100,000 listings is half a million
    objects), a report every order line of its window, and the collector walks all of them
    each time they grow by a quarter: 30% of a big run's CPU. What these build is freed by
    reference counting the moment nothing refers to it; only the few reference cycles
    (asyncio's, an exception's traceback) wait for the collector until the block ends, which
    the HTTP benchmarks' peak memory shows to be nothing to speak of.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
