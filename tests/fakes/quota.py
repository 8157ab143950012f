"""A marketplace's per-second quota as its gateway counts it: by arrival, before any latency.

The fakes sleep their latency before they answer, and answer a burst one request at a time;
counting a call when its answer is built would count that queue, not when the call came in,
and refuse calls a real gateway (which counts arrivals) lets through. So each fake stamps a
request as it arrives (`arrive`) and its quota counts those stamps.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

_ARRIVED: ContextVar[float | None] = ContextVar("_ARRIVED", default=None)


async def arrive(call: Callable[[], Awaitable[Any]]) -> Any:
    """Run one request's handling with its arrival time stamped (see `arrived`)."""
    token = _ARRIVED.set(time.monotonic())
    try:
        return await call()
    finally:
        _ARRIVED.reset(token)


def arrived() -> float:
    """When the request being handled came in (now, outside `arrive`)."""
    stamp = _ARRIVED.get()
    return time.monotonic() if stamp is None else stamp


class Quota:
    """At most `limit` accepted calls in any `period` seconds of arrival, per key."""

    def __init__(self, *, period: float = 1.0) -> None:
        self.period = period
        self.accepted: dict[str, list[float]] = {}

    def admit(self, key: str, limit: float) -> bool:
        """Whether the request being handled fits under `limit` for `key`; counts it if so."""
        moment = arrived()
        stamps = self.accepted.setdefault(key, [])
        # Requests are answered roughly, not exactly, in arrival order: keep the stamps sorted.
        del stamps[: bisect.bisect_left(stamps, moment - 2 * self.period)]
        inside = bisect.bisect_right(stamps, moment) - bisect.bisect_right(
            stamps, moment - self.period
        )
        if inside >= limit:
            return False
        bisect.insort(stamps, moment)
        return True
