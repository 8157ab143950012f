"""TikTok Shop order reads that stop early (a failure, a cancellation, the channel closed)
leave nothing running behind them: no task pending, no request sent afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from omnisync.channels.tiktok import TikTokChannel
from omnisync.errors import ChannelError
from omnisync.models import Order
from tests.channels.conftest import run
from tests.channels.test_tiktok_overlap import Clock, moment, shop_on
from tests.fakes.server import Request, Response
from tests.fakes.tiktok_api import FakeTikTok
from tests.fakes.tiktok_protocol import error

ORDERS = "/order/202309/orders/search"
RETURNS = "/return_refund/202309/returns/search"
LATENCY = 0.03


def by_ids(request: Request) -> list[str]:
    """The order ids a returns search asks about (none: a search by time)."""
    if request.path != RETURNS:
        return []
    ids: list[str] = (request.json() or {}).get("order_ids", [])
    return ids


class Slowed(FakeTikTok):
    """The fake with some requests answered later (`delay`) or refused (`refuse`): a
    non-retried error, as TikTok answers a parameter it rejects."""

    def __init__(
        self,
        *,
        delay: Callable[[Request], float] = lambda request: 0.0,
        refuse: Callable[[Request], bool] = lambda request: False,
    ) -> None:
        super().__init__(latency=LATENCY)
        self.delay = delay
        self.refuse = refuse

    async def handle(self, request: Request) -> Response:
        await asyncio.sleep(self.delay(request))
        if self.refuse(request):
            return error(400, 12019109, "page size is invalid")
        return await super().handle(request)


def later_pages(request: Request) -> float:
    """Order pages after the first come in slowly: the one asked ahead is in flight when the
    read stops."""
    return 10 * LATENCY if request.path == ORDERS and "page_token" in request.query else 0.0


def shipped_orders(fake: FakeTikTok, count: int, since: int) -> list[str]:
    fake.add_product([("TEE", 5000)])
    return [
        fake.add_order([("TEE", 1)], status="DELIVERED", update_time=since + n)
        for n in range(count)
    ]


def left_running() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]


async def requests_after(fake: FakeTikTok) -> int:
    """Requests the fake receives from now until well after anything in flight is answered."""
    sent = len(fake.requests)
    await asyncio.sleep(15 * LATENCY)
    return len(fake.requests) - sent


BASE = int(datetime.now(UTC).timestamp())


def test_a_failed_returns_lookup_fails_the_read_and_stops_what_it_began() -> None:
    # Two pages of shipped orders: page 1's returns are looked up in two batches of 50 ids
    # while page 2 is asked. The first batch is refused; the second has 200 returns (four
    # pages) and would go on paging through them.
    first: list[str] = []
    fake = Slowed(
        delay=later_pages,
        refuse=lambda request: bool(first) and by_ids(request)[:1] == first[:1],
    )
    clock = Clock(BASE)
    ids = shipped_orders(fake, 150, BASE - 1000)
    first.extend(ids[:50])
    for oid in ids[50:100]:
        line = fake.orders[oid]["line_items"][0]["id"]
        for _ in range(4):
            fake.add_return(oid, [line], update_time=BASE - 9000)

    async def go() -> tuple[str, list[asyncio.Task[object]], int]:
        shop = shop_on(fake, fake, clock)
        try:
            with pytest.raises(ChannelError) as failure:
                read = shop.fetch_orders(
                    updated_since=moment(BASE - 3600), updated_until=moment(BASE)
                )
                async for _ in read:
                    pass
            return failure.value.message, left_running(), await requests_after(fake)
        finally:
            await shop.aclose()

    message, running, later = run(go())

    assert "reading returns" in message
    assert running == []
    assert later == 0
    # The second batch's lookup had begun its pages: it was stopped on its way.
    assert sum(1 for r in fake.requests if by_ids(r)[:1] == ids[50:51]) < 4


def test_a_cancelled_order_read_stops_what_it_began() -> None:
    # The engine cancels a channel's read when the other read (the listings) fails: here
    # while page 1's returns are being looked up and page 2 is on its way.
    fake = Slowed(delay=later_pages)
    clock = Clock(BASE)
    shipped_orders(fake, 150, BASE - 1000)

    async def go() -> tuple[list[asyncio.Task[object]], int]:
        shop = shop_on(fake, fake, clock)
        looking_up = asyncio.Event()
        fake.before.append(lambda request: looking_up.set() if by_ids(request) else None)

        async def read() -> list[Order]:
            window = {"updated_since": moment(BASE - 3600), "updated_until": moment(BASE)}
            return [order async for order in shop.fetch_orders(**window)]

        try:
            task = asyncio.create_task(read())
            await looking_up.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return left_running(), await requests_after(fake)
        finally:
            await shop.aclose()

    running, later = run(go())

    assert running == []
    assert later == 0


def test_closing_the_channel_while_its_early_tail_is_read_stops_that_read() -> None:
    # The head is read beside the listings; once they are in, the tail's read begins (two
    # pages of orders shipped since). The channel is closed while it runs, as after a
    # failure elsewhere in the run: nothing of it is left running.
    fake = Slowed(delay=later_pages)
    clock = Clock(BASE)
    shipped_orders(fake, 150, BASE)  # updated in the tail
    clock.at = BASE + 200

    async def go() -> tuple[int, list[asyncio.Task[object]], int]:
        shop: TikTokChannel = shop_on(fake, fake, clock)
        listed = asyncio.Event()
        tail_lookup = asyncio.Event()
        fake.before.append(lambda request: tail_lookup.set() if by_ids(request) else None)
        closed = False

        async def read_head() -> list[Order]:
            window = {"updated_since": moment(BASE - 3600), "updated_until": moment(BASE)}
            return [order async for order in shop.fetch_orders_beside(**window, listed=listed)]

        try:
            head = asyncio.create_task(read_head())
            await shop.list_listings()  # the head's first page is asked meanwhile
            listed.set()
            found = await head
            await tail_lookup.wait()
            closed = True
            await shop.aclose()
            return len(found), left_running(), await requests_after(fake)
        finally:
            if not closed:
                await shop.aclose()

    head, running, later = run(go())

    assert head == 0
    assert running == []
    assert later == 0


def test_a_failed_head_read_stops_the_tail_it_began() -> None:
    # The head's order search is refused while the listings are still being read: the
    # tail's read, waiting for them, is stopped with it, before the failure is reported.
    fake = Slowed(refuse=lambda request: request.path == ORDERS)
    clock = Clock(BASE)

    async def go() -> tuple[list[asyncio.Task[object]], int]:
        shop = shop_on(fake, fake, clock)
        try:
            head = shop.fetch_orders_beside(
                updated_since=moment(BASE - 3600),
                updated_until=moment(BASE),
                listed=asyncio.Event(),  # the listings are never read
            )
            with pytest.raises(ChannelError):
                async for _ in head:
                    pass
            return left_running(), await requests_after(fake)
        finally:
            await shop.aclose()

    running, later = run(go())

    assert running == []
    assert later == 0
    assert [r.path for r in fake.requests].count(ORDERS) == 1
