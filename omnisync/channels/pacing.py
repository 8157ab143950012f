"""Keeping a marketplace's calls under its per-second quota, none bounced, bursts sent at once."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import httpx

from omnisync.budget import Budget

# A little over a second per window: the platform counts arrivals, which jitter with latency,
# so a window measured on our side must not end before the platform's does.
SLACK = 1.05
# A refusal says arrivals jitter more than that here: each window of the run is then longer by
# a step, at most once a window, up to a quarter second over.
STEP = 0.05
MOST_SLACK = 1.25

Left = Callable[[], None]


@dataclass(eq=False, slots=True)
class _Call:
    at: float  # when it left, or (until it is known to have left) when its wait returned


class Pacer:
    """At most `qps` calls in any second for each key (an API, or the whole shop).

    Shopee, Lazada and TikTok Shop answer a call over their quota with an error that costs a
    wait and a second request (and, on Shopee, counts against the app's success rate), so the
    calls are spaced before they are sent instead.

    The platform counts a call when it arrives. A call cleared here may still wait for a
    connection (a new one is opened, or the pool's are all busy) or for the CPU, and leave
    tens of milliseconds later; counted from its wait, the window's calls would look older
    than the platform sees them, and the next window would open too soon (Lazada answered
    901 to 0-22 calls of a 5,000-listing sync, each then a second late). So `wait` returns
    a function to call the moment the request has left (ChannelHttp calls it from the
    transport's trace): the call then counts from then. A caller that never says counts from
    the wait's return.
    """

    def __init__(self, budget: Budget, qps: int, *, limit: str) -> None:
        self.budget = budget
        self.qps = qps
        self.period = SLACK
        self.limit = limit  # what the wait is for, in the words of the budget's messages
        self.sent: dict[str, list[_Call]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._widened = -float("inf")  # when the last refusal lengthened the windows

    async def wait(self, key: str) -> Left:
        """Return when one more call under `key` stays within the quota; count it as sent
        now, or from when the returned function is called (when the request has left)."""
        # One lock per key: the order of its sends is kept, and a wait for one API's quota
        # never holds up another's calls (listings and orders are read side by side).
        async with self._locks.setdefault(key, asyncio.Lock()):
            window = self.sent.setdefault(key, [])
            while True:
                now = self.budget.clock()
                window[:] = self._recent(key, now)
                if len(window) < self.qps:
                    call = _Call(now)
                    window.append(call)
                    return lambda: self._left(window, call)
                oldest = min(call.at for call in window)
                await self.budget.sleep(self.period - (now - oldest), self.limit)

    def bounced(self, key: str, *, again: bool = False) -> float:
        """The platform refused a call under `key` as over its quota: seconds to wait before
        sending it again (`again`: it was refused before, in this same call).

        It counted more arrivals in its last second than left here in ours: some came in
        later than they left (its queue, the network's jitter). So the windows grow by a
        step, and the call waits a step, or until its window, the longer one, has room: the
        platform's window, behind ours by that jitter, has room by then. The retry still
        goes through `wait`. (A flat second's wait, as "retry in the next second" reads,
        costs a whole window where a step is enough.) A call refused again says more than
        jitter: the platform's limit for `key` may be lower than ours (a limit assumed, or
        another app of the seller's calling too), so it waits a whole window, as the
        platform asks.
        """
        now = self.budget.clock()
        if now - self._widened >= self.period:  # a burst of refusals is one lesson
            self._widened = now
            self.period = min(MOST_SLACK, self.period + STEP)
        if again:
            return self.period
        # The refused call is still in the window (one too many: on the safe side).
        recent = sorted(call.at for call in self._recent(key, now))
        if len(recent) < self.qps:
            return STEP
        return max(STEP, recent[-self.qps] + self.period - now)

    def room(self, key: str) -> int:
        """Calls under `key` that would go now without a wait: the quota less the calls in
        its current window (read only: each call still goes through `wait`)."""
        return max(0, self.qps - len(self._recent(key, self.budget.clock())))

    def _recent(self, key: str, now: float) -> list[_Call]:
        """The calls under `key` still in the window that ends at `now`."""
        # Not always in order (a call marked when it left moves later): at most `qps`
        # entries (and those marked after they aged out), so a scan is cheap.
        return [call for call in self.sent.get(key, ()) if now - call.at < self.period]

    def _left(self, window: list[_Call], call: _Call) -> None:
        call.at = max(call.at, self.budget.clock())
        if not any(entry is call for entry in window):
            # Dropped while it waited to leave (longer than a window): it counts again now.
            window.append(call)


class SplitPools(httpx.AsyncBaseTransport):
    """One client's connections split over several small pools, each request to the least
    busy one.

    A paced marketplace sends a second's quota at once when its window opens, so its client
    keeps about that many connections (50). httpcore 1.0.9 walks every connection of a pool,
    and each idle one's socket (a poll), for each idle one, twice a request
    (`_assign_requests_to_connections`; encode/httpcore#1035 and #929 propose the linear
    walk, unmerged): 0.7 ms a request at 50 connections, 0.8 s of the client's 1.2 s of CPU
    in a 5,000-listing Lazada sync. The walk grows with the square of a pool's size, so five
    pools of ten cost a twenty-fifth of it, with the same connections.
    """

    def __init__(self, pools: Sequence[httpx.AsyncBaseTransport]) -> None:
        self.pools = list(pools)
        self.busy = [0] * len(self.pools)  # requests each pool is carrying, body included

    @classmethod
    def of(cls, connections: int, pools: int, *, verify: ssl.SSLContext) -> SplitPools:
        """`connections` split evenly over `pools` pools of httpx's own transport."""
        size = -(-connections // pools)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        return cls(
            [
                httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=True)
                for _ in range(pools)
            ]
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        n = min(range(len(self.pools)), key=self.busy.__getitem__)
        self.busy[n] += 1
        try:
            response = await self.pools[n].handle_async_request(request)
        except BaseException:
            self.busy[n] -= 1
            raise
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Released(response.stream, self.busy, n),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        # Every pool is closed, even when closing one fails; the first failure is raised.
        closed = await asyncio.gather(
            *(pool.aclose() for pool in self.pools), return_exceptions=True
        )
        for failure in closed:
            if isinstance(failure, BaseException):
                raise failure


class _Released(httpx.AsyncByteStream):
    """A response body that gives its pool's count back once it is closed (the connection
    is free again only then)."""

    def __init__(
        self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, busy: list[int], n: int
    ) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self.stream, self.busy, self.n = stream, busy, n
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.stream:
            yield chunk

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.busy[self.n] -= 1
        await self.stream.aclose()
