"""The Shopify adapter against a fake Admin GraphQL API: orders, listings, pushes, failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from omnisync.channels.base import ReadProblem
from omnisync.channels.shopify import ORDER_PAGE, ShopifyChannel
from omnisync.errors import ChannelAuthError, ChannelResponseError, ChannelUnavailableError
from omnisync.httpclient import RetryPolicy
from omnisync.models import Order, QuantityChange, Status
from tests.channels.conftest import run, shopify_channel
from tests.fakes import shopify_api
from tests.fakes.server import Fault
from tests.fakes.shopify_api import Bucket, FakeShopify

SINCE = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def at(minute: int) -> str:
    return f"2026-11-20T{9 + minute // 60:02d}:{minute % 60:02d}:00Z"


async def fetch(
    channel: ShopifyChannel, since: datetime = SINCE, until: datetime = UNTIL
) -> list[Order]:
    return [o async for o in channel.fetch_orders(updated_since=since, updated_until=until)]


def operations(fake: FakeShopify, name: str) -> list[dict[str, Any]]:
    return [variables for op, variables in fake.operations if op == name]


# -- orders ---------------------------------------------------------------------------------


def test_orders_arrive_once_each_over_several_pages(shopify: FakeShopify) -> None:
    count = ORDER_PAGE * 2 + 3
    for n in range(count):
        shopify.add_order(1000 + n, [("TEE-M", 1)], updated=at(n))
    shopify.add_order(999, [("TEE-M", 1)], updated="2026-11-19T23:59:59Z")  # before the window

    async def go() -> list[Order]:
        async with shopify_channel(shopify) as channel:
            return await fetch(channel)

    orders = run(go())
    assert [o.id for o in orders] == [f"gid://shopify/Order/{1000 + n}" for n in range(count)]
    assert len(operations(shopify, "Orders")) == 3
    # The window went to Shopify as a search filter, both ends.
    search = operations(shopify, "Orders")[0]["query"]
    assert search == "updated_at:>='2026-11-20T00:00:00Z' AND updated_at:<'2026-11-21T00:00:00Z'"


def test_an_order_updated_while_paging_is_neither_lost_nor_doubled(shopify: FakeShopify) -> None:
    count = ORDER_PAGE * 2
    for n in range(count):
        shopify.add_order(1000 + n, [("TEE-M", 1)], updated=at(n))
    until = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    served_late = f"gid://shopify/Order/{1000 + count - 1}"  # on the last page
    served_early = "gid://shopify/Order/1000"  # on the first page

    def edit(operation: str, variables: dict[str, Any]) -> None:
        if operation == "Orders" and variables.get("after") and not getattr(edit, "done", False):
            edit.done = True  # type: ignore[attr-defined]
            # Both orders are cancelled on Shopify now, after our window's end.
            for order_id in (served_late, served_early):
                order = shopify.orders[order_id]
                order["updatedAt"] = "2026-11-20T12:30:00Z"
                order["cancelledAt"] = "2026-11-20T12:30:00Z"

    shopify.before.append(edit)

    async def go() -> tuple[list[Order], list[Order]]:
        async with shopify_channel(shopify) as channel:
            first = await fetch(channel, SINCE, until)
            second = await fetch(channel, until, UNTIL)  # the next run's window
            return first, second

    first, second = run(go())
    ids = [o.id for o in first]
    assert len(ids) == len(set(ids))
    # Every order that stayed in the window arrived; the early one arrived as it was.
    assert set(ids) == {f"gid://shopify/Order/{1000 + n}" for n in range(count - 1)}
    # The next run sees both edits.
    assert {o.id: o.status for o in second} == {
        served_late: Status.CANCELLED,
        served_early: Status.CANCELLED,
    }


def test_statuses_and_quantities_follow_the_documented_mapping(shopify: FakeShopify) -> None:
    shopify.add_order(1, [("A", 2)], updated=at(1), financial="PENDING")
    shopify.add_order(2, [("A", 2)], updated=at(2))
    shipped = shopify.add_order(3, [("A", 2), ("B", 1)], updated=at(3), fulfilment="FULFILLED")
    shopify.add_order(4, [("A", 2)], updated=at(4), fulfilment="FULFILLED", closed=True)
    shopify.add_order(5, [("A", 2)], updated=at(5), cancelled=True)
    # A voided or lapsed authorisation is about the payment: the order is not cancelled
    # (research section 8: only cancelledAt marks a cancelled order).
    shopify.add_order(6, [("A", 2)], updated=at(6), financial="VOIDED")
    shopify.add_order(9, [("A", 2)], updated=at(9), financial="EXPIRED")
    # Order 3: one A came back and was restocked, the B was refunded and kept.
    a, b = (line["id"] for line in shipped["lineItems"])
    shipped["lineItems"][0]["currentQuantity"] = 1
    shipped["lineItems"][1]["currentQuantity"] = 0
    shipped["refunds"] = [
        {"id": "gid://shopify/Refund/1", "lines": [(a, 1, "RETURN"), (b, 1, "NO_RESTOCK")]}
    ]
    shipped["displayFinancialStatus"] = "PARTIALLY_REFUNDED"
    # Order 7: partly fulfilled; the first line shipped, the second not yet.
    partial = shopify.add_order(
        7, [("A", 1), ("B", 3)], updated=at(7), fulfilment="PARTIALLY_FULFILLED"
    )
    partial["lineItems"][0]["unfulfilledQuantity"] = 0
    # Order 8: a unit removed by an order edit before shipping.
    edited = shopify.add_order(8, [("A", 3)], updated=at(8))
    edited["lineItems"][0]["currentQuantity"] = 2
    edited["lineItems"][0]["unfulfilledQuantity"] = 2

    async def go() -> list[Order]:
        async with shopify_channel(shopify) as channel:
            return await fetch(channel)

    got = {o.id.rsplit("/", 1)[1]: o for o in run(go())}

    def lines(order: Order) -> list[tuple[str, int, Status]]:
        return [(line.channel_sku, line.quantity, order.line_status(line)) for line in order.lines]

    assert got["1"].status is Status.PENDING
    assert got["2"].status is Status.PAID
    assert lines(got["3"]) == [
        ("A", 1, Status.SHIPPED),
        ("A", 1, Status.RETURNED),
        ("B", 0, Status.PAID),
        ("B", 1, Status.SHIPPED),
    ]
    assert [line.id for line in got["3"].lines][1] == f"{a}/returned"
    assert got["4"].status is Status.COMPLETED
    assert got["5"].status is Status.CANCELLED
    assert got["6"].status is Status.PENDING
    assert got["9"].status is Status.PENDING
    assert lines(got["7"]) == [("A", 1, Status.SHIPPED), ("B", 3, Status.PAID)]
    assert lines(got["8"]) == [("A", 2, Status.PAID)]
    assert str(got["2"].lines[0].unit_price) == "10.00"
    assert got["2"].lines[0].currency == "USD"


def test_an_order_with_more_lines_than_a_page_is_read_whole(shopify: FakeShopify) -> None:
    shopify.add_order(1, [(f"SKU-{n}", 1) for n in range(27)], updated=at(1))

    async def go() -> list[Order]:
        async with shopify_channel(shopify) as channel:
            return await fetch(channel)

    [order] = run(go())
    assert [line.channel_sku for line in order.lines] == [f"SKU-{n}" for n in range(27)]
    assert len(operations(shopify, "OrderLines")) == 1


# -- listings -------------------------------------------------------------------------------


def test_listings_are_tracked_items_at_the_location_with_available_and_sku() -> None:
    shopify = FakeShopify()
    for n in range(300):  # more than one page of 250
        shopify.add_variant(f"SKU-{n}", n)
    untracked = shopify.add_variant("UNTRACKED", 5, tracked=False)
    elsewhere = shopify.add_variant("ELSEWHERE", 5, location=None)
    no_sku = shopify.add_variant(None, 7)

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            return await channel.list_listings()

    listings = {listing.id: listing for listing in run(go())}
    assert len(listings) == 301
    assert listings[shopify.item_for("SKU-42")].quantity == 42
    assert listings[shopify.item_for("SKU-42")].channel_sku == "SKU-42"
    assert untracked not in listings and elsewhere not in listings
    assert listings[no_sku].channel_sku == ""  # reported, never written
    assert len(operations(shopify, "Listings")) == 2


def test_a_location_that_does_not_exist_fails_the_channel_naming_the_key(
    shopify: FakeShopify,
) -> None:
    async def go() -> None:
        async with shopify_channel(shopify, location="gid://shopify/Location/404") as channel:
            await channel.list_listings()

    with pytest.raises(ChannelResponseError, match=r"\[channels.shop\] location"):
        run(go())


# -- push -----------------------------------------------------------------------------------


def test_push_sets_available_with_compare_and_set_and_names_the_run(shopify: FakeShopify) -> None:
    tee = shopify.add_variant("TEE-M", 10)
    mug = shopify.add_variant("MUG", 3)

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            return await channel.push_quantities(
                run_id=42,
                changes=[QuantityChange(tee, "TEE-M", 10, 7), QuantityChange(mug, "MUG", 3, 0)],
            )

    results = run(go())
    assert {(r.listing_id, r.outcome) for r in results} == {(tee, "written"), (mug, "written")}
    assert shopify.available("TEE-M") == 7 and shopify.available("MUG") == 0
    [sent] = shopify.adjustments
    assert sent["name"] == "available" and sent["reason"] == "correction"
    assert sent["referenceDocumentUri"] == "gid://omnisync/SyncRun/42"
    assert [q["changeFromQuantity"] for q in sent["quantities"]] == [10, 3]


def test_a_sale_between_read_and_write_is_a_conflict_with_the_current_quantity(
    shopify: FakeShopify,
) -> None:
    tee = shopify.add_variant("TEE-M", 10)
    mug = shopify.add_variant("MUG", 3)

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            await channel.list_listings()
            shopify.sell("TEE-M", 2)  # a customer buys two on Shopify meanwhile
            return await channel.push_quantities(
                run_id=42,
                changes=[QuantityChange(tee, "TEE-M", 10, 9), QuantityChange(mug, "MUG", 3, 5)],
            )

    results = {r.listing_id: r for r in run(go())}
    assert results[tee].outcome == "conflict" and results[tee].current == 8
    assert shopify.available("TEE-M") == 8  # the sale was not overwritten
    assert results[mug].outcome == "written" and shopify.available("MUG") == 5


def test_one_bad_item_fails_alone(shopify: FakeShopify) -> None:
    tee = shopify.add_variant("TEE-M", 10)
    mug = shopify.add_variant("MUG", 3)
    missing = "gid://shopify/InventoryItem/999999"

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            return await channel.push_quantities(
                run_id=42,
                changes=[
                    QuantityChange(tee, "TEE-M", 10, 4),
                    QuantityChange(missing, "GONE", 1, 0),
                    QuantityChange(mug, "MUG", 3, 1),
                ],
            )

    results = {r.listing_id: r for r in run(go())}
    assert results[missing].outcome == "failed"
    assert "INVALID_INVENTORY_ITEM" in results[missing].detail
    assert results[tee].outcome == results[mug].outcome == "written"
    assert (shopify.available("TEE-M"), shopify.available("MUG")) == (4, 1)


def test_pushes_go_in_calls_of_at_most_250(shopify: FakeShopify) -> None:
    items = [shopify.add_variant(f"S{n}", 1) for n in range(300)]

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            return await channel.push_quantities(
                run_id=42,
                changes=[QuantityChange(item, f"S{n}", 1, 2) for n, item in enumerate(items)],
            )

    assert {r.outcome for r in run(go())} == {"written"}
    assert sorted(len(a["quantities"]) for a in shopify.adjustments) == [50, 250]


class LoseFirstMutationAnswer(httpx.AsyncBaseTransport):
    """Delivers the first mutation to the shop, then drops the connection before its answer."""

    def __init__(self, app: FakeShopify) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.bodies: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = json.loads(request.content)
        if "SetQuantities" in body["query"]:
            self.bodies.append(body)
            if len(self.bodies) == 1:
                raise httpx.ReadError("connection reset")
        return response


def test_a_retried_write_reuses_its_idempotency_key_and_applies_once(shopify: FakeShopify) -> None:
    tee = shopify.add_variant("TEE-M", 10)
    transport = LoseFirstMutationAnswer(shopify)

    async def go() -> list[Any]:
        async with shopify_channel(None, transport=transport) as channel:
            return await channel.push_quantities(
                run_id=42, changes=[QuantityChange(tee, "TEE-M", 10, 6)]
            )

    [result] = run(go())
    # Without the key, the retry's changeFromQuantity (10) would be stale against 6.
    assert result.outcome == "written"
    assert len(transport.bodies) == 2
    assert transport.bodies[0]["variables"]["key"] == transport.bodies[1]["variables"]["key"]
    assert len(shopify.adjustments) == 1


# -- throttling and failures --------------------------------------------------------------


def test_throttled_query_waits_as_throttle_status_says_then_succeeds() -> None:
    shopify = FakeShopify(bucket=Bucket(maximum=2000, rate=2000, available=0))
    shopify.add_variant("TEE-M", 10)

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            return await channel.list_listings()

    assert [listing.channel_sku for listing in run(go())] == ["TEE-M"]
    assert shopify.throttled == 1


def test_a_throttle_wait_longer_than_the_budget_fails_at_once() -> None:
    # Empty bucket restoring 1 point a second: the first page would wait ~12 minutes.
    shopify = FakeShopify(bucket=Bucket(maximum=2000, rate=1, available=0))
    shopify.add_variant("TEE-M", 10)

    async def go() -> None:
        async with shopify_channel(shopify, timeout=60) as channel:
            await channel.list_listings()

    started = datetime.now(UTC)
    with pytest.raises(ChannelUnavailableError, match="THROTTLED.*would not fit"):
        run(go())
    assert (datetime.now(UTC) - started).total_seconds() < 5
    assert shopify.throttled == 1


def test_queries_are_paced_by_cost_instead_of_bouncing_off_the_bucket() -> None:
    # A bucket that holds one listings page (753 points) and refills it in 0.2 s.
    shopify = FakeShopify(bucket=Bucket(maximum=1000, rate=4000, available=1000))
    for n in range(250 * 3):
        shopify.add_variant(f"S{n}", 1)

    async def go() -> int:
        async with shopify_channel(shopify) as channel:
            return len(await channel.list_listings())

    assert run(go()) == 250 * 3
    assert shopify.throttled == 0
    assert len(operations(shopify, "Listings")) == 3


def test_the_pacing_credits_what_shopify_refunds_not_the_requested_cost() -> None:
    # Shopify reserves a query's requested (worst-case) cost up front and refunds the unused
    # part; the bucket must count only what was charged. Here a listings page requests 753
    # points of a 1,000-point bucket restoring 100 a second (the Standard plan), but three
    # listings are charged a few: had the pacing kept each 753 booked, the reads after the
    # first would wait about 5 s each for the bucket to refill.
    shopify = FakeShopify(bucket=Bucket(maximum=1000, rate=100, available=1000))
    for sku in ("TEE-S", "TEE-M", "TEE-L"):
        shopify.add_variant(sku, 1)

    async def go() -> float:
        async with shopify_channel(shopify) as channel:
            await channel.list_listings()  # the first answer tells the bucket's figures
            started = channel.budget.clock()
            for _ in range(3):
                await channel.list_listings()
            return channel.budget.clock() - started

    assert run(go()) < 1.0
    assert shopify.throttled == 0
    assert shopify.spent < 100  # charged by what came back, far below 4 x 753 requested


def test_server_errors_are_retried_until_success(shopify: FakeShopify) -> None:
    shopify.add_variant("TEE-M", 10)
    shopify.fail_next(Fault(status=503), Fault(status=502, body=b"<html>Bad gateway</html>"))

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            return await channel.list_listings()

    assert [listing.quantity for listing in run(go())] == [10]
    assert len(shopify.requests) == 3


def test_a_wrong_token_fails_at_once_naming_the_token_key() -> None:
    shopify = FakeShopify(token="shpat_the_right_one_0000")

    async def go() -> None:
        async with shopify_channel(shopify) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    message = str(caught.value)
    assert "[channels.shop] token" in message
    assert shopify_api.TOKEN not in message
    assert len(shopify.requests) == 1  # no retries on a refused credential


def test_a_malformed_body_fails_saying_what_was_expected(shopify: FakeShopify) -> None:
    shopify.fail_next(Fault(status=200, body=b"<html>maintenance</html>"))

    async def go() -> None:
        async with shopify_channel(shopify) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelResponseError, match="expected a JSON body, got <html>maintenance"):
        run(go())


def test_a_body_of_the_wrong_shape_fails_saying_what_was_expected(shopify: FakeShopify) -> None:
    shopify.fail_next(Fault(status=200, body={"data": {"location": {"edges": []}}}))

    async def go() -> None:
        async with shopify_channel(shopify) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelResponseError) as caught:
        run(go())
    assert caught.value.message == (
        "/admin/api/2026-10/graphql.json: data.location.inventoryLevels: missing"
    )


def test_a_missing_scope_is_an_auth_failure() -> None:
    shopify = FakeShopify(scopes=("read_locations", "write_inventory"))

    async def go() -> None:
        async with shopify_channel(shopify) as channel:
            await fetch(channel)

    with pytest.raises(ChannelAuthError, match="read_orders"):
        run(go())


def test_a_shop_that_keeps_failing_gives_up_within_the_budget(shopify: FakeShopify) -> None:
    shopify.fail_next(*[Fault(status=500) for _ in range(100)])

    async def go() -> None:
        async with shopify_channel(
            shopify, timeout=0.5, policy=RetryPolicy(attempts=100, base=0.1, cap=0.2)
        ) as channel:
            await channel.list_listings()

    started = datetime.now(UTC)
    with pytest.raises(ChannelUnavailableError, match="time budget of 0.5 s"):
        run(go())
    # The policy alone would retry for ~15 s; the budget stops it.
    assert (datetime.now(UTC) - started).total_seconds() < 2.0


# -- probe ----------------------------------------------------------------------------------


def test_probe_confirms_token_location_and_scopes(shopify: FakeShopify) -> None:
    async def go() -> Any:
        async with shopify_channel(shopify) as channel:
            return await channel.probe()

    probe = run(go())
    assert probe.ok
    assert any("Main warehouse" in message for message in probe.messages)
    assert not any("60 days" in message for message in probe.messages)


def test_probe_points_out_missing_scopes_location_and_the_60_day_window() -> None:
    shopify = FakeShopify(scopes=("read_orders", "read_locations"))

    async def go() -> Any:
        async with shopify_channel(shopify, location="77") as channel:
            return await channel.probe()

    probe = run(go())
    assert not probe.ok
    text = "\n".join(probe.messages)
    assert "gid://shopify/Location/77 not found" in text
    assert "read_inventory (reading stock levels)" in text
    assert "write_inventory (writing stock levels)" in text
    assert "60 days" in text


def test_probe_reports_a_refused_token_without_raising() -> None:
    shopify = FakeShopify(token="shpat_other_token_1111")

    async def go() -> Any:
        async with shopify_channel(shopify) as channel:
            return await channel.probe()

    probe = run(go())
    assert not probe.ok and "token" in probe.messages[0]


# -- the window, refunds, partial writes, payload shapes ------------------------------------


def test_an_order_updated_after_the_window_comes_too_and_again_next_run(
    shopify: FakeShopify,
) -> None:
    # Issue 12: an order dated after the window's end is applied, never skipped; the next
    # window (opening at the cursor, which never passes the end) reads it again.
    until = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    inside = shopify.add_order(1, [("TEE-M", 1)], updated="2026-11-20T11:59:59Z")
    late = shopify.add_order(2, [("TEE-M", 1)], updated="2026-11-20T12:30:00Z")
    # Shopify's search index still files the late order under its previous update.
    shopify.indexed[late["id"]] = "2026-11-20T11:30:00Z"

    async def go() -> tuple[list[Order], list[Order]]:
        async with shopify_channel(shopify) as channel:
            first = await fetch(channel, SINCE, until)
            shopify.indexed.clear()  # the index catches up
            return first, await fetch(channel, until, UNTIL)

    first, second = run(go())
    assert [o.id for o in first] == [inside["id"], late["id"]]
    assert [o.id for o in second] == [late["id"]]


def test_an_order_with_more_refunds_than_a_page_holds_is_read_whole(
    shopify: FakeShopify,
) -> None:
    placed = shopify.add_order(1, [("TEE-M", 5)], updated=at(1), fulfilment="FULFILLED")
    tee = placed["lineItems"][0]["id"]
    placed["lineItems"][0]["currentQuantity"] = 2
    # Three refunds, one returned unit each: the orders page carries only the first two.
    placed["refunds"] = [
        {"id": f"gid://shopify/Refund/{n}", "lines": [(tee, 1, "RETURN")]} for n in (1, 2, 3)
    ]

    async def go() -> list[Order]:
        async with shopify_channel(shopify) as channel:
            return await fetch(channel)

    [order] = run(go())
    returned = [line for line in order.lines if line.id == f"{tee}/returned"]
    assert [line.quantity for line in returned] == [3]
    assert [v["id"] for v in operations(shopify, "OrderRefunds")] == [placed["id"]]


def test_a_partly_accepted_call_writes_the_others_once() -> None:
    # A shop that applies the items without an error and reports the stale one.
    shopify = FakeShopify(all_or_nothing=False)
    tee = shopify.add_variant("TEE-M", 10)
    mug = shopify.add_variant("MUG", 3)
    shopify.sell("TEE-M", 1)  # after omnisync read 10

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            return await channel.push_quantities(
                run_id=42,
                changes=[QuantityChange(tee, "TEE-M", 10, 4), QuantityChange(mug, "MUG", 3, 1)],
            )

    results = {r.listing_id: r for r in run(go())}
    assert results[mug].outcome == "written" and shopify.available("MUG") == 1
    assert results[tee].outcome == "conflict" and results[tee].current == 9
    assert shopify.available("TEE-M") == 9
    # The accepted item was not sent a second time.
    assert len(operations(shopify, "SetQuantities")) == 1


def test_a_refused_call_sends_the_others_again(shopify: FakeShopify) -> None:
    tee = shopify.add_variant("TEE-M", 10)
    mug = shopify.add_variant("MUG", 3)
    shopify.sell("TEE-M", 1)

    async def go() -> list[Any]:
        async with shopify_channel(shopify) as channel:
            return await channel.push_quantities(
                run_id=42,
                changes=[QuantityChange(tee, "TEE-M", 10, 4), QuantityChange(mug, "MUG", 3, 1)],
            )

    results = {r.listing_id: r for r in run(go())}
    assert results[mug].outcome == "written" and shopify.available("MUG") == 1
    assert results[tee].outcome == "conflict" and shopify.available("TEE-M") == 9
    sent = [
        [q["inventoryItemId"] for q in v["input"]["quantities"]]
        for v in operations(shopify, "SetQuantities")
    ]
    assert sent == [[tee, mug], [mug]]


def test_a_quantity_of_the_wrong_type_is_named_by_its_path(shopify: FakeShopify) -> None:
    # Issue 12: that order is unreadable on its own, named by its path; the others still come.
    placed = shopify.add_order(1, [("TEE-M", 1)], updated=at(1))
    fine = shopify.add_order(2, [("TEE-M", 1)], updated=at(2))
    placed["lineItems"][0]["quantity"] = "2.0"

    async def go() -> tuple[list[Order], list[ReadProblem]]:
        async with shopify_channel(shopify) as channel:
            return await fetch(channel), channel.read_problems()

    orders, problems = run(go())
    assert [o.id for o in orders] == [fine["id"]]
    [problem] = problems
    assert (problem.order_id, problem.value) == (placed["id"], '"2.0"')
    assert problem.message == (
        'data.orders.nodes[0].lineItems.nodes[0].quantity: expected an integer, got "2.0"'
    )
