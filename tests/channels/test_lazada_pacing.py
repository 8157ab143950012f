"""Lazada at its rate: each API's calls kept under 50 a second, none bounced, all applied."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.lazada_api import FakeLazada
from tests.fakes.lazada_client import HOUR_AGO, SINCE, changes_for, channel, orders_of


def test_a_big_shop_is_read_and_written_under_the_rate_with_nothing_bounced() -> None:
    # 2,550 one-SKU products: 51 product pages, 51 re-reads and 51 stock updates, each API
    # over the 50 calls in any second the fake allows it (901 beyond).
    fake = FakeLazada()
    skus = [f"SKU-{n:04d}" for n in range(2550)]
    ids = {sku: fake.add_product([(sku, 10)])[1][0] for sku in skus}

    async def go() -> Any:
        async with channel(fake) as lazada:
            listings = await lazada.list_listings()
            results = await lazada.push_quantities(changes_for(fake, 6), run_id=1)
            return listings, results

    listings, results = asyncio.run(go())
    assert len(listings) == 2550
    assert {r.outcome for r in results} == {"written"} and len(results) == 2550
    assert all(fake.stock(sku_id) == 6 for sku_id in ids.values())
    assert fake.throttled == 0  # every call waited its turn instead of being refused


def test_many_order_pages_and_items_are_read_once_under_the_rate() -> None:
    fake = FakeLazada()
    sku_id = fake.add_product([("TEE", 5000)])[1][0]
    for n in range(2600):
        fake.add_order([("TEE", sku_id, "pending")], updated=HOUR_AGO + timedelta(seconds=n))

    async def go() -> Any:
        async with channel(fake) as lazada:
            await lazada.list_listings()
            return await orders_of(lazada)

    orders = asyncio.run(go())
    assert len(orders) == 2600 and len({o.id for o in orders}) == 2600
    assert fake.throttled == 0
    items = [r for r in fake.requests if r.path.endswith("/orders/items/get")]
    assert len(items) == 52  # 50 orders a call, each order once


def test_order_items_are_read_while_product_pages_wait_for_their_quota() -> None:
    # 5,000 products: 100 pages, the second 50 held a second for GetProducts' quota. The
    # order items have a quota of their own: they must not queue behind those pages (when
    # the calls in flight were counted for the channel as a whole, the held pages filled
    # every slot and the items waited the whole second).
    fake = FakeLazada()
    sku_id = 0
    for n in range(5000):
        sku_id = fake.add_product([(f"SKU-{n:04d}", 10)])[1][0]
    for n in range(200):
        fake.add_order([("SKU-4999", sku_id, "pending")], updated=HOUR_AGO + timedelta(seconds=n))

    async def go() -> list[Any]:
        async with channel(fake) as lazada:
            listed = asyncio.Event()

            async def listings() -> None:
                await lazada.list_listings()
                listed.set()

            async def orders() -> list[Any]:
                until = datetime.now(UTC) + timedelta(minutes=1)
                window = lazada.fetch_orders_beside(
                    updated_since=SINCE, updated_until=until, listed=listed
                )
                return [order async for order in window]

            return (await asyncio.gather(listings(), orders()))[1]

    assert len(asyncio.run(go())) == 200
    paths = [r.path.removeprefix("/rest") for r in fake.requests]
    first_items = paths.index("/orders/items/get")
    assert paths[:first_items].count("/products/get") <= 50  # within the first window
    assert fake.throttled == 0
