"""Issue 12: what a channel sends is checked before it counts, and one bad order fails itself."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from omnisync.budget import Budget
from omnisync.channels.base import ChannelConfig, ChannelContext, ReadProblem
from omnisync.channels.fake import FakeChannel, FakeSettings
from omnisync.channels.shopify import ORDER_PAGE
from omnisync.channels.woocommerce import WooCommerceChannel
from omnisync.config import load_config
from omnisync.errors import ChannelResponseError
from omnisync.ledger import Ledger
from omnisync.models import Order, QuantityChange
from omnisync.report import ChannelReport, RunReport
from omnisync.sync import SyncOptions, run_sync
from omnisync.sync.channel import ChannelRun
from tests.channels.conftest import FAST, run, shopify_channel, woo_channel, woo_settings
from tests.fakes.shopify_api import Bucket, FakeShopify
from tests.fakes.woocommerce_api import FakeWoo
from tests.helpers import Shop, invoke, listing, order

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def woo() -> FakeWoo:
    return FakeWoo()


@pytest.fixture
def shopify() -> FakeShopify:
    return FakeShopify()


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def sync_json(runner: CliRunner, shop: Shop, *args: str) -> tuple[int, dict[str, Any]]:
    result = invoke(runner, shop, "sync", "--json", *args)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def balances(runner: CliRunner, shop: Shop) -> dict[str, tuple[int, int]]:
    rows = json.loads(ok(invoke(runner, shop, "stock", "--json")).stdout)
    return {row["sku"]: (row["on_hand"], row["committed"]) for row in rows}


def cursors(runner: CliRunner, shop: Shop) -> dict[str, Any]:
    rows = json.loads(ok(invoke(runner, shop, "channels", "--json")).stdout)
    return {row["name"]: row.get("cursor") for row in rows}


async def woo_orders(
    woo: FakeWoo, since: datetime = SINCE
) -> tuple[list[Order], list[ReadProblem]]:
    async with woo_channel(woo) as channel:
        orders = [o async for o in channel.fetch_orders(updated_since=since, updated_until=UNTIL)]
        return orders, channel.read_problems()


# -- dropped pages: a window not read completely never moves the cursor --------------------


def woo_opener(woo: FakeWoo) -> Any:
    """An opener for run_sync that puts a WooCommerce adapter (over ASGI) behind any channel."""

    def open_(config: ChannelConfig, context: ChannelContext) -> WooCommerceChannel:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=woo))
        return WooCommerceChannel(
            config.name, woo_settings(), client=client, policy=FAST, budget=context.budget
        )

    return open_


def sync_woo(shop: Shop, woo: FakeWoo, **options: Any) -> RunReport:
    config = load_config(shop.config)
    with Ledger.open(shop.ledger, write=True) as ledger:
        return asyncio.run(run_sync(config, ledger, SyncOptions(**options), opener=woo_opener(woo)))


def test_a_woo_page_answered_with_the_previous_one_fails_the_run_and_keeps_the_cursor(
    shop: Shop, runner: CliRunner
) -> None:
    # 150 orders of one unit: two pages of 100. A proxy answers page 2 with page 1's rows.
    shop.write_channel("a")
    shop.write_config({"a": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "500", "--new"))
    woo = FakeWoo()
    woo.add_product("TEE-M", 500)
    for minute in range(150):
        woo.add_order(
            [("TEE-M", 1)], modified=f"2026-11-20T10:{minute // 60:02d}:{minute % 60:02d}"
        )
    woo.stale_pages = {2}

    report = sync_woo(shop, woo, since=SINCE)

    assert report.exit_code == 1
    [error] = report.channels["a"].errors
    assert "page 2 repeats" in error
    assert balances(runner, shop) == {"TEE-M": (500, 0)}  # nothing applied from a partial read
    assert cursors(runner, shop) == {"a": None}  # so the next run reads the whole window

    woo.stale_pages = set()
    report = sync_woo(shop, woo)
    assert report.exit_code == 0
    assert balances(runner, shop) == {"TEE-M": (500, 150)}


def test_a_woo_walk_that_reads_fewer_orders_than_x_wp_total_fails(woo: FakeWoo) -> None:
    for minute in range(3):
        woo.add_order([("TEE-M", 1)], modified=f"2026-11-20T10:0{minute}:00")

    async def go() -> None:
        async with woo_channel(woo) as channel:
            # A plugin hides an order from the list but still counts it in X-WP-Total.
            hidden = min(woo.orders)
            real = woo._page

            def page(request: Any, rows: list[dict[str, Any]]) -> Any:
                answer = real(request, rows)
                if request.path.endswith("/orders"):
                    answer.body = [row for row in answer.body if row["id"] != hidden]
                return answer

            woo._page = page  # type: ignore[method-assign]
            [o async for o in channel.fetch_orders(updated_since=SINCE, updated_until=UNTIL)]

    with pytest.raises(ChannelResponseError) as caught:
        run(go())
    assert "read 2 of the 3 items the shop says it holds" in caught.value.message


def test_a_shopify_page_answered_with_the_previous_one_fails_the_fetch(
    shopify: FakeShopify,
) -> None:
    # Three pages; a proxy answers the second with the first's answer, hiding its orders.
    for number in range(1, ORDER_PAGE * 2 + 3):
        shopify.add_order(
            number, [("TEE-M", 1)], updated=f"2026-11-20T10:{number // 60:02d}:{number % 60:02d}Z"
        )
    shopify.repeat_order_pages = 1

    async def go() -> None:
        async with shopify_channel(shopify) as channel:
            [o async for o in channel.fetch_orders(updated_since=SINCE, updated_until=UNTIL)]

    with pytest.raises(ChannelResponseError) as caught:
        run(go())
    assert "not read completely" in caught.value.message


# -- impossible values: refused at the edge, the order named -------------------------------


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        pytest.param("quantity", -2, "orders[0].line_items[0].quantity", id="negative"),
        pytest.param("quantity", 2**62, "orders[0].line_items[0].quantity", id="2^62"),
        pytest.param("quantity", "2.0", "orders[0].line_items[0].quantity", id="text"),
        pytest.param("quantity", None, "orders[0].line_items[0].quantity", id="null"),
    ],
)
def test_a_woo_line_quantity_no_shop_sends_makes_its_order_unreadable(
    woo: FakeWoo, field: str, value: Any, path: str
) -> None:
    bad = woo.add_order([("TEE-M", 1)], modified="2026-11-20T10:00:00")
    good = woo.add_order([("TEE-M", 3)], modified="2026-11-20T10:01:00")
    woo.orders[bad]["line_items"][0][field] = value

    orders, problems = run(woo_orders(woo))

    assert [(o.id, o.lines[0].quantity) for o in orders] == [(str(good), 3)]
    [problem] = problems
    assert (problem.order_id, problem.field, problem.value) == (
        str(bad),
        path,
        json.dumps(value),
    )


def test_a_woo_order_without_an_id_is_skipped_never_stored_as_none(woo: FakeWoo) -> None:
    bad = woo.add_order([("TEE-M", 1)], modified="2026-11-20T10:00:00")
    woo.orders[bad]["id"] = None

    orders, problems = run(woo_orders(woo))

    assert orders == []
    [problem] = problems
    assert (problem.order_id, problem.field) == (None, "orders[0].id")


def test_a_woo_zero_date_makes_its_order_unreadable_naming_the_field(woo: FakeWoo) -> None:
    bad = woo.add_order([("TEE-M", 1)], modified="2026-11-20T10:00:00")
    woo.orders[bad]["date_created_gmt"] = "0000-00-00 00:00:00"

    _, problems = run(woo_orders(woo))

    [problem] = problems
    assert (problem.order_id, problem.field, problem.value) == (
        str(bad),
        "orders[0].date_created_gmt",
        '"0000-00-00 00:00:00"',
    )


def test_a_shopify_negative_line_quantity_makes_its_order_unreadable(
    shopify: FakeShopify,
) -> None:
    bad = shopify.add_order(1, [("TEE-M", 1)], updated="2026-11-20T10:00:00Z")
    good = shopify.add_order(2, [("TEE-M", 1)], updated="2026-11-20T10:00:01Z")
    bad["lineItems"][0]["currentQuantity"] = -2

    async def go() -> tuple[list[Order], list[ReadProblem]]:
        async with shopify_channel(shopify) as channel:
            fetched = [
                o async for o in channel.fetch_orders(updated_since=SINCE, updated_until=UNTIL)
            ]
            return fetched, channel.read_problems()

    orders, problems = run(go())
    assert [o.id for o in orders] == [good["id"]]
    [problem] = problems
    assert (problem.order_id, problem.field) == (
        bad["id"],
        "data.orders.nodes[0].lineItems.nodes[0].currentQuantity",
    )


# -- one bad order fails itself, never its channel nor the run -----------------------------


def test_duplicate_line_ids_fail_that_order_and_every_channel_still_syncs(
    shop: Shop, runner: CliRunner
) -> None:
    twice = order("9", "paid", [("TEE-M", 1), ("MUG", 1)])
    twice["lines"][1]["id"] = twice["lines"][0]["id"]
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10)],
        orders=[twice, order("10", "paid", [("TEE-M", 2)])],
    )
    shop.write_channel("b", listings=[listing("B1", "TEE-M", 10)])
    shop.write_config({"a": {}, "b": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))
    ok(invoke(runner, shop, "stock", "set", "MUG", "10", "--new"))

    code, report = sync_json(runner, shop, "--since", "2026-11-01T00:00:00Z")

    assert code == 1
    [error] = report["channels"]["a"]["errors"]
    assert error.startswith("order 9 cannot be read (lines[1].id: ")
    assert report["channels"]["a"]["status"] == "ok"
    assert balances(runner, shop) == {"MUG": (10, 0), "TEE-M": (10, 2)}  # order 10 applied
    assert shop.quantities("b") == {"B1": 8}  # the healthy channel was synced
    runs = json.loads(ok(invoke(runner, shop, "runs", "--json")).stdout)
    assert [run["exit_code"] for run in runs] == [1]


def test_an_unreadable_order_is_reported_every_run_until_a_readable_version_comes(
    shop: Shop, runner: CliRunner
) -> None:
    broken = order("7", "paid", [("TEE-M", 2)])
    broken["lines"][0]["quantity"] = "2.0"
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 10)], orders=[broken])
    shop.write_config({"a": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))

    first, report = sync_json(runner, shop, "--since", "2026-11-01T00:00:00Z")
    assert first == 1
    [error] = report["channels"]["a"]["errors"]
    assert "order 7 cannot be read" in error and "orders[0].lines[0].quantity" in error

    # The channel no longer sends it (it left the window): still reported, still exit 1.
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 10)], orders=[])
    second, report = sync_json(runner, shop)
    assert second == 1
    assert "order 7 cannot be read" in report["channels"]["a"]["errors"][0]

    # A readable version (the seller fixed it on the channel) applies and clears it.
    fixed = order("7", "paid", [("TEE-M", 2)], updated="2026-11-21T09:00:00Z")
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 10)], orders=[fixed])
    third, report = sync_json(runner, shop)
    assert third == 0, report
    assert report["channels"]["a"]["errors"] == []
    assert balances(runner, shop) == {"TEE-M": (10, 2)}


# -- orders dated in the future: applied, clock skew reported ------------------------------


def test_an_order_dated_in_the_future_is_applied_with_a_clock_warning(
    shop: Shop, runner: CliRunner
) -> None:
    ahead = order("5", "paid", [("TEE-M", 3)], updated="2099-01-01T00:00:00Z")
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 10)], orders=[ahead])
    shop.write_config({"a": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))

    result = invoke(runner, shop, "sync", "--since", "2026-11-01T00:00:00Z")

    assert result.exit_code == 0, result.output
    assert balances(runner, shop) == {"TEE-M": (10, 3)}
    assert "a: warning: 1 order(s) dated in the future (latest 5 at 2099-01-01" in result.stderr
    assert shop.quantities("a") == {"A1": 7}


def test_a_woo_gmt_date_carrying_an_offset_is_read_as_the_moment_it_names(
    woo: FakeWoo,
) -> None:
    # 10:00 at +07:00 is 03:00 UTC; Woo's filter let it through, and it must not be dropped.
    shifted = woo.add_order([("TEE-M", 1)], modified="2026-11-20T10:00:00+07:00")
    orders, _ = run(woo_orders(woo, since=datetime(2026, 11, 20, 5, tzinfo=UTC)))
    assert [(o.id, o.updated_at) for o in orders] == [
        (str(shifted), datetime(2026, 11, 20, 3, tzinfo=UTC))
    ]


# -- the JSON-file channel leaves no temp files behind -------------------------------------


def test_temp_files_of_killed_writes_do_not_accumulate(tmp_path: Path) -> None:
    path = tmp_path / "web.json"
    path.write_text(json.dumps({"listings": [listing("L1", "TEE-M", 5)], "orders": []}))
    # What runs killed mid-write left: older versions' random names, and the fixed one.
    (tmp_path / ".web.json.k3j_h5g6").write_text("{")
    (tmp_path / ".web.json.omnisync-tmp").write_text("{")
    (tmp_path / "notes.txt").write_text("mine")
    fake = FakeChannel("web", path)

    for target in (4, 3):
        expected = target + 1
        [result] = asyncio.run(
            fake.push_quantities([QuantityChange("L1", "TEE-M", expected, target)], run_id=1)
        )
        assert result.outcome == "written"

    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "web.json"]


# -- one order bigger than a run's budget cannot starve its channel ------------------------


def test_a_shopify_order_with_more_lines_than_a_budget_reads_gets_its_own_time() -> None:
    # A bucket that refills one follow-up page of lines (753 points) in about 0.4 s, and a
    # channel budget of 0.6 s: the order's 4 follow-up pages alone need about 1.5 s.
    shopify = FakeShopify(bucket=Bucket(maximum=1000, rate=2000, available=1000))
    big = shopify.add_order(1, [("TEE-M", 1)] * 800, updated="2026-11-20T10:00:00Z")
    small = shopify.add_order(2, [("MUG", 1)], updated="2026-11-20T10:00:01Z")

    async def go() -> list[Order]:
        async with shopify_channel(shopify, timeout=0.6) as channel:
            return [o async for o in channel.fetch_orders(updated_since=SINCE, updated_until=UNTIL)]

    orders = run(go())
    assert [(o.id, len(o.lines)) for o in orders] == [(big["id"], 800), (small["id"], 1)]


def test_the_engine_s_deadline_follows_a_budget_an_adapter_extends() -> None:
    budget = Budget("a", 0.2)
    report = ChannelReport()
    config = ChannelConfig("a", "fake", FakeSettings(path="x.json"), Path("."))
    channel_run = ChannelRun(config, FakeChannel("a", Path("x.json")), report, budget)

    async def go() -> bool:
        done = False
        async with channel_run.guarded():
            budget.extend(0.3)
            await asyncio.sleep(0.35)  # past the first deadline, within the extended one
            done = True
        return done

    assert asyncio.run(go()) is True
    assert report.status == "ok", report.errors


def test_an_unreadable_order_is_said_once_even_when_a_sale_races_the_push(
    shop: Shop, runner: CliRunner
) -> None:
    """A conflict re-fetches the channel's orders, which meets the unreadable one again: the
    report still names it once, so cron mail does not repeat it per conflict round."""
    broken = order("7", "paid", [("TEE-M", 2)])
    broken["lines"][0]["quantity"] = "2.0"
    sale = order("S1", "paid", [("TEE-M", 1)], created="2026-11-20T10:00:00Z")
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10)],
        orders=[broken, order("10", "paid", [("TEE-M", 2)])],
        sales_during_sync=[sale],
    )
    shop.write_config({"a": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))

    code, report = sync_json(runner, shop, "--since", "2026-11-01T00:00:00Z")

    assert code == 1
    assert report["channels"]["a"]["conflicts_seen"] == 1
    [error] = report["channels"]["a"]["errors"]
    assert error.startswith("order 7 cannot be read")
    assert balances(runner, shop) == {"TEE-M": (10, 3)}
    assert shop.quantities("a") == {"A1": 7}
