"""How many requests a WooCommerce host is sent at once: an adaptive (AIMD) limit.

WooCommerce publishes no rate limit (research section 2.5); the ceiling is the host's PHP
workers, a handful on shared hosting. An overrun host says so in one of a few ways: CloudLinux
LVE's "entry processes" limit (typically 20-30 PHP requests at once) answers 508 Resource
Limit Reached, its memory and process limits 500/503
(https://serversaurus.com.au/knowledge-base/understanding-cloudlinux-resource-limits/);
nginx in front of php-fpm answers 502 when the workers and their listen queue are full, and a
CDN before it 503 (https://developer.upsun.com/posts/2025/when-php-fpm-runs-out-of-workers-a-
502-error-field-guide); a security plugin 429; and a host that queues instead of refusing
answers ever more slowly.

So the limit starts where omnisync always ran (8), grows while answers come back clean and
about as fast as the fastest of their kind (doubling per round of answers until the first
sign of trouble, then one a round), holds while answers take half as long again or more
(the host queues: a request on a fresh connection, its handshakes included, looks the same,
so slowness alone never cuts), and halves on a refusal or a timeout, at most once per round
(the requests already out when it was cut say nothing new). A host with a worker cap so ends up
oscillating below it, and one with room gets up to `CEILING` requests at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

START = 8  # what omnisync sent to every host before the limit adapted
FLOOR = 2  # a host that refuses even this many is retried slowly by the failure table
# Requests at once on a host that never pushes back. More is not faster: httpcore's pool scans
# every connection for each idle one at every request's start and end (connection_pool.py,
# `_assign_requests_to_connections`, httpcore 1.0.9), so its CPU grows with the square of the
# pool; at 64 the 5,000-listing push took 3.2 s of CPU-bound trickle where 32 took 0.8 s and
# the old fixed 8 took 2.0 s (50 ms a request). Shared hosts allow 20-30 PHP requests anyway.
CEILING = 32
SLOWER = 1.5  # an answer this many times slower than the fastest of its kind stops growth
# Loopback and LAN answers come in a few milliseconds, where scheduling noise alone doubles
# them: an answer is slow only past the fastest by this much too.
JITTER = 0.02

_DIGITS = re.compile(r"/\d+")


def kind_of(method: str, path: str) -> str:
    """The kind of request whose answers are compared: method and route without ids (a page of
    orders and a batch write of 100 products take very different times on the same host)."""
    return f"{method} {_DIGITS.sub('/{id}', path)}"


@dataclass(slots=True)
class Ticket:
    """One request's hold on the limit, and what it saw when it was sent."""

    round: int  # the limit's cut count when it was sent: a cut comes once per round
    busy: int  # requests out when it was sent, itself included
    sent: float = 0.0  # the clock when its (last) attempt went out
    held: bool = True  # it holds its place (not while queued again for a retry)


class AdaptiveLimit:
    """Requests in flight to one host, the limit growing and shrinking with its answers."""

    def __init__(
        self,
        *,
        start: int = START,
        floor: int = FLOOR,
        ceiling: int = CEILING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = float(start)
        self.floor, self.ceiling = floor, ceiling
        self.clock = clock
        self.busy = 0  # requests holding a slot
        self.peak = 0  # the most ever held at once (tests and the benchmark read it)
        self.cuts = 0  # times the limit was cut; also the round a ticket belongs to
        self.fastest: dict[str, float] = {}  # kind of request -> its fastest answer
        # Requests waiting for a place, first come first served; a place is handed over (and
        # counted in `busy`) before the waiter wakes, as asyncio.Semaphore does.
        self._queue: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Ticket]:
        """Hold one of the limit's places while the block runs (queued here, in order)."""
        await self._take()
        ticket = Ticket(round=self.cuts, busy=self.busy, sent=self.clock())
        try:
            yield ticket
        finally:
            if ticket.held:
                self._give()

    async def retry(self, ticket: Ticket) -> None:
        """Before a refused request goes again: its place back in the queue, so a cut limit
        holds for the retries too (a place kept through the backoff would send them all
        again at once, over the cap that refused them)."""
        self.overloaded(ticket)
        ticket.held = False
        self._give()
        await self._take()
        ticket.held = True
        ticket.round, ticket.busy = self.cuts, self.busy

    async def _take(self) -> None:
        if not self._queue and self.busy < int(self.limit):
            self._count_in()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give()  # handed a place as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # already passed over as cancelled
                    self._queue.remove(waiter)
            raise

    def _give(self) -> None:
        self.busy -= 1
        self._hand_over()

    def _hand_over(self) -> None:
        """Places free under the limit go to the longest waiting."""
        while self._queue and self.busy < int(self.limit):
            waiter = self._queue.popleft()
            if not waiter.done():
                self._count_in()
                waiter.set_result(None)

    def _count_in(self) -> None:
        self.busy += 1
        self.peak = max(self.peak, self.busy)

    def sending(self, ticket: Ticket) -> None:
        """An attempt goes out now (a retry restarts the answer's clock)."""
        ticket.sent = self.clock()

    def answered(self, ticket: Ticket, kind: str) -> None:
        """A clean answer: grow when it came fast and the limit was in use."""
        seconds = self.clock() - ticket.sent
        fastest = min(self.fastest.get(kind, seconds), seconds)
        self.fastest[kind] = fastest
        # Growth only on evidence: an answer while few were out says nothing about many.
        if seconds > fastest * SLOWER + JITTER or ticket.busy * 2 < int(self.limit):
            return
        # Slow start until the first sign of trouble, then one more per round of answers.
        grown = self.limit + (1.0 if self.cuts == 0 else 1.0 / self.limit)
        self._set(min(float(self.ceiling), grown))

    def overloaded(self, ticket: Ticket) -> None:
        """A refusal or a timeout: halve the limit, once per round."""
        if ticket.round != self.cuts:
            return  # sent before the last cut: that cut already answered it
        self.cuts += 1
        self._set(max(float(self.floor), self.limit / 2))

    def _set(self, limit: float) -> None:
        self.limit = limit
        self._hand_over()  # a grown limit lets waiters in now
