"""Lazada at its rate: each API's calls kept under 50 a second, none bounced, all applied."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.fakes.lazada_api import FakeLazada
from tests.fakes.lazada_client import HOUR_AGO, changes_for, channel, orders_of


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
