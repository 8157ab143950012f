"""The Lazada adapter against the fake Lazada: listings, orders, pushes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from omnisync.ledger import Ledger
from omnisync.models import Status
from tests.channels.conftest import run
from tests.fakes.lazada_api import FakeLazada
from tests.fakes.lazada_client import (
    HOUR_AGO,
    SINCE,
    changes_for,
    channel,
    orders_of,
)
from tests.fakes.server import Fault


@pytest.fixture
def fake() -> FakeLazada:
    return FakeLazada()


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(tmp_path / "inventory.db", write=True) as opened:
        yield opened


# -- listings ------------------------------------------------------------------------------


def test_listings_are_read_page_by_page_with_platform_ids(fake: FakeLazada) -> None:
    ids = {}
    for n in range(120):  # 120 products: three pages of the documented 50
        item, (sku_id,) = fake.add_product([(f"SKU-{n:03d}", n)])
        ids[f"SKU-{n:03d}"] = (item, sku_id)
    item, (with_sku, without) = fake.add_product([("TEE-M", 4), ("", 7)])

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.list_listings()

    listings = {listing.id: listing for listing in run(go())}
    assert len(listings) == 122
    first = listings[f"{ids['SKU-007'][0]}/{ids['SKU-007'][1]}"]
    assert (first.channel_sku, first.quantity) == ("SKU-007", 7)
    assert listings[f"{item}/{with_sku}"].channel_sku == "TEE-M"
    assert listings[f"{item}/{without}"].channel_sku == ""  # not managed, never written
    pages = [r for r in fake.requests if r.path.removeprefix("/rest") == "/products/get"]
    assert sorted(int(r.query["offset"]) for r in pages) == [0, 50, 100]
    assert {r.query["limit"] for r in pages} == {"50"} and {r.query["filter"] for r in pages} == {
        "all"
    }


@pytest.mark.parametrize("warehouses", [True, False])
def test_a_listing_shows_what_buyers_can_buy_not_the_total(
    fake: FakeLazada, warehouses: bool
) -> None:
    # 9 on the shelf; 2 held by an unpaid order, 1 by a paid one: Lazada's `quantity` is the
    # total 9 (lazop-2-0-overview.md), buyers can buy 6 (inventory-calculation-logic.md).
    item, (sku_id,) = fake.add_product([("MUG", 9)], warehouses=warehouses)
    fake.sell(sku_id, 2)
    fake.sell(sku_id, 1, paid=True)
    assert fake.total(sku_id) == 9

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.list_listings()

    (listing,) = run(go())
    assert (listing.id, listing.quantity) == (f"{item}/{sku_id}", 6)


# -- orders --------------------------------------------------------------------------------


def test_orders_come_in_the_window_with_one_line_per_unit(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    two = fake.add_order(
        [("TEE-M", tee, "pending"), ("TEE-M", tee, "pending"), ("MUG", mug, "canceled")],
        updated=HOUR_AGO,
    )
    fake.add_order([("MUG", mug, "delivered")], updated=SINCE - timedelta(hours=1))  # too old

    async def go() -> Any:
        async with channel(fake) as lazada:
            first = await orders_of(lazada)
            again = await orders_of(lazada)
            return first, again

    first, again = run(go())
    assert [o.id for o in first] == [two]
    (order,) = first
    tees = [line for line in order.lines if line.channel_sku == "TEE-M"]
    assert [line.quantity for line in tees] == [1, 1]  # two units add up to 2
    assert len({line.id for line in order.lines}) == 3
    assert [order.line_status(line) for line in order.lines].count(Status.CANCELLED) == 1
    assert order.status is Status.PAID
    assert first == again  # line ids are stable across fetches
    search = next(r for r in fake.requests if r.path.removeprefix("/rest") == "/orders/get")
    assert (search.query["sort_by"], search.query["sort_direction"]) == ("updated_at", "ASC")
    assert datetime.fromisoformat(search.query["update_after"]) == SINCE


def test_pages_of_100_and_item_batches_of_50(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 1000)])
    for n in range(230):
        fake.add_order([("TEE-M", tee, "pending")], updated=HOUR_AGO + timedelta(seconds=n))

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await orders_of(lazada)

    orders = run(go())
    assert len(orders) == 230 and len({o.id for o in orders}) == 230
    pages = [r for r in fake.requests if r.path.removeprefix("/rest") == "/orders/get"]
    assert sorted(int(r.query["offset"]) for r in pages) == [0, 100, 200]
    batches = [r for r in fake.requests if r.path.removeprefix("/rest") == "/orders/items/get"]
    assert len(batches) == 5  # ceil(230 / 50)


def test_a_history_deeper_than_5000_orders_moves_the_window(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 100000)])
    start = HOUR_AGO - timedelta(hours=3)
    for n in range(5250):
        fake.add_order([("TEE-M", tee, "delivered")], updated=start + timedelta(seconds=n))

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await orders_of(lazada, since=start)

    orders = run(go())
    assert len(orders) == 5250 and len({o.id for o in orders}) == 5250
    pages = [r for r in fake.requests if r.path.removeprefix("/rest") == "/orders/get"]
    # getorders.json: offset "Max Size:4500" (the fake refuses more, as Lazada does).
    assert max(int(r.query["offset"]) for r in pages) == 4500
    windows = {r.query["update_after"] for r in pages}
    assert len(windows) == 2  # the second window starts where the first one stopped


def test_an_item_without_seller_sku_maps_to_the_listing_by_sku_id(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    fake.add_order([("TEE-M", tee, "pending")], updated=HOUR_AGO, with_sku=False)

    async def go() -> Any:
        async with channel(fake) as lazada:
            await lazada.list_listings()  # the engine reads listings first
            return await orders_of(lazada)

    (order,) = run(go())
    assert [line.channel_sku for line in order.lines] == ["TEE-M"]


def test_refund_only_returns_never_restock(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    fake.add_order(
        [("TEE-M", tee, "returned"), ("TEE-M", tee, "returned")],
        updated=HOUR_AGO,
        reverse={0: ("7001", "ONLY_REFUND"), 1: ("7002", "RETURN")},
    )

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await orders_of(lazada)

    (order,) = run(go())
    assert [order.line_status(line) for line in order.lines] == [
        Status.COMPLETED,  # the buyer kept the goods
        Status.RETURNED,  # the goods came back; restock_returns decides
    ]


def test_a_return_whose_type_cannot_be_read_never_restocks(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    oid = fake.add_order([("TEE-M", tee, "returned")], updated=HOUR_AGO)
    fake.orders[oid]["items"][0]["reverse_order_id"] = "7999"  # unknown: Lazada answers 106

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await orders_of(lazada)

    (order,) = run(go())
    assert [order.line_status(line) for line in order.lines] == [Status.COMPLETED]


def test_answers_shaped_like_live_captures_are_read_alike(fake: FakeLazada) -> None:
    # Public captures of the live API show numbers for ids and "2018-05-17 09:23:36 +0800"
    # times where the documentation samples show strings and ISO 8601.
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    oid = fake.add_order(
        [("TEE-M", tee, "pending"), ("TEE-M", tee, "canceled")],
        updated=HOUR_AGO,
        reverse={1: ("7001", "CANCEL")},
    )
    fake.legacy_shapes = True

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await orders_of(lazada)

    (order,) = run(go())
    assert order.id == oid and order.updated_at == HOUR_AGO
    assert sorted(order.line_status(line) for line in order.lines) == sorted(
        [Status.PAID, Status.CANCELLED]
    )


def test_requests_carry_the_documented_shapes(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    fake.add_order([("TEE-M", tee, "pending")], updated=HOUR_AGO)
    before = datetime.now(UTC)

    async def go() -> Any:
        async with channel(fake) as lazada:
            await lazada.list_listings()
            await orders_of(lazada)
            return await lazada.push_quantities(changes_for(fake, 4), run_id=1)

    assert [r.outcome for r in run(go())] == ["written"]
    for request in fake.requests:
        # calling-parameters.md: ms since the epoch, HMAC-SHA256, the token of the seller.
        stamp = int(request.query["timestamp"])
        assert abs(stamp / 1000 - before.timestamp()) < 60
        assert request.query["sign_method"] == "sha256"
        assert re.fullmatch(r"[0-9A-F]{64}", request.query["sign"])
    items = next(r for r in fake.requests if r.path.endswith("/orders/items/get"))
    assert re.fullmatch(r"\[\d+(,\d+)*\]", items.query["order_ids"])  # E056: "[1,2]"
    write = next(r for r in fake.requests if r.path.endswith("/product/stock/sellable/update"))
    assert write.method == "POST" and "payload" not in write.query
    assert write.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = dict(parse_qs(write.body.decode()))
    assert form["payload"][0].startswith("<Request><Product><Skus><Sku><ItemId>")


# -- push ----------------------------------------------------------------------------------


def test_push_writes_in_batches_of_50(fake: FakeLazada) -> None:
    for n in range(120):
        fake.add_product([(f"SKU-{n:03d}", 10)])
    changes = changes_for(fake, 3)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = run(go())
    assert {r.outcome for r in results} == {"written"} and len(results) == 120
    assert [len(update) for update in fake.updates] == [50, 50, 20]
    assert {row["quantity"] for p in fake.products.values() for row in p["skus"]} == {3}


def test_a_re_read_cut_at_100_skus_asks_again_for_the_rest(fake: FakeLazada) -> None:
    # Ten products of 20 SKUs: a re-read of 50 SKUs spread over all ten names 200 SKUs, more
    # than the 100 GetProducts returns for `sku_seller_list` (getproducts.json).
    for n in range(10):
        fake.add_product([(f"P{n}-{k:02d}", 10) for k in range(20)])
    changes = [c for c in changes_for(fake, 4) if int(c.channel_sku[-2:]) < 5]
    assert len(changes) == 50

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    assert {r.outcome for r in run(go())} == {"written"}
    assert fake.stock(int(changes[-1].listing_id.split("/")[1])) == 4


def test_a_sale_between_read_and_write_is_a_conflict_not_overwritten(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    changes = changes_for(fake, 6)

    def sell(request: Any) -> None:
        if request.path.endswith("/products/get") and not fake.updates:
            fake.sell(tee, 1)  # a buyer takes one just before omnisync re-reads
            fake.before.clear()

    fake.before.append(sell)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = {r.listing_id.split("/")[1]: r for r in run(go())}
    assert results[str(tee)].outcome == "conflict" and results[str(tee)].current == 9
    assert results[str(mug)].outcome == "written"
    assert fake.stock(tee) == 9 and fake.stock(mug) == 6
    assert fake.total(tee) == 10  # the unit is held, not gone: only sellable moved


def test_a_sku_locked_by_a_campaign_fails_alone_with_lazadas_reason(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    fake.locks[tee] = 5
    changes = changes_for(fake, 2)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = {r.listing_id.split("/")[1]: r for r in run(go())}
    assert results[str(tee)].outcome == "failed"
    assert "Campaign" in results[str(tee)].detail and "501" in results[str(tee)].detail
    assert results[str(mug)].outcome == "written"
    assert fake.stock(tee) == 10 and fake.stock(mug) == 2


def test_after_an_all_or_nothing_501_a_re_read_decides(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    fake.locks[tee] = 5
    fake.atomic_failures = True
    changes = changes_for(fake, 2)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = {r.listing_id.split("/")[1]: r for r in run(go())}
    assert results[str(tee)].outcome == "failed" and results[str(mug)].outcome == "failed"
    assert "not applied" in results[str(mug)].detail
    assert fake.stock(mug) == 10


def test_an_internal_error_on_a_write_is_settled_by_a_re_read_not_a_resend(
    fake: FakeLazada,
) -> None:
    fake.add_product([("TEE-M", 10)])
    fake.ambiguous_writes = 1  # applied, but answered "1000 Internal Application Error"

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes_for(fake, 3), run_id=1)

    assert [r.outcome for r in run(go())] == ["written"]
    assert len(fake.updates) == 1  # never sent twice


def test_a_service_timeout_on_a_read_is_retried(fake: FakeLazada) -> None:
    fake.add_product([("TEE-M", 10)])
    timeout = {
        "type": "SYSTEM",
        "code": "ServiceTimeout",
        "message": "The request has failed due to service timeout",
        "request_id": "x",
    }
    fake.fail_next(Fault(status=200, body=timeout, match="/products/get"))

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.list_listings()

    assert len(run(go())) == 1
