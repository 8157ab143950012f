"""Shopee at its rate: every call kept under the shop's quota, pages and details overlapped."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from omnisync.models import QuantityChange
from tests.fakes.server import Fault
from tests.fakes.shopee_api import FakeShopee
from tests.fakes.shopee_channel import shopee_channel


def calls(fake: FakeShopee, path: str) -> list[dict[str, str]]:
    return [r.query for r in fake.requests if r.path == path]


def test_a_push_of_many_items_is_paced_under_the_rate_and_writes_every_item() -> None:
    # 120 items, one update_stock each, plus the reads: well over the fake's 50 calls in any
    # second, which it answers error_rate_limit past.
    fake = FakeShopee(rate=50)
    items = [fake.add_item(f"SKU-{n:03d}", 10) for n in range(120)]

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()
            changes = [QuantityChange(i, f"SKU-{n:03d}", 10, 4) for n, i in enumerate(items)]
            return await channel.push_quantities(changes, run_id=1)

    results = asyncio.run(go())
    assert {r.outcome for r in results} == {"written"} and len(results) == 120
    assert all(fake.stock(i) == 4 for i in items)
    assert fake.throttled == 0  # none bounced: each call waited its turn instead
    assert len(calls(fake, "/api/v2/product/update_stock")) == 120


def test_a_rate_limit_answer_is_waited_out_and_the_call_retried() -> None:
    fake = FakeShopee()
    item = fake.add_item("TEE", 10)
    limited = {"error": "error_rate_limit", "message": "Too many requests."}
    fake.fail_next(Fault(status=429, body=limited, match="update_stock"))

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()
            return await channel.push_quantities([QuantityChange(item, "TEE", 10, 3)], run_id=1)

    [result] = asyncio.run(go())
    assert result.outcome == "written" and fake.stock(item) == 3
    assert len(calls(fake, "/api/v2/product/update_stock")) == 2  # refused once, then written


def test_item_pages_after_the_first_are_read_side_by_side_and_none_is_missed() -> None:
    fake = FakeShopee()
    items = [fake.add_item(f"SKU-{n:03d}", n) for n in range(250)]

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            return await channel.list_listings()

    listings = asyncio.run(go())
    assert sorted(listing.id for listing in listings) == sorted(items)
    pages = calls(fake, "/api/v2/product/get_item_list")
    assert sorted(int(p["offset"]) for p in pages) == [0, 100, 200]
    details = calls(fake, "/api/v2/product/get_item_base_info")
    assert sorted(len(d["item_id_list"].split(",")) for d in details) == [50, 50, 50, 50, 50]


def test_items_added_while_the_pages_are_read_are_followed_to_the_end() -> None:
    # The first page counts 150 items; by the time the last page is read there are 230: the
    # adapter follows next_offset past what the first page promised.
    fake = FakeShopee()
    for n in range(150):
        fake.add_item(f"SKU-{n:03d}", 1)
    added = False
    original = fake._item_list

    def grow(request: Any) -> dict[str, Any]:
        nonlocal added
        if request.query.get("offset") == "100" and not added:
            added = True
            for n in range(150, 230):
                fake.add_item(f"SKU-{n:03d}", 1)
        return original(request)

    fake._item_list = grow  # type: ignore[method-assign]

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            return await channel.list_listings()

    listings = asyncio.run(go())
    assert len({listing.id for listing in listings}) == 230


def test_each_order_page_is_detailed_as_it_comes_and_every_order_applies_once() -> None:
    now = int(time.time())
    fake = FakeShopee()
    tee = fake.add_item("TEE", 500)
    for n in range(250):
        fake.add_order([(tee, 1)], updated=now - 1000 + n)

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()
            return [
                order
                async for order in channel.fetch_orders(
                    updated_since=datetime.fromtimestamp(now - 3600, UTC),
                    updated_until=datetime.fromtimestamp(now + 1, UTC),
                )
            ]

    orders = asyncio.run(go())
    assert len(orders) == 250 and len({o.id for o in orders}) == 250
    assert all(sum(line.quantity for line in o.lines) == 1 for o in orders)
    details = calls(fake, "/api/v2/order/get_order_detail")
    asked = [sn for d in details for sn in d["order_sn_list"].split(",")]
    assert len(asked) == 250 and len(set(asked)) == 250  # no order detailed twice
    assert len(details) == 5  # 50 a call: pages of 100, 100 and 50
