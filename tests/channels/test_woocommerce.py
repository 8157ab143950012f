"""The WooCommerce adapter against a fake REST API: orders, listings, pushes, failures."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from omnisync.channels.base import ReadProblem
from omnisync.channels.woocommerce import WooCommerceChannel
from omnisync.errors import ChannelAuthError, ChannelResponseError
from omnisync.models import Order, QuantityChange, Status
from tests.channels.conftest import run, woo_channel
from tests.fakes import woocommerce_api
from tests.fakes.server import Fault, Request
from tests.fakes.woocommerce_api import FakeWoo

SINCE = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def at(minute: int) -> str:
    return f"2026-11-20T{9 + minute // 60:02d}:{minute % 60:02d}:00"


async def fetch(
    channel: WooCommerceChannel, since: datetime = SINCE, until: datetime = UNTIL
) -> list[Order]:
    return [o async for o in channel.fetch_orders(updated_since=since, updated_until=until)]


def gets(fake: FakeWoo, path: str) -> list[Request]:
    return [r for r in fake.requests if r.method == "GET" and r.path.endswith(path)]


# -- orders ---------------------------------------------------------------------------------


def test_orders_arrive_once_each_over_several_pages(woo: FakeWoo) -> None:
    ids = [woo.add_order([("TEE-M", 1)], modified=at(n % 600)) for n in range(250)]
    woo.add_order([("TEE-M", 1)], modified="2026-11-19T23:00:00")  # before the window

    async def go() -> list[Order]:
        async with woo_channel(woo) as channel:
            return await fetch(channel)

    orders = run(go())
    assert [o.id for o in orders] == [str(i) for i in ids]
    requests = gets(woo, "/orders")
    assert [(r.query.get("status"), r.query["page"]) for r in requests] == [
        (None, "1"),
        (None, "2"),
        (None, "3"),  # `any` leaves trashed orders out, as wanted (see below)
    ]
    assert requests[0].query["per_page"] == "100"
    assert requests[0].query["dates_are_gmt"] == "true"
    assert requests[0].query["modified_after"] == "2026-11-19T23:59:59"


def test_an_order_updated_while_paging_does_not_push_others_off_a_page(woo: FakeWoo) -> None:
    ids = [woo.add_order([("TEE-M", 1)], modified=at(n)) for n in range(150)]
    until = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)

    def edit(request: Request) -> None:
        if request.path.endswith("/orders") and request.query.get("page") == "2":
            # Order 3 (already served on page 1) is completed now, after the window's end.
            woo.orders[ids[3]]["status"] = "completed"
            woo.orders[ids[3]]["date_modified_gmt"] = "2026-11-20T15:00:00"

    woo.before.append(edit)

    async def go() -> tuple[list[Order], list[Order]]:
        async with woo_channel(woo) as channel:
            return await fetch(channel, SINCE, until), await fetch(channel, until, UNTIL)

    first, second = run(go())
    got = [o.id for o in first]
    assert len(got) == len(set(got))
    assert set(got) == {str(i) for i in ids}  # not one order skipped
    assert [(o.id, o.status) for o in second] == [(str(ids[3]), Status.COMPLETED)]


def test_a_trashed_order_keeps_its_last_effect(woo: FakeWoo) -> None:
    # Trashing is cleanup: Woo does not restock on trash (research section 8), so the
    # order is not read again and keeps what it last did in the ledger.
    kept = woo.add_order([("TEE-M", 2)], status="completed", modified=at(1))
    woo.orders[kept]["status"] = "trash"
    woo.orders[kept]["date_modified_gmt"] = at(2)

    async def go() -> list[Order]:
        async with woo_channel(woo) as channel:
            return await fetch(channel)

    assert run(go()) == []


@pytest.mark.parametrize(
    ("woo_status", "expected"),
    [
        ("pending", Status.PENDING),
        ("on-hold", Status.PENDING),
        ("processing", Status.PAID),
        ("completed", Status.COMPLETED),
        ("cancelled", Status.CANCELLED),
        ("failed", Status.CANCELLED),
        # Refunded is about money: without restocked units the goods stay gone.
        ("refunded", Status.COMPLETED),
        ("checkout-draft", Status.CANCELLED),  # a cart in the block checkout
        ("some-plugin-status", Status.PAID),
    ],
)
def test_statuses_follow_the_documented_mapping(
    woo: FakeWoo, woo_status: str, expected: Status
) -> None:
    woo.add_order([("TEE-M", 2), ("MUG", 1)], status=woo_status, modified=at(1), created=at(0))

    async def go() -> list[Order]:
        async with woo_channel(woo) as channel:
            return await fetch(channel)

    [order] = run(go())
    assert order.status is expected
    assert [(line.channel_sku, line.quantity) for line in order.lines] == [("TEE-M", 2), ("MUG", 1)]
    assert order.created_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert order.lines[0].currency == "IDR" and order.lines[0].unit_price == 150000


# -- listings -------------------------------------------------------------------------------


def test_listings_are_products_and_variations_that_manage_stock(
    woo: FakeWoo, caplog: pytest.LogCaptureFixture
) -> None:
    simple = [woo.add_product(f"S{n}", n) for n in range(120)]
    woo.add_product("NOT-MANAGED", None, manage_stock=False)
    woo.add_product("GROUPED", None, manage_stock=False, kind="grouped")
    parent, variations = woo.add_variable("TEE", [("TEE-S", 4), ("TEE-M", 5)])

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            return await channel.list_listings()

    with caplog.at_level(logging.WARNING):
        listings = {listing.id: listing for listing in run(go())}
    assert set(listings) == {str(p) for p in simple} | {f"{parent}/{v}" for v in variations}
    assert listings[str(simple[7])].quantity == 7
    assert listings[f"{parent}/{variations[1]}"].channel_sku == "TEE-M"
    assert "NOT-MANAGED" in caplog.text and "GROUPED" in caplog.text


# -- push -----------------------------------------------------------------------------------


def test_push_writes_products_and_variations_in_batches_of_at_most_100(woo: FakeWoo) -> None:
    products = [woo.add_product(f"S{n}", 1) for n in range(150)]
    parent, variations = woo.add_variable("TEE", [("TEE-S", 4), ("TEE-M", 5)])
    changes = [QuantityChange(str(p), f"S{n}", 1, 3) for n, p in enumerate(products)]
    changes.append(QuantityChange(f"{parent}/{variations[0]}", "TEE-S", 4, 0))

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            return await channel.push_quantities(run_id=42, changes=changes)

    results = run(go())
    assert {r.outcome for r in results} == {"written"} and len(results) == 151
    assert woo.stock("S149") == 3 and woo.stock("TEE-S") == 0 and woo.stock("TEE-M") == 5
    assert sorted(len(batch["update"]) for batch in woo.batches) == [1, 50, 100]


def test_a_sale_between_read_and_write_is_a_conflict_not_overwritten(woo: FakeWoo) -> None:
    tee = woo.add_product("TEE-M", 10)
    mug = woo.add_product("MUG", 3)

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            await channel.list_listings()
            woo.sell("TEE-M", 1)  # sold on the shop after omnisync read it
            return await channel.push_quantities(
                run_id=42,
                changes=[
                    QuantityChange(str(tee), "TEE-M", 10, 12),
                    QuantityChange(str(mug), "MUG", 3, 2),
                ],
            )

    results = {r.listing_id: r for r in run(go())}
    assert results[str(tee)].outcome == "conflict" and results[str(tee)].current == 9
    assert woo.stock("TEE-M") == 9
    assert results[str(mug)].outcome == "written" and woo.stock("MUG") == 2


def test_a_partial_batch_failure_fails_only_its_items(woo: FakeWoo) -> None:
    good = woo.add_product("GOOD", 1)
    bad = woo.add_product("BAD", 1)
    woo.batch_errors[bad] = ("woocommerce_rest_invalid_product", "Stock cannot be changed.")

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            return await channel.push_quantities(
                run_id=42,
                changes=[
                    QuantityChange(str(good), "GOOD", 1, 5),
                    QuantityChange(str(bad), "BAD", 1, 5),
                ],
            )

    results = {r.listing_id: r for r in run(go())}
    assert results[str(good)].outcome == "written" and woo.stock("GOOD") == 5
    assert results[str(bad)].outcome == "failed"
    assert "Stock cannot be changed." in results[str(bad)].detail


# -- auth, throttling, failures -----------------------------------------------------------


def test_a_server_that_drops_the_auth_header_gets_the_query_string_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    woo = FakeWoo(drop_auth_header=True)
    woo.add_product("TEE-M", 3)

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            first = await channel.list_listings()
            await channel.list_listings()
            return first

    with caplog.at_level(logging.DEBUG):
        assert [listing.quantity for listing in run(go())] == [3]
    # One refused request, then every request authenticated by query string.
    assert [r.query.get("consumer_key") is not None for r in woo.requests] == [False, True, True]
    assert woocommerce_api.SECRET not in caplog.text


def test_a_read_only_key_is_told_apart_from_a_dropped_header(woo: FakeWoo) -> None:
    woo.fail_next(
        Fault(
            status=401,
            body={
                "code": "woocommerce_rest_cannot_batch",
                "message": "Sorry, you are not allowed to batch manipulate this resource.",
                "data": {"status": 401},
            },
            match="/batch",
        )
    )

    async def go() -> Any:
        async with woo_channel(woo) as channel:
            return await channel.probe()

    probe = run(go())
    assert not probe.ok
    assert "not allowed to batch" in probe.messages[-1]
    assert not any("consumer_key" in r.query for r in woo.requests)


def test_wrong_keys_fail_at_once_naming_key_and_secret() -> None:
    woo = FakeWoo(secret="cs_the_real_secret_000000")

    async def go() -> None:
        async with woo_channel(woo) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    message = str(caught.value)
    assert "[channels.woo] key and secret" in message
    assert woocommerce_api.SECRET not in message and woocommerce_api.KEY not in message


def test_a_429_waits_for_retry_after_then_succeeds(woo: FakeWoo) -> None:
    woo.add_product("TEE-M", 3)
    woo.fail_next(Fault(status=429, headers={"Retry-After": "0.2"}))

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            return await channel.list_listings()

    started = datetime.now(UTC)
    assert [listing.quantity for listing in run(go())] == [3]
    assert (datetime.now(UTC) - started).total_seconds() >= 0.2
    assert len(woo.requests) == 2


def test_a_malformed_body_fails_saying_what_was_expected(woo: FakeWoo) -> None:
    woo.fail_next(Fault(status=200, body={"products": []}, match="/orders"))

    async def go() -> None:
        async with woo_channel(woo) as channel:
            await fetch(channel)

    with pytest.raises(ChannelResponseError) as caught:
        run(go())
    assert caught.value.message == (
        '/wp-json/wc/v3/orders: orders: expected a list, got {"products": []}'
    )


def test_probe_checks_read_write_and_modified_after(woo: FakeWoo) -> None:
    woo.add_order([("TEE-M", 1)], modified=at(1))

    async def go() -> Any:
        async with woo_channel(woo) as channel:
            return await channel.probe()

    probe = run(go())
    assert probe.ok, probe.messages
    assert woo.batches == [{"update": []}]  # the write check changed nothing


# -- the window, stock without a number, answers that differ, payload shapes ----------------


def test_orders_modified_at_or_after_the_window_s_end_come_too_and_again_next_run(
    woo: FakeWoo,
) -> None:
    # A shop's clock ahead of ours dates orders after the window: they still count (issue
    # 12), and the next window, which opens at the cursor, reads them again.
    until = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    inside = woo.add_order([("TEE-M", 1)], modified="2026-11-20T11:59:59")
    at_end = woo.add_order([("TEE-M", 1)], modified="2026-11-20T12:00:00")
    later = woo.add_order([("TEE-M", 1)], modified="2026-11-20T12:30:00")

    async def go() -> tuple[list[Order], list[Order]]:
        async with woo_channel(woo) as channel:
            return await fetch(channel, SINCE, until), await fetch(channel, until, UNTIL)

    first, second = run(go())
    assert [o.id for o in first] == [str(inside), str(at_end), str(later)]
    assert [o.id for o in second] == [str(at_end), str(later)]


def test_a_managed_product_without_a_quantity_reads_as_0_and_is_written(woo: FakeWoo) -> None:
    blank = woo.add_product("BLANK", None)  # manages stock, stock_quantity null

    async def go() -> tuple[list[Any], list[Any]]:
        async with woo_channel(woo) as channel:
            listings = await channel.list_listings()
            [listing] = listings
            pushed = await channel.push_quantities(
                run_id=42, changes=[QuantityChange(listing.id, "BLANK", listing.quantity, 6)]
            )
            return listings, pushed

    listings, pushed = run(go())
    assert [(x.id, x.quantity) for x in listings] == [(str(blank), 0)]
    assert [r.outcome for r in pushed] == ["written"]
    assert woo.stock("BLANK") == 6


def test_a_product_that_stopped_managing_stock_is_not_written(woo: FakeWoo) -> None:
    tee = woo.add_product("TEE-M", 4)

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            await channel.list_listings()
            woo.products[tee]["manage_stock"] = False  # the seller untracks it meanwhile
            woo.products[tee]["stock_quantity"] = None
            return await channel.push_quantities(
                run_id=42, changes=[QuantityChange(str(tee), "TEE-M", 4, 2)]
            )

    [result] = run(go())
    assert result.outcome == "failed" and "no longer manages stock" in result.detail
    assert woo.batches == []


def test_a_write_answered_with_another_quantity_is_failed(woo: FakeWoo) -> None:
    capped = woo.add_product("CAPPED", 10)
    woo.stock_amount = lambda quantity: min(quantity, 50)  # a plugin caps stock at 50

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            return await channel.push_quantities(
                run_id=42, changes=[QuantityChange(str(capped), "CAPPED", 10, 80)]
            )

    [result] = run(go())
    assert (result.outcome, result.detail) == ("failed", "WooCommerce kept 50, not 80")


def test_a_write_the_shop_ignored_is_failed(woo: FakeWoo) -> None:
    tee = woo.add_product("TEE-M", 4)

    def untrack(request: Request) -> None:
        if request.path.endswith("/batch"):  # between the re-read and the write
            woo.products[tee]["manage_stock"] = False

    woo.before.append(untrack)

    async def go() -> list[Any]:
        async with woo_channel(woo) as channel:
            return await channel.push_quantities(
                run_id=42, changes=[QuantityChange(str(tee), "TEE-M", 4, 2)]
            )

    [result] = run(go())
    assert (result.outcome, result.detail) == ("failed", "WooCommerce kept no quantity, not 2")


def test_a_quantity_of_the_wrong_type_is_named_by_its_path(woo: FakeWoo) -> None:
    # Issue 12: the order is unreadable on its own (named by its path); the others still come.
    oid = woo.add_order([("TEE-M", 1), ("MUG", 2)], modified=at(1))
    fine = woo.add_order([("TEE-M", 1)], modified=at(2))
    woo.orders[oid]["line_items"][1]["quantity"] = "2"

    async def go() -> tuple[list[Order], list[ReadProblem]]:
        async with woo_channel(woo) as channel:
            return await fetch(channel), channel.read_problems()

    orders, problems = run(go())
    assert [o.id for o in orders] == [str(fine)]
    [problem] = problems
    assert (problem.order_id, problem.field, problem.value) == (
        str(oid),
        "orders[0].line_items[1].quantity",
        '"2"',
    )
    assert problem.message == 'orders[0].line_items[1].quantity: expected an integer, got "2"'
