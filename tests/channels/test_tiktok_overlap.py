"""TikTok Shop calls that overlap: a push's writes, the order tail beside the head, returns."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from omnisync.channels.tiktok import TikTokChannel
from omnisync.channels.tiktok.push import STEADY
from omnisync.models import Order, QuantityChange, Status
from tests.channels.conftest import FAST, run
from tests.channels.test_tiktok import settings
from tests.fakes.server import Receive, Request, Scope, Send
from tests.fakes.tiktok_api import FakeTikTok

ORDERS = "/order/202309/orders/search"
LATENCY = 0.05
# Whole seconds, as TikTok stamps orders; the run's clock starts here, and TikTok's follows
# it (see `shop_on`), so how long after import a test runs does not matter.
BASE = int(datetime.now(UTC).timestamp())


def moment(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


class InFlight:
    """The fake behind a counter of the stock writes it is answering at once."""

    def __init__(self, fake: FakeTikTok) -> None:
        self.fake = fake
        self.now = 0
        self.peak = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        writing = "/inventory/update" in scope.get("path", "")
        self.now += writing
        self.peak = max(self.peak, self.now)
        try:
            await self.fake(scope, receive, send)
        finally:
            self.now -= writing


@dataclass
class Clock:
    at: int = BASE

    def now(self) -> datetime:
        return moment(self.at)

    def seconds(self) -> float:
        return float(self.at)


def shop_on(app: Any, fake: FakeTikTok, clock: Clock | None = None) -> TikTokChannel:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    extra: dict[str, Any] = {}
    if clock:
        # TikTok's clock agrees with the run's, as on a machine kept right: it refuses
        # request times over 5 minutes old, and BASE is from when this module was imported.
        fake.clock = clock.seconds
        extra["now"] = clock.now
    return TikTokChannel("tiktok", settings(fake), client=client, policy=FAST, **extra)


def push_all(fake: FakeTikTok, products: int) -> tuple[list[str], InFlight]:
    """Push 7 units to every SKU of a shop of `products` one-SKU products holding 10."""
    for n in range(products):
        fake.add_product([(f"SKU-{n:03d}", 10)])
    flight = InFlight(fake)

    async def go() -> list[str]:
        shop = shop_on(flight, fake)
        try:
            listings = await shop.list_listings()
            changes = [QuantityChange(x.id, x.channel_sku, 10, 7) for x in listings]
            return [result.outcome for result in await shop.push_quantities(changes, run_id=1)]
        finally:
            await shop.aclose()

    return run(go()), flight


def test_a_push_within_a_second_of_quota_writes_every_product_at_once() -> None:
    # 40 products: 40 Update Inventory calls, under TikTok's 50 a second per API, so none
    # has to wait for another's answer (one round trip, not two).
    fake = FakeTikTok(latency=LATENCY)
    outcomes, flight = push_all(fake, 40)

    assert outcomes == ["written"] * 40
    assert all(fake.stock(f"SKU-{n:03d}") == 7 for n in range(40))
    assert flight.peak == 40
    assert fake.throttled == 0


def test_a_push_over_a_second_of_quota_is_spread_and_never_refused() -> None:
    # 60 writes: more than TikTok takes in one second; the fake answers 429 beyond 50 a
    # second by arrival, as TikTok does. None is refused, every one is written.
    fake = FakeTikTok(latency=0.01)
    outcomes, flight = push_all(fake, 60)

    assert outcomes == ["written"] * 60
    assert all(fake.stock(f"SKU-{n:03d}") == 7 for n in range(60))
    assert fake.throttled == 0
    assert flight.peak <= STEADY


def test_a_push_right_after_a_full_burst_is_spread_not_burst_again() -> None:
    # A settle pass pushes again within the second: the quota's window is full of the first
    # push's 50 writes, so the second's 40 are released as those age out, and sent all at
    # once they would arrive among the first's late arrivals (answered 429 by TikTok).
    fake = FakeTikTok(latency=LATENCY)
    for n in range(90):
        fake.add_product([(f"SKU-{n:03d}", 10)])
    flight = InFlight(fake)

    async def go() -> tuple[list[str], int]:
        shop = shop_on(flight, fake)
        try:
            listings = await shop.list_listings()
            changes = [QuantityChange(x.id, x.channel_sku, 10, 7) for x in listings]
            first = await shop.push_quantities(changes[:50], run_id=1)
            flight.peak = 0
            second = await shop.push_quantities(changes[50:], run_id=1)
            return [result.outcome for result in first + second], flight.peak
        finally:
            await shop.aclose()

    outcomes, peak = run(go())

    assert outcomes == ["written"] * 90
    assert all(fake.stock(f"SKU-{n:03d}") == 7 for n in range(90))
    assert peak <= STEADY
    assert fake.throttled == 0


def window_of(request: Request) -> tuple[int, int]:
    body = request.json()
    return body["update_time_ge"], body["update_time_lt"]


def read_beside(
    fake: FakeTikTok, clock: Clock, *, tail_until: Any = None, tail_since: int = BASE
) -> tuple[list[Order], list[Order]]:
    """The engine's two-part read (ReadsOrdersBesideListings): the head `[since, began)`
    beside the listings, then the tail `[began, when the listings were read)`."""

    async def go() -> tuple[list[Order], list[Order]]:
        shop = shop_on(fake, fake, clock)
        try:
            listed = asyncio.Event()
            began = clock.now()
            closed: list[datetime] = []

            async def listings() -> None:
                await shop.list_listings()
                closed.append(clock.now())
                listed.set()

            async def head() -> list[Order]:
                since = moment(BASE - 3600)
                read = shop.fetch_orders_beside(
                    updated_since=since, updated_until=began, listed=listed
                )
                return [order async for order in read]

            first, _ = await asyncio.gather(head(), listings())
            until = tail_until() if tail_until else closed[0]
            tail = shop.fetch_orders(updated_since=moment(tail_since), updated_until=until)
            return first, [order async for order in tail]
        finally:
            await shop.aclose()

    return run(go())


def sale_while_listing(fake: FakeTikTok, clock: Clock, at: int) -> list[str]:
    """As the listings' page is asked for, a buyer orders (updated at `at`) and the clock
    moves on 10 s; the list gets the order's id."""
    added: list[str] = []

    def hook(request: Request) -> None:
        if request.path.endswith("/products/search") and not added:
            added.append(fake.add_order([("TEE", 1)], update_time=at, create_time=at))
            clock.at = BASE + 10

    fake.before.append(hook)
    return added


