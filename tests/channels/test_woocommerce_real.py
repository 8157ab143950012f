"""WooCommerce as its core code behaves (research section 8): variations, lines by id,
statuses, writes that time out, refused keys and plain permalinks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from omnisync.channels.woocommerce import WooCommerceChannel
from omnisync.errors import ChannelAuthError
from omnisync.models import Listing, Order, PushResult, QuantityChange, Status
from tests.channels.conftest import run, woo_channel
from tests.fakes import woocommerce_api
from tests.fakes.server import Fault, Request
from tests.fakes.woocommerce_api import FakeWoo

SINCE = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def at(minute: int) -> str:
    return f"2026-11-20T{9 + minute // 60:02d}:{minute % 60:02d}:00"


async def read(channel: WooCommerceChannel) -> tuple[list[Listing], list[Order]]:
    listings = await channel.list_listings()
    orders = [o async for o in channel.fetch_orders(updated_since=SINCE, updated_until=UNTIL)]
    return listings, orders


def read_all(woo: FakeWoo) -> tuple[dict[str, Listing], list[Order]]:
    async def go() -> tuple[list[Listing], list[Order]]:
        async with woo_channel(woo) as channel:
            return await read(channel)

    listings, orders = run(go())
    return {listing.id: listing for listing in listings}, orders


def effects(order: Order) -> list[tuple[str, int, Status]]:
    return [(line.channel_sku, line.quantity, order.line_status(line)) for line in order.lines]


# -- variations -----------------------------------------------------------------------------


def test_a_variation_without_its_own_sku_is_not_its_parents_listing(woo: FakeWoo) -> None:
    parent, (small, plain) = woo.add_variable("TEE", [("TEE-S", 5), ("", 7)])
    woo.add_order([("TEE-S", 1)], modified=at(1))
    order = woo.add_order([("", 2)], modified=at(2))
    woo.orders[order]["line_items"][0] |= {"product_id": parent, "variation_id": plain}

    listings, orders = read_all(woo)
    # REST shows the parent's SKU for it; it is a listing without SKU, never written.
    assert listings[f"{parent}/{plain}"].channel_sku == ""
    assert listings[f"{parent}/{small}"].channel_sku == "TEE-S"
    assert [effects(o) for o in orders] == [
        [("TEE-S", 1, Status.PAID)],
        [("", 2, Status.PAID)],  # its sale is kept, unmapped, not put on the parent's SKU
    ]


def test_variations_that_sell_from_the_parents_stock_count_against_the_parent(
    woo: FakeWoo,
) -> None:
    parent, _ = woo.add_variable(
        "MUG", [("MUG-RED", None, "parent"), ("MUG-BLUE", None, "parent")], stock=10
    )
    woo.add_order([("MUG-RED", 2), ("MUG-BLUE", 1)], modified=at(1))

    listings, [order] = read_all(woo)
    assert [(x.channel_sku, x.quantity) for x in listings.values()] == [("MUG", 10)]
    assert effects(order) == [("MUG", 2, Status.PAID), ("MUG", 1, Status.PAID)]


# -- statuses -------------------------------------------------------------------------------


def test_refunds_restock_only_what_they_restocked(woo: FakeWoo) -> None:
    # Shipped, then refunded in full; one of the two tees came back to the shelf.
    shipped = woo.add_order([("TEE", 2), ("MUG", 1)], status="completed", modified=at(1))
    woo.refund(shipped, {0: 1}, status="refunded")
    # Paid, not shipped; one of two mugs refunded and restocked, the order goes on.
    waiting = woo.add_order([("MUG", 2)], status="processing", modified=at(2))
    woo.refund(waiting, {0: 1})
    # Refunded without any goods coming back: no stock moves.
    woo.add_order([("CAP", 1)], status="refunded", modified=at(3))

    _, orders = read_all(woo)
    assert [effects(o) for o in orders] == [
        [("TEE", 1, Status.COMPLETED), ("TEE", 1, Status.RETURNED), ("MUG", 1, Status.COMPLETED)],
        [("MUG", 1, Status.PAID)],
        [("CAP", 1, Status.COMPLETED)],
    ]


# -- writes ---------------------------------------------------------------------------------


def push(woo: FakeWoo, changes: list[QuantityChange]) -> dict[str, PushResult]:
    async def go() -> list[PushResult]:
        async with woo_channel(woo) as channel:
            return await channel.push_quantities(changes, run_id=1)

    return {result.listing_id: result for result in run(go())}


def test_a_failed_batch_write_is_re_read_and_never_overwrites_a_sale(woo: FakeWoo) -> None:
    tee, mug = woo.add_product("TEE", 10), woo.add_product("MUG", 5)
    woo.fail_next(Fault(status=500, match="/batch"))
    rereads = []

    def sell_after_the_failure(request: Request) -> None:
        if "include" in request.query:
            rereads.append(request)
            if len(rereads) == 2:  # a customer buys a tee while the write failed
                woo.sell("TEE", 1)

    woo.before.append(sell_after_the_failure)
    results = push(
        woo,
        [QuantityChange(str(tee), "TEE", 10, 8), QuantityChange(str(mug), "MUG", 5, 4)],
    )
    assert (results[str(tee)].outcome, results[str(tee)].current) == ("conflict", 9)
    assert results[str(mug)].outcome == "written"
    assert (woo.stock("TEE"), woo.stock("MUG")) == (9, 4)


def test_a_write_whose_answer_was_lost_is_not_sent_twice(woo: FakeWoo) -> None:
    tee = woo.add_product("TEE", 10)
    woo.lose_answers = 1  # applied, then the proxy answered 504

    results = push(woo, [QuantityChange(str(tee), "TEE", 10, 8)])
    assert results[str(tee)].outcome == "written"
    assert woo.stock("TEE") == 8
    assert len(woo.batches) == 1


# -- auth and routes ------------------------------------------------------------------------


def keys_in_urls(woo: FakeWoo) -> int:
    return sum("consumer_key" in r.query for r in woo.requests)


def test_a_refused_key_is_not_sent_again_and_the_message_says_what_to_check() -> None:
    # Behind a proxy that ends TLS without telling WordPress: Woo reads no key at all.
    woo = FakeWoo(sees_https=False)
    woo.add_product("TEE", 1)
    errors: list[str] = []

    async def go() -> None:
        async with woo_channel(woo) as channel:
            for _ in range(2):  # e.g. `check`, then the listings
                try:
                    await channel.list_listings()
                except ChannelAuthError as exc:
                    errors.append(exc.message)

    run(go())
    assert keys_in_urls(woo) == 1  # the one documented fallback, never again
    assert "HTTPS" in errors[0] and "Read/Write" in errors[0]
    assert len(errors) == 2
    assert woocommerce_api.KEY not in " ".join(errors)


def test_a_key_woo_says_is_invalid_never_goes_in_a_url() -> None:
    woo = FakeWoo(secret="cs_the_real_secret_000000")

    async def go() -> None:
        async with woo_channel(woo) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelAuthError, match="Read/Write"):
        run(go())
    assert keys_in_urls(woo) == 0


def test_a_site_on_plain_permalinks_is_reached_by_rest_route() -> None:
    woo = FakeWoo(plain_permalinks=True)
    tee = woo.add_product("TEE", 3)
    woo.add_order([("TEE", 1)], modified=at(1))

    listings, [order] = read_all(woo)
    assert listings[str(tee)].quantity == 3
    assert effects(order) == [("TEE", 1, Status.PAID)]
    served: list[Any] = [r.query.get("rest_route") for r in woo.requests[1:]]
    assert all(route and route.startswith("/wc/v3/") for route in served)
