"""The TikTok Shop adapter against the fake Partner API: listings, orders, returns, pushes."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from omnisync.channels.base import TokenStore
from omnisync.channels.tiktok import TikTokChannel, TikTokSettings
from omnisync.errors import ChannelError
from omnisync.models import Order, QuantityChange, Status
from tests.channels.conftest import FAST, run
from tests.fakes import tiktok_api, tiktok_protocol
from tests.fakes.server import Fault
from tests.fakes.tiktok_api import FakeTikTok

W1, W2 = "7068517275539719942", "7068517275539719943"


def settings(fake: FakeTikTok | None, **overrides: Any) -> TikTokSettings:
    values: dict[str, Any] = {"app_key": tiktok_api.APP_KEY, "app_secret": tiktok_api.APP_SECRET}
    if fake is not None:
        issued = fake.issue()
        values |= {"access_token": issued["access_token"], "refresh_token": issued["refresh_token"]}
    return TikTokSettings.model_validate(values | overrides)


@contextlib.asynccontextmanager
async def channel(
    fake: FakeTikTok,
    *,
    store: TokenStore | None = None,
    config: TikTokSettings | None = None,
    now: Any = None,
    **overrides: Any,
) -> AsyncIterator[TikTokChannel]:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    chosen = config or settings(fake, **overrides)
    kwargs: dict[str, Any] = {"now": now} if now is not None else {}
    shop = TikTokChannel(
        "tiktok",
        chosen,
        base_url=None,
        client=client,
        policy=FAST,
        timeout=30.0,
        tokens=store,
        **kwargs,
    )
    try:
        yield shop
    finally:
        await shop.aclose()
        await client.aclose()


async def all_orders(shop: TikTokChannel, since: datetime, until: datetime) -> list[Order]:
    return [o async for o in shop.fetch_orders(updated_since=since, updated_until=until)]


def paths(fake: FakeTikTok, fragment: str) -> int:
    return sum(1 for r in fake.requests if fragment in r.path)


HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)
SOON = datetime.now(UTC) + timedelta(minutes=1)


# -- listings --------------------------------------------------------------------------------


def test_listings_page_through_active_products_by_platform_ids() -> None:
    fake = FakeTikTok()
    for n in range(130):  # 2 pages of 100
        fake.add_product([(f"SKU-{n}", n)])
    fake.add_product([("", 4)])  # a SKU without a seller SKU: reported, never written
    fake.add_product([("OFF", 9)], status="SELLER_DEACTIVATED")

    async def go() -> list[Any]:
        async with channel(fake) as shop:
            return await shop.list_listings()

    listings = run(go())
    assert len(listings) == 131
    by_sku = {listing.channel_sku: listing for listing in listings}
    assert by_sku["SKU-7"].quantity == 7
    assert by_sku[""].quantity == 4
    assert "OFF" not in by_sku
    row = fake.sku("SKU-7")
    assert by_sku["SKU-7"].id == f"{row['product_id']}/{row['id']}"
    assert paths(fake, "/product/202502/products/search") == 2


def test_a_listing_is_the_sum_of_its_warehouses_or_the_configured_one() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", {W1: 3, W2: 4})])
    fake.add_product([("MUG", {W2: 5})])

    async def go(**extra: Any) -> dict[str, Any]:
        async with channel(fake, **extra) as shop:
            return {
                listing.channel_sku or listing.id: listing for listing in await shop.list_listings()
            }

    assert run(go())["TEE-M"].quantity == 7
    one = run(go(warehouse_id=W1))
    assert one["TEE-M"].quantity == 3
    # MUG is not stocked in W1: TikTok refuses adding a warehouse, so it is not managed.
    assert "MUG" not in one and len(one) == 2


# -- orders ----------------------------------------------------------------------------------


def test_orders_in_the_window_one_line_per_unit_with_stable_ids() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 50), ("TEE-L", 50)])
    base = int(HOUR_AGO.timestamp()) + 1  # the first whole second inside the window
    for n in range(120):  # 2 pages of 100
        fake.add_order([("TEE-M", 1)], update_time=base + n)
    multi = fake.add_order([("TEE-M", 3), ("TEE-L", 1)], update_time=base + 200)
    fake.add_order([("TEE-L", 1)], update_time=base - 7200)  # before the window

    async def go() -> tuple[list[Order], list[Order]]:
        async with channel(fake) as shop:
            first = await all_orders(shop, HOUR_AGO, SOON)
            return first, await all_orders(shop, HOUR_AGO, SOON)

    first, again = run(go())
    assert len(first) == 121
    order = next(o for o in first if o.id == multi)
    assert [line.channel_sku for line in order.lines] == ["TEE-M"] * 3 + ["TEE-L"]
    assert all(line.quantity == 1 for line in order.lines)
    assert len({line.id for line in order.lines}) == 4
    assert order.status is Status.PAID
    # The same lines, the same ids, on a second read: reconciliation stays idempotent.
    assert next(o for o in again if o.id == multi).lines == order.lines
    searches = [r for r in fake.requests if r.path == "/order/202309/orders/search"]
    assert len(searches) == 2 * 2
    assert searches[0].query["sort_field"] == "update_time"
    assert searches[0].query["sort_order"] == "ASC"
    assert searches[0].json()["update_time_ge"] == int(HOUR_AGO.timestamp())


def test_a_line_without_a_seller_sku_maps_by_product_and_sku_ids() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 5)])
    fake.add_order([("TEE-M", 2)], update_time=int(HOUR_AGO.timestamp()) + 5, blank_sku=True)

    async def go() -> list[Order]:
        async with channel(fake) as shop:
            await shop.list_listings()
            return await all_orders(shop, HOUR_AGO, SOON)

    (order,) = run(go())
    assert [line.channel_sku for line in order.lines] == ["TEE-M", "TEE-M"]


@pytest.mark.parametrize(
    ("return_type", "status", "keep", "expected"),
    [
        ("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE", False, Status.RETURNED),
        ("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_SUCCESS", False, Status.RETURNED),
        ("RETURN_AND_REFUND", "AWAITING_BUYER_SHIP", False, Status.COMPLETED),
        ("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE", True, Status.COMPLETED),
        ("REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE", False, Status.COMPLETED),
    ],
)
def test_only_goods_that_come_back_make_a_line_returned(
    return_type: str, status: str, keep: bool, expected: Status
) -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 5)])
    base = int(HOUR_AGO.timestamp()) + 1  # the first whole second inside the window
    oid = fake.add_order([("TEE-M", 2)], status="DELIVERED", update_time=base + 10)
    first_line = fake.orders[oid]["line_items"][0]["id"]
    fake.add_return(oid, [first_line], return_type=return_type, status=status, keep=keep)

    async def go() -> list[Order]:
        async with channel(fake) as shop:
            return await all_orders(shop, HOUR_AGO, SOON)

    (order,) = run(go())
    statuses = [order.line_status(line) for line in order.lines]
    assert statuses == [expected, Status.COMPLETED]


def test_a_return_stays_returned_when_the_order_changes_later() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 5)])
    base = int(HOUR_AGO.timestamp()) + 1  # the first whole second inside the window
    oid = fake.add_order([("TEE-M", 1)], status="DELIVERED", update_time=base - 86400)
    line = fake.orders[oid]["line_items"][0]["id"]
    fake.add_return(oid, [line], update_time=base - 80000)  # returned yesterday
    fake.set_status(oid, "COMPLETED", update_time=base + 60)  # closed within this window

    async def go() -> list[Order]:
        async with channel(fake) as shop:
            return await all_orders(shop, HOUR_AGO, SOON)

    (order,) = run(go())
    assert order.status is Status.COMPLETED
    assert order.line_status(order.lines[0]) is Status.RETURNED


def test_an_order_whose_return_completes_in_the_window_is_fetched() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 5)])
    base = int(HOUR_AGO.timestamp()) + 1  # the first whole second inside the window
    oid = fake.add_order([("TEE-M", 1)], status="COMPLETED", update_time=base - 86400)
    fake.add_return(oid, [fake.orders[oid]["line_items"][0]["id"]], update_time=base + 30)

    async def go() -> list[Order]:
        async with channel(fake) as shop:
            return await all_orders(shop, HOUR_AGO, SOON)

    (order,) = run(go())
    assert order.id == oid
    assert order.line_status(order.lines[0]) is Status.RETURNED
    assert paths(fake, "/order/202507/orders") == 1


# -- push ------------------------------------------------------------------------------------


def test_push_writes_one_product_per_call_after_one_re_read() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 10), ("TEE-L", 10)])
    fake.add_product([("MUG", 10)])

    async def go() -> list[Any]:
        async with channel(fake) as shop:
            listings = {x.channel_sku: x for x in await shop.list_listings()}
            changes = [
                QuantityChange(listings[s].id, s, 10, t)
                for s, t in (("TEE-M", 7), ("TEE-L", 0), ("MUG", 3))
            ]
            return await shop.push_quantities(changes, run_id=1)

    results = run(go())
    assert {r.outcome for r in results} == {"written"}
    assert (fake.stock("TEE-M"), fake.stock("TEE-L"), fake.stock("MUG")) == (7, 0, 3)
    assert paths(fake, "/inventory/update") == 2
    assert paths(fake, "/product/202309/inventory/search") == 1


def test_a_sale_between_read_and_write_is_a_conflict_not_overwritten() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 10)])

    def sale(request: Any) -> None:
        if request.path == "/product/202309/inventory/search" and not sold:
            sold.append(1)
            fake.sell("TEE-M", 1)

    sold: list[int] = []
    fake.before.append(sale)

    async def go() -> list[Any]:
        async with channel(fake) as shop:
            (listing,) = await shop.list_listings()
            return await shop.push_quantities(
                [QuantityChange(listing.id, "TEE-M", 10, 8)], run_id=1
            )

    (result,) = run(go())
    assert result.outcome == "conflict" and result.current == 9
    assert fake.stock("TEE-M") == 9
    assert not fake.updates


def test_every_warehouse_of_a_sku_is_sent_and_a_refused_sku_fails_alone() -> None:
    fake = FakeTikTok()
    pid = fake.add_product([("TEE-M", {W1: 6, W2: 4}), ("TEE-L", 10)])
    fake.locked[fake.sku("TEE-L")["id"]] = 10  # held by a promotion: cannot go below 10

    async def go() -> list[Any]:
        async with channel(fake) as shop:
            listings = {x.channel_sku: x for x in await shop.list_listings()}
            changes = [
                QuantityChange(listings["TEE-M"].id, "TEE-M", 10, 7),
                QuantityChange(listings["TEE-L"].id, "TEE-L", 10, 2),
            ]
            return await shop.push_quantities(changes, run_id=1)

    results = {r.listing_id.split("/")[1]: r for r in run(go())}
    tee_m, tee_l = fake.sku("TEE-M"), fake.sku("TEE-L")
    assert results[tee_m["id"]].outcome == "written"
    assert results[tee_l["id"]].outcome == "failed"
    assert "12052393" in results[tee_l["id"]].detail
    assert tee_m["warehouses"] == {W1: 3, W2: 4}  # the drop taken from the largest warehouse
    assert fake.stock("TEE-L") == 10
    (update,) = fake.updates
    assert update["product_id"] == pid
    sent = {s["id"]: s["inventory"] for s in update["skus"]}
    assert {i["warehouse_id"] for i in sent[tee_m["id"]]} == {W1, W2}


def test_a_write_without_an_answer_is_re_read_before_it_is_called_failed() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 10)])
    fake.fail_next(*[Fault(status=503, match="/inventory/update") for _ in range(4)])

    async def go() -> list[Any]:
        async with channel(fake) as shop:
            (listing,) = await shop.list_listings()
            return await shop.push_quantities(
                [QuantityChange(listing.id, "TEE-M", 10, 8)], run_id=1
            )

    (result,) = run(go())
    assert result.outcome == "failed"
    assert "TikTok Shop shows 10" in result.detail
    assert paths(fake, "/product/202309/inventory/search") == 2


# -- throttling, clock -----------------------------------------------------------------------


def test_throttling_by_status_or_body_code_is_waited_out() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 10)])
    throttled = tiktok_protocol.envelope(code=36009002, message="Too many requests.")
    fake.fail_next(
        Fault(status=429, body=throttled, match="/products/search"),
        Fault(status=200, body=throttled, match="/products/search"),
    )

    async def go() -> list[Any]:
        async with channel(fake) as shop:
            return await shop.list_listings()

    assert [x.quantity for x in run(go())] == [10]
    assert paths(fake, "/products/search") == 3


def test_the_fake_throttles_beyond_50_requests_a_second() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 10)])
    # 50 calls to this API in the last second already (rate-limits.json: 50 QPS per API).
    fake.quota.accepted["/product/202502/products/search"] = [time.monotonic()] * 50

    async def go() -> list[Any]:
        async with channel(fake) as shop:
            return await shop.list_listings()

    assert [x.quantity for x in run(go())] == [10]
    assert paths(fake, "/products/search") >= 2  # one 429, then served


def test_a_skewed_clock_is_reported_as_such() -> None:
    fake = FakeTikTok(clock=lambda: time.time() + 600)  # TikTok's clock 10 min ahead of ours

    async def go() -> None:
        async with channel(fake) as shop:
            await shop.list_listings()

    with pytest.raises(ChannelError) as caught:
        run(go())
    # The Date header has whole seconds: 600 s, give or take the one being truncated and a
    # busy test machine between the request and its answer.
    found = re.search(r"this machine's clock is (\d+) s off \(behind", str(caught.value))
    assert found is not None and abs(int(found.group(1)) - 600) <= 5, str(caught.value)
    assert "106001" not in str(caught.value)


def test_a_stamp_that_aged_in_retries_is_renewed_not_blamed_on_the_clock() -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 10)])

    def now() -> datetime:
        # The first request is stamped 7 minutes before it arrives (it waited out throttling).
        return datetime.now(UTC) - timedelta(minutes=7 if not fake.requests else 0)

    async def go() -> list[Any]:
        async with channel(fake, now=now, shop_cipher=tiktok_api.SHOP_CIPHER) as shop:
            return await shop.list_listings()

    assert [x.quantity for x in run(go())] == [10]
    assert paths(fake, "/products/search") == 2


def test_several_authorised_shops_need_a_shop_cipher() -> None:
    fake = FakeTikTok()
    fake.shops.append(dict(fake.shops[0], name="Toko Dua", cipher="ROW_second"))

    async def go() -> None:
        async with channel(fake) as shop:
            await shop.list_listings()

    with pytest.raises(ChannelError, match="authorised for 2 shops.*Toko Dua.*set shop_cipher"):
        run(go())
