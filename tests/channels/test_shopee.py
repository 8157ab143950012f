"""The Shopee adapter against a fake Shopee: listings, orders, returns and pushes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from omnisync.models import Order, QuantityChange, Status
from tests.fakes.server import Fault
from tests.fakes.shopee_api import FakeShopee
from tests.fakes.shopee_channel import shopee_channel

T = TypeVar("T")
DAY = 86400


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def at(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


async def orders_of(fake: FakeShopee, since: float, until: float, **kw: Any) -> list[Order]:
    async with shopee_channel(fake, **kw) as channel:
        await channel.list_listings()
        return [
            o async for o in channel.fetch_orders(updated_since=at(since), updated_until=at(until))
        ]


def calls(fake: FakeShopee, path: str) -> list[dict[str, str]]:
    return [r.query for r in fake.requests if r.path == path]


# -- listings --------------------------------------------------------------------------------


def test_listings_page_through_items_and_models_with_skus_and_seller_stock() -> None:
    fake = FakeShopee()
    simple = [fake.add_item(f"SKU-{n:03d}", n) for n in range(130)]
    shirts = fake.add_variations("TEE", [("TEE-S", 4), ("TEE-M", 5), ("", 6)])
    no_sku = fake.add_item("", 9)

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            return await channel.list_listings()

    listings = {listing.id: listing for listing in run(go())}
    assert len(listings) == 130 + 3 + 1
    assert listings[simple[7]].channel_sku == "SKU-007" and listings[simple[7]].quantity == 7
    # A model's SKU is its own, never the parent's item SKU.
    assert [listings[i].channel_sku for i in shirts] == ["TEE-S", "TEE-M", ""]
    assert [listings[i].quantity for i in shirts] == [4, 5, 6]
    assert listings[no_sku].channel_sku == ""
    pages = calls(fake, "/api/v2/product/get_item_list")
    assert [p["offset"] for p in pages] == ["0", "100"]
    assert all(p["page_size"] == "100" for p in pages)
    # 132 items read 50 at a time.
    batches = calls(fake, "/api/v2/product/get_item_base_info")
    assert sorted(len(b["item_id_list"].split(",")) for b in batches) == [32, 50, 50]


def test_listings_include_unlisted_items() -> None:
    fake = FakeShopee()
    listed = fake.add_item("A", 1)
    hidden = fake.add_item("B", 2)
    fake.items[int(hidden.split("/")[0])].status = "UNLIST"
    banned = fake.add_item("C", 3)
    fake.items[int(banned.split("/")[0])].status = "BANNED"

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            return await channel.list_listings()

    assert {listing.id for listing in run(go())} == {listed, hidden}


# -- orders ----------------------------------------------------------------------------------


def test_orders_in_the_window_are_read_with_their_lines_and_statuses() -> None:
    now = time.time()
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    mug_models = fake.add_variations("MUG", [("MUG-RED", 5), ("MUG-BLUE", 5)])
    sn = fake.add_order([(tee, 3), (mug_models[1], 1)], status="SHIPPED", updated=int(now) - 60)
    fake.add_order([(tee, 1)], status="UNPAID", updated=int(now) - 3 * DAY)  # before the window

    orders = run(orders_of(fake, now - DAY, now + 1))
    assert [o.id for o in orders] == [sn]
    order = orders[0]
    assert order.status is Status.SHIPPED
    assert [(line.channel_sku, line.quantity) for line in order.lines] == [
        ("TEE", 3),
        ("MUG-BLUE", 1),
    ]
    # The detail call asked for item_list: without it Shopee sends no lines.
    detail = calls(fake, "/api/v2/order/get_order_detail")[0]
    assert "item_list" in detail["response_optional_fields"].split(",")


def test_order_list_pages_by_cursor_and_details_come_fifty_at_a_time() -> None:
    now = int(time.time())
    fake = FakeShopee()
    tee = fake.add_item("TEE", 500)
    for n in range(130):
        fake.add_order([(tee, 1)], updated=now - 1000 + n)

    orders = run(orders_of(fake, now - DAY, now + 1))
    assert len({o.id for o in orders}) == 130
    pages = calls(fake, "/api/v2/order/get_order_list")
    assert [p["cursor"] for p in pages] == ["", "100"]
    assert all(p["time_range_field"] == "update_time" for p in pages)
    details = calls(fake, "/api/v2/order/get_order_detail")
    assert sorted(len(d["order_sn_list"].split(",")) for d in details) == [30, 50, 50]


def test_a_gap_longer_than_fifteen_days_is_walked_in_slices() -> None:
    now = int(time.time())
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    early = fake.add_order([(tee, 1)], updated=now - 39 * DAY)
    middle = fake.add_order([(tee, 1)], updated=now - 20 * DAY)
    late = fake.add_order([(tee, 1)], updated=now - DAY)

    orders = run(orders_of(fake, now - 40 * DAY, now))
    assert {o.id for o in orders} == {early, middle, late}
    for path in ("/api/v2/order/get_order_list", "/api/v2/returns/get_return_list"):
        spans = calls(fake, path)
        keys = (
            ("time_from", "time_to") if "order" in path else ("update_time_from", "update_time_to")
        )
        ranges = sorted((int(q[keys[0]]), int(q[keys[1]])) for q in spans)
        assert len(ranges) == 3
        assert all(end - start <= 15 * DAY for start, end in ranges)
        assert ranges[0][0] == now - 40 * DAY and ranges[-1][1] >= now - 1
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_one_model_bought_on_two_lines_keeps_two_lines_that_add_up() -> None:
    now = int(time.time())
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    sn = fake.add_order([(tee, 2), (tee, 3)], updated=now - 10)

    first = run(orders_of(fake, now - DAY, now + 1))[0]
    again = run(orders_of(fake, now - DAY, now + 1))[0]
    assert sum(line.quantity for line in first.lines) == 5
    assert len({line.id for line in first.lines}) == 2
    assert [line.id for line in first.lines] == [line.id for line in again.lines]
    assert first.id == sn


def test_a_line_without_sku_maps_through_the_listing_ids_read_this_run() -> None:
    now = int(time.time())
    fake = FakeShopee()
    item = fake.add_variations("", [("", 4)])[0]
    sn = fake.add_order([(item, 1)], updated=now - 10)
    fake.model(item).sku = "TEE-NOW"  # the seller gave the model a SKU after the sale

    order = run(orders_of(fake, now - DAY, now + 1))[0]
    assert order.id == sn and order.lines[0].channel_sku == "TEE-NOW"


def test_a_finished_return_of_goods_adds_a_returned_line_even_for_an_old_order() -> None:
    now = int(time.time())
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    sn = fake.add_order([(tee, 3)], status="COMPLETED", updated=now - 20 * DAY)
    fake.add_return(sn, [(tee, 2)], updated=now - 100)

    orders = run(orders_of(fake, now - DAY, now + 1))
    assert [o.id for o in orders] == [sn]
    lines = {(line.quantity, line.status) for line in orders[0].lines}
    assert lines == {(1, None), (2, Status.RETURNED)}
    assert orders[0].status is Status.COMPLETED


def test_an_order_re_read_after_its_return_keeps_the_returned_line() -> None:
    now = int(time.time())
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    sn = fake.add_order([(tee, 3)], status="COMPLETED", updated=now - 60, created=now - 30 * DAY)
    # Returned (goods back) ten days ago, read by that day's run; the order changed since.
    fake.add_return(sn, [(tee, 2)], updated=now - 10 * DAY, created=now - 20 * DAY)

    (order,) = run(orders_of(fake, now - DAY, now + 1))
    assert {(line.quantity, line.status) for line in order.lines} == {
        (1, None),
        (2, Status.RETURNED),
    }
    by_creation = [
        q for q in calls(fake, "/api/v2/returns/get_return_list") if "create_time_from" in q
    ]
    assert by_creation and all(
        int(q["create_time_to"]) - int(q["create_time_from"]) <= 15 * DAY for q in by_creation
    )


def test_orders_without_returned_units_cost_no_return_look_up() -> None:
    now = int(time.time())
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    fake.add_order([(tee, 3)], status="COMPLETED", updated=now - 60, created=now - 30 * DAY)

    run(orders_of(fake, now - DAY, now + 1))
    assert len(calls(fake, "/api/v2/returns/get_return_list")) == 1  # the window's own


@pytest.mark.parametrize(
    ("needs_logistics", "solution", "status"),
    [(False, 0, "ACCEPTED"), (True, 1, "ACCEPTED"), (True, 0, "PROCESSING")],
)
def test_refund_only_or_unfinished_returns_bring_nothing_back(
    needs_logistics: bool, solution: int, status: str
) -> None:
    now = int(time.time())
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    sn = fake.add_order([(tee, 3)], status="COMPLETED", updated=now - 60)
    fake.add_return(
        sn,
        [(tee, 3)],
        status=status,
        updated=now - 30,
        needs_logistics=needs_logistics,
        solution=solution,
    )

    order = run(orders_of(fake, now - DAY, now + 1))[0]
    assert [(line.quantity, line.status) for line in order.lines] == [(3, None)]
    assert order.status is Status.COMPLETED


# -- push ------------------------------------------------------------------------------------


def test_push_writes_each_item_in_calls_of_at_most_fifty_models() -> None:
    fake = FakeShopee()
    models = fake.add_variations("BIG", [(f"BIG-{n}", 10) for n in range(60)])
    singles = [fake.add_item(f"ONE-{n}", 10) for n in range(3)]

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()
            changes = [QuantityChange(i, "x", 10, 7) for i in models + singles]
            return await channel.push_quantities(changes, run_id=1)

    results = run(go())
    assert {r.outcome for r in results} == {"written"} and len(results) == 63
    assert all(fake.stock(i) == 7 for i in models + singles)
    writes = [r.json() for r in fake.requests if r.path == "/api/v2/product/update_stock"]
    assert sorted(len(w["stock_list"]) for w in writes) == [1, 1, 1, 10, 50]
    assert all(len({w["item_id"]}) == 1 for w in writes)
    assert all("location_id" not in w["stock_list"][0]["seller_stock"][0] for w in writes)


def test_a_model_held_by_promotion_stock_fails_alone_with_shopees_reason() -> None:
    fake = FakeShopee()
    held, free = fake.add_variations("TEE", [("TEE-S", 10), ("TEE-M", 10)])
    fake.model(held).reserved = 5

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()
            return await channel.push_quantities(
                [QuantityChange(held, "TEE-S", 10, 2), QuantityChange(free, "TEE-M", 10, 2)],
                run_id=1,
            )

    results = {r.listing_id: r for r in run(go())}
    assert results[free].outcome == "written" and fake.stock(free) == 2
    assert results[held].outcome == "failed" and fake.stock(held) == 10
    assert "reserved stock" in results[held].detail


def test_a_sale_between_read_and_write_is_a_conflict_and_not_overwritten() -> None:
    fake = FakeShopee()
    tee, mug = fake.add_item("TEE", 10), fake.add_item("MUG", 10)

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()
            fake.model(tee).stock -= 1  # a buyer takes one on Shopee after omnisync read it
            return await channel.push_quantities(
                [QuantityChange(tee, "TEE", 10, 8), QuantityChange(mug, "MUG", 10, 8)], run_id=1
            )

    results = {r.listing_id: r for r in run(go())}
    assert results[tee].outcome == "conflict" and results[tee].current == 9
    assert fake.stock(tee) == 9
    assert results[mug].outcome == "written" and fake.stock(mug) == 8


def test_a_model_missing_from_the_answer_is_re_read_before_it_is_called_written() -> None:
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    fake.fail_next(
        Fault(
            status=200,
            body={"error": "", "message": "", "response": {"success_list": [], "failure_list": []}},
            match="update_stock",
        )
    )

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()
            return await channel.push_quantities([QuantityChange(tee, "TEE", 10, 4)], run_id=1)

    (result,) = run(go())
    assert result.outcome == "failed" and "shows 10" in result.detail
    assert len(calls(fake, "/api/v2/product/get_item_base_info")) == 3  # list, re-read, settle


def test_a_multi_warehouse_seller_reads_and_writes_its_location() -> None:
    fake = FakeShopee(location_id="IDZ01")
    tee = fake.add_item("TEE", 10)

    async def go(**kw: Any) -> Any:
        async with shopee_channel(fake, **kw) as channel:
            await channel.list_listings()
            return await channel.push_quantities([QuantityChange(tee, "TEE", 10, 6)], run_id=1)

    (without,) = run(go())
    assert without.outcome == "failed" and "location_id" in without.detail
    (with_location,) = run(go(location_id="IDZ01"))
    assert with_location.outcome == "written" and fake.stock(tee) == 6
    last = [r.json() for r in fake.requests if r.path.endswith("update_stock")][-1]
    assert last["stock_list"][0]["seller_stock"] == [{"location_id": "IDZ01", "stock": 6}]


def test_probe_names_the_shop_and_what_the_token_may_do() -> None:
    fake = FakeShopee()

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            return await channel.probe()

    probe = run(go())
    text = "\n".join(probe.messages)
    assert probe.ok, text
    assert "Toko Fake" in text and "read products" in text and "orders" in text


def test_old_timestamps_are_not_used_for_windows() -> None:
    # The 15-day limit also holds for a window that ends a fraction of a second past a second.
    now = time.time()
    since = now - 15 * DAY - 0.5
    fake = FakeShopee()
    run(orders_of(fake, since, now))
    for query in calls(fake, "/api/v2/order/get_order_list"):
        assert int(query["time_to"]) - int(query["time_from"]) <= 15 * DAY
    assert now - timedelta(0).total_seconds() > 0


def test_an_item_deleted_before_the_write_fails_alone() -> None:
    fake = FakeShopee()
    gone, kept = fake.add_item("GONE", 10), fake.add_item("KEPT", 10)
    shirt = fake.add_variations("TEE", [("TEE-S", 10)])[0]

    async def go() -> Any:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()
            del fake.items[int(gone.split("/")[0])]
            del fake.items[int(shirt.split("/")[0])]
            return await channel.push_quantities(
                [QuantityChange(i, "x", 10, 5) for i in (gone, kept, shirt)], run_id=1
            )

    results = {r.listing_id: r.outcome for r in run(go())}
    assert results == {gone: "failed", kept: "written", shirt: "failed"}
    assert fake.stock(kept) == 5
