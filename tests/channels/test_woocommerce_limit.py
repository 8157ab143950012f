"""How many requests the WooCommerce adapter sends a host at once: more to a host with room,
never many over a host's worker cap, and no write lost to its refusals."""

from __future__ import annotations

import asyncio
import time

import pytest

from omnisync.channels.woocommerce.limit import CEILING, START, AdaptiveLimit, Ticket
from omnisync.models import PushResult, QuantityChange
from tests.channels.conftest import run, woo_channel
from tests.fakes.server import Request, Response
from tests.fakes.woocommerce_api import FakeWoo

PARENTS = 40  # variable products, each its own collection of variations: 40 reads at once
PER_PARENT = 3


def shop(fake: FakeWoo) -> dict[str, tuple[int, int]]:
    """PARENTS variable products of PER_PARENT variations, 10 in stock each: SKU -> ids."""
    ids = {}
    for p in range(PARENTS):
        skus = [f"V-{p}-{n}" for n in range(PER_PARENT)]
        parent, children = fake.add_variable(f"P-{p}", [(sku, 10) for sku in skus])
        ids |= {sku: (parent, child) for sku, child in zip(skus, children, strict=True)}
    return ids


def sync_once(fake: FakeWoo) -> tuple[int, list[PushResult]]:
    """Read every listing, then set each to 7 (one batch per parent); the listings read and
    the push results."""

    async def go() -> tuple[int, list[PushResult]]:
        async with woo_channel(fake) as channel:
            listings = await channel.list_listings()
            changes = [QuantityChange(x.id, x.channel_sku, x.quantity, 7) for x in listings]
            return len(listings), await channel.push_quantities(changes, run_id=1)

    return run(go())


def test_a_host_with_room_gets_more_than_eight_requests_at_once() -> None:
    fake = FakeWoo(latency=0.02)
    shop(fake)
    listings, results = sync_once(fake)
    assert listings == PARENTS * PER_PARENT
    assert fake.peak > START
    assert {r.outcome for r in results} == {"written"}


@pytest.mark.parametrize("status", [508, 503, 502])
def test_a_host_over_its_workers_is_not_overrun_and_no_write_is_lost(status: int) -> None:
    fake = FakeWoo(latency=0.02, workers=5, over_workers=status)
    ids = shop(fake)
    listings, results = sync_once(fake)
    assert listings == PARENTS * PER_PARENT
    assert [r.outcome for r in results] == ["written"] * len(ids)
    assert all(fake.stock(sku) == 7 for sku in ids)
    # Refusals are the limit finding the cap, not a host kept busy refusing: a few in all
    # (the first round over the cap, then one now and then as it probes again; 8 at once
    # without adapting, 3 over the cap, refuse more than a third).
    assert 0 < fake.refused <= len(fake.requests) // 6


def test_a_host_that_queues_stops_the_limit_growing() -> None:
    fake = FakeWoo(latency=0.05, workers=5, over_workers=None)
    shop(fake)

    async def go() -> float:
        async with woo_channel(fake) as channel:
            await channel.list_listings()
            return channel.rest.limit.limit

    # Requests past the fifth wait a whole answer for a worker, so answers take twice as
    # long: the limit stops growing within a round or two of the cap, short of its ceiling.
    assert run(go()) <= 3 * 5 < CEILING


# -- the rules of the limit, with a clock the test turns ---------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answer(limit: AdaptiveLimit, clock: Clock, seconds: float, *, busy: int) -> None:
    ticket = Ticket(round=limit.cuts, busy=busy, sent=clock.now)
    clock.now += seconds
    limit.answered(ticket, "GET /products")


def test_fast_answers_while_the_limit_is_in_use_double_it_each_round() -> None:
    clock = Clock()
    limit = AdaptiveLimit(start=8, ceiling=64, clock=clock)
    for _ in range(8):  # one round of answers, all 8 places in use
        answer(limit, clock, 0.05, busy=8)
    assert limit.limit == 16


