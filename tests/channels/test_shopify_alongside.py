"""Shopify's orders read while its listings are: every sale counted once, none overwritten."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from omnisync.budget import Budget
from omnisync.channels.base import ChannelConfig, ChannelContext
from omnisync.channels.shopify import ORDER_PAGE, ShopifyChannel
from omnisync.config import load_config
from omnisync.httpclient import CostBucket
from omnisync.ledger import Ledger
from omnisync.report import RunReport
from omnisync.sync import SyncOptions, run_sync
from tests.channels.conftest import FAST, shopify_settings
from tests.fakes.server import Fault
from tests.fakes.shopify_api import Bucket, FakeShopify
from tests.helpers import Shop, invoke

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
STOCK = 50


def at(second: int) -> str:
    return f"2026-11-20T10:{second // 60:02d}:{second % 60:02d}Z"


def shopify_opener(fake: FakeShopify) -> Any:
    """An opener for run_sync that puts a Shopify adapter (over ASGI) behind channel "a"."""

    def open_(config: ChannelConfig, context: ChannelContext) -> ShopifyChannel:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
        return ShopifyChannel(
            config.name, shopify_settings(), client=client, policy=FAST, budget=context.budget
        )

    return open_


def sync(shop: Shop, fake: FakeShopify) -> RunReport:
    config = load_config(shop.config)
    with Ledger.open(shop.ledger, write=True) as ledger:
        options = SyncOptions(since=SINCE)
        return asyncio.run(run_sync(config, ledger, options, opener=shopify_opener(fake)))


def committed(runner: CliRunner, shop: Shop) -> dict[str, int]:
    result = invoke(runner, shop, "stock", "--json")
    assert result.exit_code == 0, result.output
    return {row["sku"]: row["committed"] for row in json.loads(result.stdout)}


def prepare(shop: Shop, runner: CliRunner, skus: list[str]) -> None:
    shop.write_channel("a")
    shop.write_config({"a": {}})
    counted = shop.root / "stock.csv"
    counted.write_text("sku,on_hand\n" + "".join(f"{sku},{STOCK}\n" for sku in skus))
    result = invoke(runner, shop, "stock", "import", str(counted))
    assert result.exit_code == 0, result.output


def a_shop(listings: int, *, latency: float = 0.0) -> tuple[FakeShopify, list[str]]:
    # A fast bucket, still paced: the run must never be answered THROTTLED.
    fake = FakeShopify(latency=latency, bucket=Bucket(rate=20_000.0))
    skus = [f"SKU-{n:03d}" for n in range(listings)]
    for sku in skus:
        fake.add_variant(sku, STOCK)
    return fake, skus


def order_ops(fake: FakeShopify) -> list[dict[str, Any]]:
    return [variables for operation, variables in fake.operations if operation == "Orders"]


def test_orders_read_beside_the_listings_apply_once_and_push_what_is_left(
    shop: Shop, runner: CliRunner
) -> None:
    # 300 listings (two pages) and more orders than three pages hold, on the first SKUs.
    fake, skus = a_shop(300, latency=0.01)
    count = ORDER_PAGE * 3 + 5
    for n in range(count):
        fake.add_order(1000 + n, [(skus[n % 40], 1)], updated=at(n))
    prepare(shop, runner, skus)

    report = sync(shop, fake)

    assert report.exit_code == 0, report.channels["a"].errors
    assert report.channels["a"].orders_fetched == count
    assert fake.throttled == 0
    # The order search started before the listings were all read.
    labels = [operation for operation, _ in fake.operations]
    assert labels.index("Orders") < len(labels) - labels[::-1].index("Listings") - 1
    # Each order took its unit once; each listing shows the stock left.
    sold = {sku: sum(1 for n in range(count) if skus[n % 40] == sku) for sku in skus}
    assert committed(runner, shop) == sold
    assert {sku: fake.available(sku) for sku in skus} == {sku: STOCK - sold[sku] for sku in skus}


def test_a_sale_made_while_the_listings_are_read_is_counted_not_written_over(
    shop: Shop, runner: CliRunner
) -> None:
    # One page of orders, read long before the 300 listings are: the search runs out first.
    fake, skus = a_shop(300, latency=0.02)
    fake.add_order(1, [(skus[0], 2)], updated=at(1))
    late_sku = skus[-1]

    def sell_on_the_last_listings_page(operation: str, variables: dict[str, Any]) -> None:
        if operation == "Listings" and variables.get("after"):
            # A customer buys 3 on Shopify now: the level drops, then the order appears.
            fake.sell(late_sku, 3)
            fake.add_order(2, [(late_sku, 3)], updated=at(30))

    fake.before.append(sell_on_the_last_listings_page)
    prepare(shop, runner, skus)

    report = sync(shop, fake)

    assert report.exit_code == 0, report.channels["a"].errors
    assert report.channels["a"].orders_fetched == 2
    assert committed(runner, shop)[late_sku] == 3
    # The listing showed 47 when read and the ledger says 47 are left: nothing to write,
    # and above all the 3 sold units were not written back.
    assert fake.available(late_sku) == STOCK - 3
    assert fake.available(skus[0]) == STOCK - 2
    # The search asked once more past its end, after the listings: one request, no more.
    assert len(order_ops(fake)) == 2
    assert order_ops(fake)[1]["first"] == 1


def test_an_order_changed_during_the_walk_applies_its_newest_state(
    shop: Shop, runner: CliRunner
) -> None:
    fake, skus = a_shop(10)
    count = ORDER_PAGE * 2 + 1
    for n in range(count):
        fake.add_order(1000 + n, [(skus[0], 1)], updated=at(n))
    first = fake.orders["gid://shopify/Order/1000"]

    def cancel_the_first(operation: str, variables: dict[str, Any]) -> None:
        if operation == "Orders" and variables.get("after") and first["cancelledAt"] is None:
            # Cancelled on Shopify after its page was read: it moves to the end of the search.
            fake.cancel(first, updated=at(600))

    fake.before.append(cancel_the_first)
    prepare(shop, runner, skus)

    report = sync(shop, fake)

    # Shown twice by the open search, which is no replayed page; counted once, as cancelled.
    assert report.exit_code == 0, report.channels["a"].errors
    assert report.channels["a"].orders_fetched == count
    assert committed(runner, shop)[skus[0]] == count - 1
    assert fake.available(skus[0]) == STOCK - (count - 1)


def test_a_read_off_the_critical_path_leaves_room_and_goes_once_let() -> None:
    async def go() -> tuple[bool, float]:
        budget = Budget("shop", 30.0)
        bucket = CostBucket(budget)
        # 10 points a second: waiting for the headroom would take 50 s.
        bucket.update(maximum=1000.0, available=600.0, rate=10.0)
        kept = [500.0]
        waiter = asyncio.create_task(bucket.reserve(300.0, leave=lambda: kept[0]))
        await asyncio.sleep(0.05)
        held = not waiter.done()
        started = time.monotonic()
        kept[0] = 0.0  # the order search is done
        bucket.nudge()
        await asyncio.wait_for(waiter, timeout=5.0)
        return held, time.monotonic() - started

    held, waited = asyncio.run(go())
    assert held
    assert waited < 1.0


def test_a_headroom_wait_never_fails_a_read_the_budget_can_pay_for() -> None:
    async def go() -> None:
        budget = Budget("shop", 0.3)
        bucket = CostBucket(budget)
        bucket.update(maximum=1000.0, available=0.0, rate=2500.0)
        # Its own 250 points take 0.1 s, within the budget; the headroom asked (a full
        # bucket, 0.4 s) is kept for others, not owed by this read.
        await bucket.reserve(250.0, leave=lambda: 5000.0)

    asyncio.run(go())


@pytest.mark.parametrize("factor", [1.0, 1.5])
def test_order_pages_after_the_first_fill_shopifys_limit_as_it_counts(factor: float) -> None:
    fake = FakeShopify(cost_factor=factor, bucket=Bucket(rate=20_000.0))
    for n in range(120):
        fake.add_order(100 + n, [("TEE", 1)], updated=at(n))

    async def go() -> int:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
        channel = ShopifyChannel("shop", shopify_settings(), client=client, policy=FAST)
        try:
            found = channel.fetch_orders(
                updated_since=SINCE, updated_until=datetime(2026, 12, 1, tzinfo=UTC)
            )
            return len([order async for order in found])
        finally:
            await channel.aclose()
            await client.aclose()

    assert asyncio.run(go()) == 120
    # Shopify's rule: a connection costs 2 plus `first` times its node; the limit is 1,000.
    # An order node as queried: 1 + retailLocation 1 + 5 fulfillments × 2 + lineItems
    # (2 + 5 × 3) + refunds (2 + 2 × (1 + 2 + 3 × 2)) = 49.
    sizes = [v["first"] for v in order_ops(fake)]
    costs = [int((2 + size * 49) * factor) for size in sizes]
    assert all(cost <= 1000 for cost in costs[1:])
    # No page after the first could have held one more order.
    assert all(int((2 + (size + 1) * 49) * factor) > 1000 for size in sizes[1:-1])


def test_on_a_draining_bucket_the_order_pages_go_first_and_the_listings_after(
    shop: Shop, runner: CliRunner
) -> None:
    # A bucket of 4,000 restoring 200 points a second (the Advanced plan's rate): each order
    # page spends more than comes back while it is out, so every point a listings page took
    # would hold up an order page later (Shopify charges the requested cost up front). The
    # listings wait; a last small order page follows them.
    fake, skus = a_shop(300, latency=0.005)
    fake.bucket = Bucket(maximum=4000.0, rate=200.0, available=4000.0)
    count = ORDER_PAGE * 2 + 5
    for n in range(count):
        fake.add_order(1000 + n, [(skus[n % 40], 1)], updated=at(n))
    prepare(shop, runner, skus)

    report = sync(shop, fake)

    assert report.exit_code == 0, report.channels["a"].errors
    assert fake.throttled == 0
    reads = [op for op, _ in fake.operations if op in ("Orders", "Listings")]
    assert reads == ["Orders"] * 3 + ["Listings"] * 2 + ["Orders"]
    assert order_ops(fake)[-1]["first"] == 1


def test_on_a_bucket_that_holds_steady_the_listings_go_beside_the_search_once_two_answers_show_it(
    shop: Shop, runner: CliRunner
) -> None:
    # A bucket of 2,000 that refills 200 points while a page is out (Shopify Plus, 1,000 a
    # second, at 200 ms a round trip; here 10,000 at 20 ms): more than an order page spends
    # (about 120 of the 982 it asks), so the bucket holds steady, even at its cap where its
    # level cannot rise (the first page, smaller, leaves it a little higher than the next).
    # The listings go beside the third order page, once two answers show it; read as
    # draining, they waited for a fourth answer or for the search to end. (When the second
    # listings page goes depends on the clock, so it is not asserted here.)
    fake, skus = a_shop(300, latency=0.02)
    fake.bucket = Bucket(maximum=2000.0, rate=10_000.0, available=2000.0)
    count = 200
    for n in range(count):
        fake.add_order(1000 + n, [(skus[n % 40], 1)], updated=at(n))
    prepare(shop, runner, skus)

    report = sync(shop, fake)

    assert report.exit_code == 0, report.channels["a"].errors
    assert report.channels["a"].orders_fetched == count
    assert fake.throttled == 0
    reads = [op for op, _ in fake.operations if op in ("Orders", "Listings")]
    assert reads.index("Listings") <= 3, reads
    sold = {sku: sum(1 for n in range(count) if skus[n % 40] == sku) for sku in skus}
    assert committed(runner, shop) == sold


def test_a_listings_read_that_fails_fails_the_channel_and_stops_the_order_search(
    shop: Shop, runner: CliRunner
) -> None:
    fake, skus = a_shop(10, latency=0.01)
    for n in range(ORDER_PAGE * 3):
        fake.add_order(1000 + n, [(skus[0], 1)], updated=at(n))
    fake.fail_next(Fault(status=404, body={"errors": "Not Found"}, match="Listings"))
    prepare(shop, runner, skus)

    report = sync(shop, fake)

    assert report.exit_code == 1
    assert report.channels["a"].status == "failed"
    assert committed(runner, shop)[skus[0]] == 0  # nothing half-read was applied
    assert not [op for op, _ in fake.operations if op == "SetQuantities"]


def test_an_answer_does_not_free_the_points_of_queries_sent_after_it() -> None:
    async def go() -> tuple[float, float]:
        bucket = CostBucket(Budget("shop", 30.0))
        bucket.update(maximum=2000.0, available=2000.0, rate=1.0)
        listings = await bucket.reserve(753.0)
        orders = await bucket.reserve(982.0)
        # Shopify answers the listings page: 2,000 less the 750 it spent. The order page,
        # sent after it, may have been charged after that figure was taken: still out.
        bucket.update(maximum=2000.0, available=1250.0, rate=1.0, answered=listings)
        after_listings = bucket.estimate() or 0.0
        bucket.update(maximum=2000.0, available=1150.0, rate=1.0, answered=orders)
        return after_listings, bucket.estimate() or 0.0

    after_listings, after_orders = asyncio.run(go())
    assert after_listings == pytest.approx(1250.0 - 982.0, abs=1.0)
    assert after_orders == pytest.approx(1150.0, abs=1.0)