def test_the_tail_is_read_beside_the_heads_last_pages_and_holds_the_late_sale() -> None:
    fake = FakeTikTok(latency=LATENCY)
    fake.add_product([("TEE", 500)])  # one listings page, three order pages
    for n in range(250):
        fake.add_order([("TEE", 1)], update_time=BASE - 1000 + n)
    clock = Clock()
    late = sale_while_listing(fake, clock, BASE + 5)

    head, tail = read_beside(fake, clock)

    assert len(head) == 250
    assert [order.id for order in tail] == late
    searches = [r for r in fake.requests if r.path == ORDERS]
    # The head's three pages and one tail page: the tail the engine asks for is not read again.
    tails = [n for n, r in enumerate(searches) if window_of(r)[0] == BASE]
    assert len(searches) == 4 and len(tails) == 1
    # Sent once the listings were read, before the head's last page was asked for.
    assert tails[0] < 3
    assert window_of(searches[tails[0]]) == (BASE, BASE + 10)


def test_a_tail_that_ends_later_than_the_one_read_early_is_read_again() -> None:
    # The run closes its window at BASE + 20 (its clock moved on after the listings were
    # read): the early read ended at BASE + 10, so an order updated at BASE + 15 would be
    # lost if it stood in for the window asked.
    fake = FakeTikTok(latency=0.01)
    fake.add_product([("TEE", 500)])
    clock = Clock()
    sale_while_listing(fake, clock, BASE + 5)

    def later() -> datetime:
        clock.at = BASE + 20
        fake.add_order([("TEE", 1)], update_time=BASE + 15, create_time=BASE + 15)
        return clock.now()

    _, tail = read_beside(fake, clock, tail_until=later)

    assert sorted(order.updated_at for order in tail) == [moment(BASE + 5), moment(BASE + 15)]
    windows = [window_of(r) for r in fake.requests if r.path == ORDERS]
    assert windows[-1] == (BASE, math.ceil(BASE + 20))


def test_a_tail_that_starts_elsewhere_than_the_one_read_early_is_read_afresh() -> None:
    # The tail is asked from BASE - 5, not from where the head ended (BASE): the early read
    # lacks the sale at BASE - 3, so it is dropped and the window asked is read.
    fake = FakeTikTok(latency=0.01)
    fake.add_product([("TEE", 500)])
    before = fake.add_order([("TEE", 1)], update_time=BASE - 3, create_time=BASE - 3)
    clock = Clock()
    late = sale_while_listing(fake, clock, BASE + 5)

    _, tail = read_beside(fake, clock, tail_since=BASE - 5)

    assert [order.id for order in tail] == [before, *late]
    windows = [window_of(r) for r in fake.requests if r.path == ORDERS]
    assert windows[-1] == (BASE - 5, BASE + 10)


class Answered:
    """The fake behind a log of when each request was answered, by its place in the log."""

    def __init__(self, fake: FakeTikTok) -> None:
        self.fake = fake
        self.at: dict[int, float] = {}
        self.came: dict[int, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        place = len(self.fake.requests)  # the fake logs it next, before its latency
        self.came[place] = time.monotonic()
        await self.fake(scope, receive, send)
        self.at[place] = time.monotonic()


def test_the_next_order_page_is_asked_while_this_pages_returns_are() -> None:
    # Three pages of shipped orders: each page's returns are looked up by its order ids.
    fake = FakeTikTok(latency=LATENCY)
    fake.add_product([("TEE", 500)])
    ids = [
        fake.add_order([("TEE", 1)], status="DELIVERED", update_time=BASE - 1000 + n)
        for n in range(250)
    ]
    # Returned long ago: only the lookup by order id finds it.
    fake.add_return(ids[0], [fake.orders[ids[0]]["line_items"][0]["id"]], update_time=BASE - 9000)
    log = Answered(fake)

    async def go() -> list[Order]:
        shop = shop_on(log, fake, Clock())
        try:
            read = shop.fetch_orders(updated_since=moment(BASE - 3600), updated_until=moment(BASE))
            return [order async for order in read]
        finally:
            await shop.aclose()

    orders = run(go())

    assert len(orders) == 250
    first = next(order for order in orders if order.id == ids[0])
    assert first.line_status(first.lines[0]) is Status.RETURNED
    pages = [n for n, r in enumerate(fake.requests) if r.path == ORDERS]
    by_ids = [n for n, r in enumerate(fake.requests) if (r.json() or {}).get("order_ids")]
    # Page 2 was asked for before page 1's returns were answered, and so on.
    assert len(pages) == 3 and len(by_ids) == 2 + 2 + 1  # 50 ids a lookup
    assert log.came[pages[1]] < min(log.at[n] for n in by_ids[:2])
    assert log.came[pages[2]] < min(log.at[n] for n in by_ids[2:4])