def test_answers_while_few_were_out_or_slow_answers_do_not_grow_it() -> None:
    clock = Clock()
    limit = AdaptiveLimit(start=8, clock=clock)
    answer(limit, clock, 0.05, busy=8)  # 9 now
    answer(limit, clock, 0.05, busy=2)  # 2 of 9 out: says nothing about 9
    answer(limit, clock, 0.5, busy=9)  # ten times the fastest: the host queues
    assert limit.limit == 9


def test_a_refusal_halves_it_once_per_round_and_growth_is_then_slow() -> None:
    clock = Clock()
    limit = AdaptiveLimit(start=8, floor=2, clock=clock)
    out = [Ticket(round=limit.cuts, busy=8) for _ in range(8)]
    for ticket in out:  # eight requests of one round refused together
        limit.overloaded(ticket)
    assert limit.limit == 4
    for _ in range(4):  # a round of fast answers after the cut: one more
        answer(limit, clock, 0.05, busy=4)
    assert 4.9 < limit.limit < 5.1
    for _ in range(3):
        limit.overloaded(Ticket(round=limit.cuts, busy=1))
    assert limit.limit == 2  # never below the floor


def test_a_request_given_up_while_queued_or_retrying_gives_its_place_back() -> None:
    async def go() -> tuple[int, int]:
        limit = AdaptiveLimit(start=2, floor=1)
        async with limit.slot(), limit.slot() as ticket:
            queued = asyncio.ensure_future(limit.slot().__aenter__())
            await asyncio.sleep(0)
            queued.cancel()  # the run failed elsewhere: waiting requests are cancelled
            retrying = asyncio.ensure_future(limit.retry(ticket))
            await asyncio.sleep(0)
            retrying.cancel()
            await asyncio.gather(queued, retrying, return_exceptions=True)
        during = limit.busy
        async with limit.slot():  # nothing leaked: a place is there at once
            pass
        return during, limit.busy

    assert asyncio.run(asyncio.wait_for(go(), timeout=5)) == (0, 0)


@pytest.mark.parametrize("status", [429, 503])
def test_a_write_refused_with_retry_after_is_re_read_before_it_goes_again(status: int) -> None:
    # A 429 (or 503) with Retry-After asks the client to come back later; a customer may buy
    # meanwhile. Sent again as it was, the write would put back the unit sold (10 -> 7 over a
    # shelf at 9); re-read first, the sale shows and the listing is left for the next run.
    # The re-read itself waits as long as the host asked (the test's backoff is far shorter).
    class RefusesTheFirstWrite(FakeWoo):
        refused_at: float | None = None
        re_read_at: float | None = None

        async def handle(self, request: Request) -> Response:
            if request.method == "POST" and request.path.endswith("/batch"):
                if self.refused_at is None:
                    self.refused_at = time.monotonic()
                    self.sell("A", 1)
                    return Response(status, {"code": "too_many_requests"}, {"Retry-After": "0.3"})
            elif self.refused_at is not None and self.re_read_at is None:
                self.re_read_at = time.monotonic()
            return await super().handle(request)

    fake = RefusesTheFirstWrite()
    fake.add_product("A", 10)

    async def go() -> list[PushResult]:
        async with woo_channel(fake) as channel:
            (listing,) = await channel.list_listings()
            change = QuantityChange(listing.id, listing.channel_sku, listing.quantity, 7)
            return await channel.push_quantities([change], run_id=1)

    (result,) = run(go())
    assert fake.stock("A") == 9  # the sale stands
    assert (result.outcome, result.current) == ("conflict", 9)
    posts = [n for n, r in enumerate(fake.requests) if r.method == "POST"]
    assert len(posts) == 1  # the refused write was not sent again over the sale
    assert fake.refused_at is not None and fake.re_read_at is not None
    assert fake.re_read_at - fake.refused_at >= 0.3  # Retry-After was waited out
