"""Keeping a marketplace's calls under its per-second quota, so none are bounced and re-sent."""

from __future__ import annotations

import asyncio
from collections import deque

from omnisync.budget import Budget

# A little over a second per window: the platform counts arrivals, which jitter with latency,
# so a window measured on our side must not end before the platform's does.
SLACK = 1.05


class Pacer:
    """At most `qps` calls in any second for each key (an API, or the whole shop).

    Shopee, Lazada and TikTok Shop answer a call over their quota with an error that costs a
    wait and a second request (and, on Shopee, counts against the app's success rate), so the
    calls are spaced before they are sent instead.
    """

    def __init__(self, budget: Budget, qps: int, *, limit: str) -> None:
        self.budget = budget
        self.qps = qps
        self.period = SLACK
        self.limit = limit  # what the wait is for, in the words of the budget's messages
        self.sent: dict[str, deque[float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, key: str) -> None:
        """Return when one more call under `key` stays within the quota; count it as sent."""
        # One lock per key: the order of its sends is kept, and a wait for one API's quota
        # never holds up another's calls (listings and orders are read side by side).
        async with self._locks.setdefault(key, asyncio.Lock()):
            window = self.sent.setdefault(key, deque())
            while True:
                now = self.budget.clock()
                while window and now - window[0] >= self.period:
                    window.popleft()
                if len(window) < self.qps:
                    window.append(now)
                    return
                await self.budget.sleep(self.period - (now - window[0]), self.limit)
