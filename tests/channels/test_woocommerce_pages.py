"""WooCommerce pages asked side by side once X-WP-TotalPages is known: all read, once, in order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from omnisync.channels.woocommerce import PAGE
from omnisync.models import Listing, Order
from tests.channels.conftest import run, woo_channel
from tests.fakes.server import Request, Response
from tests.fakes.woocommerce_api import FakeWoo

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)


class LatePageWoo(FakeWoo):
    """A shop whose page 2 of every collection is answered last (a slow database page)."""

    def __init__(self, *, delay: float = 0.2) -> None:
        super().__init__(latency=0.01)
        self.delay = delay
        self.events: list[tuple[str, str, str]] = []  # (asked | answered, path, page)

    async def handle(self, request: Request) -> Response:
        page = request.query.get("page", "")
        self.events.append(("asked", request.path, page))
        if request.method == "GET" and page == "2":
            await asyncio.sleep(self.delay)
        response = await super().handle(request)
        self.events.append(("answered", request.path, page))
        return response

    def overlapped(self, path: str) -> bool:
        """Whether page 3 of `path` was asked for before page 2 was answered."""
        return self.events.index(("asked", path, "3")) < self.events.index(("answered", path, "2"))


def test_product_pages_come_side_by_side_and_are_read_in_order() -> None:
    woo = LatePageWoo()
    count = PAGE * 2 + 50  # three pages
    ids = [woo.add_product(f"SKU-{n:03d}", n) for n in range(count)]

    async def go() -> list[Listing]:
        async with woo_channel(woo) as channel:
            return await channel.list_listings()

    listings = run(go())

    assert [(listing.id, listing.channel_sku, listing.quantity) for listing in listings] == [
        (str(pid), f"SKU-{n:03d}", n) for n, pid in enumerate(ids)
    ]
    assert woo.overlapped("/wp-json/wc/v3/products")
    # One request a page, no more.
    assert [page for what, _, page in woo.events if what == "asked"] == ["1", "2", "3"]


def test_order_pages_come_side_by_side_and_each_order_arrives_once() -> None:
    woo = LatePageWoo()
    woo.add_product("TEE-M", 1000)
    count = PAGE * 2 + 7
    orders = [
        woo.add_order([("TEE-M", 1)], modified=f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}")
        for n in range(count)
    ]

    async def go() -> list[Order]:
        async with woo_channel(woo) as channel:
            await channel.list_listings()
            woo.events.clear()
            return [o async for o in channel.fetch_orders(updated_since=SINCE, updated_until=UNTIL)]

    got = run(go())

    assert [order.id for order in got] == [str(oid) for oid in orders]
    assert woo.overlapped("/wp-json/wc/v3/orders")


def test_orders_placed_during_the_walk_are_followed_past_the_pages_announced() -> None:
    woo = LatePageWoo()
    woo.add_product("TEE-M", 1000)
    first = [
        woo.add_order([("TEE-M", 1)], modified=f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}")
        for n in range(PAGE * 2)
    ]
    late: list[int] = []

    def new_orders(request: Request) -> None:
        if request.path.endswith("/orders") and request.query.get("page") == "2" and not late:
            # Customers keep buying while page 2 is read: a page more than page 1 announced.
            late.extend(
                woo.add_order([("TEE-M", 1)], modified=f"2026-11-20T11:00:{n:02d}")
                for n in range(30)
            )

    woo.before.append(new_orders)

    async def go() -> list[Order]:
        async with woo_channel(woo) as channel:
            await channel.list_listings()
            return [o async for o in channel.fetch_orders(updated_since=SINCE, updated_until=UNTIL)]

    got = run(go())

    assert [order.id for order in got] == [str(oid) for oid in first + late]
