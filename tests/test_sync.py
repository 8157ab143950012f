"""`omnisync sync` end to end on fake (JSON-file) channels, and the engine on memory channels."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnisync.channels.base import ChannelConfig, ChannelSettings
from omnisync.config import Config, SkuOverride
from omnisync.errors import ChannelAuthError, ChannelUnavailableError
from omnisync.ledger import Ledger
from omnisync.models import Listing, QuantityChange, Status
from omnisync.report import RunReport
from omnisync.stock import set_stock
from omnisync.sync import SyncOptions, run_sync
from tests.fakes.memory_channel import MemoryChannel, at, make_order
from tests.helpers import Shop, invoke, listing, order

SINCE = "2026-11-01"  # before every order the tests write: a first sync that counts them all


# -- helpers for the command line ----------------------------------------------------------


def sync_json(runner: CliRunner, shop: Shop, *args: str) -> tuple[int, dict[str, Any]]:
    """Run `sync --json ARGS…`; return the exit code and the report (stdout must be JSON)."""
    result = invoke(runner, shop, "sync", "--json", *args)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def stock_in(runner: CliRunner, shop: Shop, **counts: int) -> None:
    for sku, quantity in counts.items():
        result = invoke(runner, shop, "stock", "set", sku, str(quantity), "--new")
        assert result.exit_code == 0, result.output


def balances(runner: CliRunner, shop: Shop) -> dict[str, tuple[int, int]]:
    """SKU -> (on_hand, committed), as `stock --json` shows them."""
    result = invoke(runner, shop, "stock", "--json")
    assert result.exit_code == 0, result.output
    return {row["sku"]: (row["on_hand"], row["committed"]) for row in json.loads(result.stdout)}


def channel_states(runner: CliRunner, shop: Shop) -> dict[str, dict[str, Any]]:
    result = invoke(runner, shop, "channels", "--json")
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


def table_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("movements", "orders", "order_lines", "runs", "channel_state", "listings")
        }
    finally:
        conn.close()


@pytest.fixture
def two_shops(shop: Shop, runner: CliRunner) -> Shop:
    """Channels a and b, each listing TEE-M (10 in stock) and MUG (5), all in step."""
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)])
    shop.write_channel("b", listings=[listing("B1", "TEE-M", 10), listing("B2", "MUG", 5)])
    shop.write_config({"a": {}, "b": {}})
    stock_in(runner, shop, **{"TEE-M": 10, "MUG": 5})
    return shop


# -- an order on one channel moves stock everywhere ----------------------------------------


def test_an_order_on_one_channel_changes_stock_on_every_channel(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[order("1001", "paid", [("TEE-M", 2)])],
    )

    code, report = sync_json(runner, shop, "--since", SINCE)

    assert code == 0
    assert shop.quantities("a") == {"A1": 8, "A2": 5}
    assert shop.quantities("b") == {"B1": 8, "B2": 5}
    assert balances(runner, shop) == {"TEE-M": (10, 2), "MUG": (5, 0)}
    assert report["channels"]["a"]["movements"] == 1
    assert report["channels"]["a"]["orders_fetched"] == 1
    assert report["channels"]["b"]["listings_pushed"] == 1


@pytest.mark.parametrize(
    ("status", "restock_returns", "expected", "shown"),
    [
        ("pending", True, (10, 3), 7),
        ("paid", True, (10, 3), 7),
        ("shipped", True, (7, 0), 7),
        ("completed", True, (7, 0), 7),
        ("cancelled", True, (10, 0), 10),
        ("returned", True, (10, 0), 10),
        ("returned", False, (7, 0), 7),
    ],
)
def test_each_status_does_what_the_spec_table_says(
    shop: Shop,
    runner: CliRunner,
    status: str,
    restock_returns: bool,
    expected: tuple[int, int],
    shown: int,
) -> None:
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10)],
        orders=[order("1", status, [("TEE-M", 3)])],
    )
    shop.write_config({"a": {}}, f"[sync]\nrestock_returns = {str(restock_returns).lower()}")
    stock_in(runner, shop, **{"TEE-M": 10})

    code, _ = sync_json(runner, shop, "--since", SINCE)

    assert code == 0
    assert balances(runner, shop) == {"TEE-M": expected}
    assert shop.quantities("a") == {"A1": shown}


def test_running_sync_again_changes_nothing(two_shops: Shop, runner: CliRunner) -> None:
    shop = two_shops
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)]), order("2", "shipped", [("MUG", 1)])],
    )
    sync_json(runner, shop, "--since", SINCE)
    after_first = balances(runner, shop)
    files = {name: shop.channel_path(name).read_bytes() for name in ("a", "b")}
    moves = table_counts(shop.ledger)["movements"]

    code, report = sync_json(runner, shop)

    assert code == 0
    for name in ("a", "b"):
        assert report["channels"][name]["movements"] == 0
        assert report["channels"][name]["listings_pushed"] == 0
        assert report["channels"][name]["listings_unchanged"] == 2
        assert shop.channel_path(name).read_bytes() == files[name]
    assert balances(runner, shop) == after_first == {"TEE-M": (10, 2), "MUG": (4, 0)}
    assert table_counts(shop.ledger)["movements"] == moves


def test_an_order_cancelled_between_runs_gives_its_stock_back(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    listings = [listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)]
    shop.write_channel("a", listings=listings, orders=[order("1", "paid", [("TEE-M", 2)])])
    sync_json(runner, shop, "--since", SINCE)
    assert shop.quantities("b")["B1"] == 8

    cancelled = order("1", "cancelled", [("TEE-M", 2)], updated="2026-11-21T10:00:00Z")
    shop.write_channel("a", listings=shop.read_channel("a")["listings"], orders=[cancelled])
    code, report = sync_json(runner, shop)

    assert code == 0
    assert report["channels"]["a"]["movements"] == 1
    assert balances(runner, shop)["TEE-M"] == (10, 0)
    assert shop.quantities("a")["A1"] == shop.quantities("b")["B1"] == 10


def test_orders_created_before_the_start_time_are_ignored_even_after_a_status_change(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10)],
        orders=[order("old", "paid", [("TEE-M", 2)], created="2026-11-19T09:00:00Z")],
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 10})
    code, _ = sync_json(runner, shop, "--since", "2026-11-20T00:00:00Z")
    assert code == 0
    assert balances(runner, shop) == {"TEE-M": (10, 0)}

    shipped = order(
        "old",
        "shipped",
        [("TEE-M", 2)],
        created="2026-11-19T09:00:00Z",
        updated="2026-11-21T09:00:00Z",
    )
    shop.write_channel("a", listings=shop.read_channel("a")["listings"], orders=[shipped])
    code, report = sync_json(runner, shop)

    assert code == 0
    assert report["channels"]["a"]["movements"] == 0
    assert balances(runner, shop) == {"TEE-M": (10, 0)}
    assert shop.quantities("a") == {"A1": 10}


@pytest.mark.parametrize(
    ("since", "expected"),
    [((), (10, 0)), (("--since", SINCE), (10, 2))],
    ids=["first-sync-starts-now", "since-sets-the-start"],
)
def test_since_on_the_first_sync_sets_the_start_time(
    shop: Shop, runner: CliRunner, since: tuple[str, ...], expected: tuple[int, int]
) -> None:
    shop.write_channel(
        "a", listings=[listing("A1", "TEE-M", 10)], orders=[order("1", "paid", [("TEE-M", 2)])]
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 10})

    sync_json(runner, shop, *since)

    assert balances(runner, shop) == {"TEE-M": expected}
    start = channel_states(runner, shop)["a"]["start_time"]
    if since:
        assert start == "2026-11-01T00:00:00.000000Z"
    else:
        assert start > "2026-11-20T09:00:00"


@pytest.mark.parametrize(
    ("overlap", "late_applied"), [("10m", False), ("30m", True)], ids=["outside", "inside"]
)
def test_the_next_window_starts_overlap_before_the_cursor(
    shop: Shop, runner: CliRunner, overlap: str, late_applied: bool
) -> None:
    listings = [listing("A1", "TEE-M", 10)]
    first = order("1", "paid", [("TEE-M", 1)], updated="2026-11-20T10:00:00Z")
    shop.write_channel("a", listings=listings, orders=[first])
    shop.write_config({"a": {}}, f'[sync]\noverlap = "{overlap}"')
    stock_in(runner, shop, **{"TEE-M": 10})
    sync_json(runner, shop, "--since", SINCE)
    assert channel_states(runner, shop)["a"]["cursor"] == "2026-11-20T10:00:00.000000Z"

    # Two updates that landed behind the cursor: 5 and 20 minutes before it.
    near = order("2", "paid", [("TEE-M", 1)], updated="2026-11-20T09:55:00Z")
    far = order("3", "paid", [("TEE-M", 1)], updated="2026-11-20T09:40:00Z")
    shop.write_channel("a", listings=shop.read_channel("a")["listings"], orders=[first, near, far])
    sync_json(runner, shop)

    committed = balances(runner, shop)["TEE-M"][1]
    assert committed == (3 if late_applied else 2)


def test_since_later_than_the_cursor_widens_nothing_away(shop: Shop, runner: CliRunner) -> None:
    # `--since` re-reads from WHEN; it must not skip the updates between the cursor and WHEN.
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10)],
        orders=[order("1", "paid", [("TEE-M", 1)], updated="2026-11-20T10:00:00Z")],
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 10})
    sync_json(runner, shop, "--since", SINCE)
    between = order(
        "2", "paid", [("TEE-M", 2)], created="2026-11-21T09:00:00Z", updated="2026-11-21T10:00:00Z"
    )
    after = order(
        "3", "paid", [("TEE-M", 3)], created="2026-11-22T09:00:00Z", updated="2026-11-22T12:00:00Z"
    )
    shop.write_channel("a", listings=shop.read_channel("a")["listings"], orders=[between, after])

    code, report = sync_json(runner, shop, "--since", "2026-11-22")

    assert code == 0
    assert report["channels"]["a"]["movements"] == 2
    assert balances(runner, shop)["TEE-M"] == (10, 6)
    assert shop.quantities("a") == {"A1": 4}


# -- unmapped lines ------------------------------------------------------------------------


def test_an_unmapped_line_is_reported_then_applied_once_the_sku_exists(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "SCARF", 4)],
        orders=[order("7", "paid", [("TEE-M", 1), ("SCARF", 1)])],
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 10})

    code, report = sync_json(runner, shop, "--since", SINCE)
    assert code == 1
    assert report["unmapped"] == [
        {"channel": "a", "channel_sku": "SCARF", "orders": ["7"], "listings": ["A2"]}
    ]
    assert balances(runner, shop) == {"TEE-M": (10, 1)}
    assert shop.quantities("a") == {"A1": 9, "A2": 4}  # a listing that maps nowhere: untouched

    # Reported on every run while it waits, even though the order is outside the window now.
    code, report = sync_json(runner, shop)
    assert code == 1
    assert report["unmapped"][0]["channel_sku"] == "SCARF"

    assert invoke(runner, shop, "stock", "add", "SCARF", "3", "--new").exit_code == 0
    code, report = sync_json(runner, shop)

    assert code == 0
    assert report["unmapped"] == []
    assert balances(runner, shop) == {"TEE-M": (10, 1), "SCARF": (3, 1)}
    assert shop.quantities("a") == {"A1": 9, "A2": 2}


def test_an_unmapped_line_is_applied_once_a_mapping_entry_appears(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10)],
        orders=[order("7", "shipped", [("SHP-TEE", 2)])],
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 10})
    code, report = sync_json(runner, shop, "--since", SINCE)
    assert code == 1
    assert report["unmapped"] == [
        {"channel": "a", "channel_sku": "SHP-TEE", "orders": ["7"], "listings": []}
    ]

    shop.write_config({"a": {}}, '[mapping.a]\n"SHP-TEE" = "TEE-M"')
    code, report = sync_json(runner, shop)

    assert code == 0
    assert report["unmapped"] == []
    assert balances(runner, shop) == {"TEE-M": (8, 0)}
    assert shop.quantities("a") == {"A1": 8}


def test_an_unmapped_line_prints_how_to_fix_it(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel(
        "a", listings=[listing("A1", "TEE-M", 1)], orders=[order("7", "paid", [("SCARF", 1)])]
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 1})

    result = invoke(runner, shop, "sync", "--since", SINCE)

    assert result.exit_code == 1
    assert (
        "unmapped: a SKU 'SCARF' maps to no SKU (orders 7); add it with "
        "`omnisync stock add SCARF 0 --new` or a [mapping.a] entry"
    ) in result.stderr


# -- what is pushed ------------------------------------------------------------------------


def test_a_bundle_order_moves_its_components_and_its_listing_follows_them(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel(
        "a",
        listings=[listing("A1", "GIFT", 0), listing("A2", "MUG", 0), listing("A3", "TEE-M", 0)],
        orders=[order("1", "paid", [("GIFT", 2)])],
    )
    shop.write_config({"a": {}}, '[bundles]\n"GIFT" = { "MUG" = 1, "TEE-M" = 2 }')
    stock_in(runner, shop, **{"TEE-M": 11, "MUG": 9})

    code, _ = sync_json(runner, shop, "--since", SINCE)

    assert code == 0
    assert balances(runner, shop) == {"MUG": (9, 2), "TEE-M": (11, 4)}
    # TEE-M: 7 available, two per set -> 3 sets; MUG allows 7.
    assert shop.quantities("a") == {"A1": 3, "A2": 7, "A3": 7}


def test_buffer_and_share_shape_each_channels_target(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 0)])
    shop.write_channel("b", listings=[listing("B1", "TEE-M", 0)])
    shop.write_channel("c", listings=[listing("C1", "TEE-M", 0)])
    shop.write_config({"a": {"buffer": 2}, "b": {"share": 0.5}, "c": {"share": 0.5, "buffer": 4}})
    stock_in(runner, shop, **{"TEE-M": 9})

    sync_json(runner, shop, "--force")

    assert shop.quantities("a") == {"A1": 7}
    assert shop.quantities("b") == {"B1": 4}
    assert shop.quantities("c") == {"C1": 0}


def test_an_oversold_sku_is_pushed_0_everywhere_and_reported_with_its_orders(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    stock_in(runner, shop, **{"TEE-M": 2})
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 2), listing("A2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)], created="2026-11-20T08:00:00Z")],
    )
    shop.write_channel(
        "b",
        listings=[listing("B1", "TEE-M", 2), listing("B2", "MUG", 5)],
        orders=[order("9", "paid", [("TEE-M", 1)], created="2026-11-20T09:00:00Z")],
    )

    result = invoke(runner, shop, "sync", "--since", SINCE, "--json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["exit_code"] == 1
    assert report["oversold"] == [{"sku": "TEE-M", "available": -1, "orders": ["b:9"]}]
    assert shop.quantities("a") == {"A1": 0, "A2": 5}
    assert shop.quantities("b") == {"B1": 0, "B2": 5}


def test_only_listings_that_differ_from_their_target_are_written(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 3), listing("A2", "MUG", 5)])
    shop.write_channel("b", listings=[listing("B1", "TEE-M", 10), listing("B2", "MUG", 5)])
    shop.write_config({"a": {}, "b": {}})
    stock_in(runner, shop, **{"TEE-M": 10, "MUG": 5})
    untouched = shop.channel_path("b").read_bytes()

    code, report = sync_json(runner, shop)

    assert code == 0
    assert shop.quantities("a") == {"A1": 10, "A2": 5}
    assert report["channels"]["a"]["listings_pushed"] == 1
    assert report["channels"]["a"]["listings_unchanged"] == 1
    assert [c["listing_id"] for c in report["channels"]["a"]["changes"]] == ["A1"]
    assert report["channels"]["b"]["listings_pushed"] == 0
    assert report["channels"]["b"]["listings_unchanged"] == 2
    assert shop.channel_path("b").read_bytes() == untouched


def test_a_sale_between_read_and_write_is_never_overwritten_back_into_stock(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    sale = order("S1", "paid", [("TEE-M", 1)], created="2026-11-20T10:00:00Z")
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        sales_during_sync=[sale],
    )
    shop.write_channel(
        "b",
        listings=[listing("B1", "TEE-M", 10), listing("B2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)])],
    )

    code, report = sync_json(runner, shop, "--since", SINCE)

    assert code == 0
    assert report["channels"]["a"]["conflicts_seen"] == 1
    # The sale is in the ledger, and both channels show the target that includes it.
    assert balances(runner, shop)["TEE-M"] == (10, 3)
    assert shop.quantities("a") == {"A1": 7, "A2": 5}
    assert shop.quantities("b") == {"B1": 7, "B2": 5}

    code, report = sync_json(runner, shop)
    assert code == 0
    assert report["channels"]["a"]["movements"] == 0
    assert balances(runner, shop)["TEE-M"] == (10, 3)


def test_max_change_refuses_a_wipe_and_force_allows_it(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel("a", listings=[listing(f"A{i}", f"SKU{i}", 5) for i in range(4)])
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{f"SKU{i}": 0 for i in range(4)})
    before = shop.channel_path("a").read_bytes()

    result = invoke(runner, shop, "sync")

    assert result.exit_code == 1
    assert shop.channel_path("a").read_bytes() == before
    assert (
        "a: would set 4 of 4 listings to 0, more than max_change (50%); nothing was pushed "
        "to this channel. If that is right, run again with --force"
    ) in result.stderr

    code, report = sync_json(runner, shop, "--force")

    assert code == 0
    assert report["channels"]["a"]["listings_pushed"] == 4
    assert shop.quantities("a") == {f"A{i}": 0 for i in range(4)}


def test_max_change_lets_a_push_through_that_zeroes_few_listings(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel("a", listings=[listing(f"A{i}", f"SKU{i}", 5) for i in range(4)])
    shop.write_config({"a": {}})
    stock_in(runner, shop, SKU0=0, SKU1=0, SKU2=5, SKU3=5)

    code, _ = sync_json(runner, shop)

    assert code == 0
    assert shop.quantities("a") == {"A0": 0, "A1": 0, "A2": 5, "A3": 5}


def test_dry_run_writes_nothing_yet_shows_the_plan(two_shops: Shop, runner: CliRunner) -> None:
    shop = two_shops
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[order("1001", "paid", [("TEE-M", 2)])],
    )
    counts = table_counts(shop.ledger)
    files = {name: shop.channel_path(name).read_bytes() for name in ("a", "b")}

    result = invoke(runner, shop, "sync", "--dry-run", "--since", SINCE)

    assert result.exit_code == 0, result.output
    assert table_counts(shop.ledger) == counts
    assert {name: shop.channel_path(name).read_bytes() for name in ("a", "b")} == files
    assert "Dry run: nothing was written" in result.stdout
    plan_rows = [line.split() for line in result.stdout.splitlines() if "planned" in line]
    assert sorted(plan_rows) == [
        ["a", "A1", "TEE-M", "10", "8", "planned"],
        ["b", "B1", "TEE-M", "10", "8", "planned"],
    ]
    assert "a: orders to apply: 1001" in result.stdout

    code, report = sync_json(runner, shop, "--dry-run", "--since", SINCE)
    assert report["dry_run"] is True
    assert report["run_id"] is None
    assert report["channels"]["a"]["movements"] == 1
    assert report["channels"]["b"]["changes"] == [
        {
            "listing_id": "B1",
            "channel_sku": "TEE-M",
            "before": 10,
            "after": 8,
            "outcome": "planned",
            "detail": "",
        }
    ]
    assert table_counts(shop.ledger) == counts

    # The real run that follows does exactly what was planned.
    code, report = sync_json(runner, shop, "--since", SINCE)
    assert code == 0
    assert shop.quantities("a")["A1"] == shop.quantities("b")["B1"] == 8


def test_channel_option_limits_the_run_to_the_named_channels(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    shop.write_channel(
        "b",
        listings=[listing("B1", "TEE-M", 10), listing("B2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)])],
    )
    untouched = shop.channel_path("a").read_bytes()

    code, report = sync_json(runner, shop, "--channel", "b", "--since", SINCE)

    assert code == 0
    assert list(report["channels"]) == ["b"]
    assert shop.channel_path("a").read_bytes() == untouched
    assert shop.quantities("b") == {"B1": 8, "B2": 5}
    assert channel_states(runner, shop)["a"]["start_time"] is None


def test_an_unknown_channel_name_exits_2_and_names_the_known_ones(
    two_shops: Shop, runner: CliRunner
) -> None:
    result = invoke(runner, two_shops, "sync", "--json", "--channel", "nope")

    assert result.exit_code == 2
    assert result.stdout == ""  # a script reading --json gets nothing rather than half a report
    assert result.stderr == (
        f"Error: --channel nope: no such channel in {two_shops.config} (a, b)\n"
    )
    assert "Traceback" not in result.output


def test_json_prints_only_the_run_report_with_every_spec_field(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)])],
    )

    result = invoke(runner, shop, "sync", "--json", "--since", SINCE, catch_exceptions=False)

    report = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert result.exit_code == 0
    assert {
        "run_id",
        "started_at",
        "finished_at",
        "dry_run",
        "exit_code",
        "channels",
        "oversold",
        "unmapped",
    } <= set(report)
    assert isinstance(report["run_id"], int)
    assert report["started_at"] <= report["finished_at"]
    assert report["started_at"].endswith("Z")
    assert report["dry_run"] is False
    assert report["exit_code"] == 0
    assert report["oversold"] == [] and report["unmapped"] == []
    assert set(report["channels"]) == {"a", "b"}
    for name, expected in {"a": (1, 1, 1, 1), "b": (0, 0, 1, 1)}.items():
        channel = report["channels"][name]
        assert {
            "status",
            "orders_fetched",
            "movements",
            "listings_pushed",
            "listings_unchanged",
            "errors",
        } <= set(channel)
        assert channel["status"] == "ok"
        assert channel["errors"] == []
        counts = (
            channel["orders_fetched"],
            channel["movements"],
            channel["listings_pushed"],
            channel["listings_unchanged"],
        )
        assert counts == expected


# -- channels that fail ------------------------------------------------------------------


def test_a_channel_failing_to_fetch_keeps_its_cursor_while_the_others_sync(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    first = order("1", "paid", [("TEE-M", 1)], updated="2026-11-20T10:00:00Z")
    shop.write_channel(
        "b", listings=[listing("B1", "TEE-M", 10), listing("B2", "MUG", 5)], orders=[first]
    )
    sync_json(runner, shop, "--since", SINCE)
    cursor = channel_states(runner, shop)["b"]["cursor"]
    assert cursor == "2026-11-20T10:00:00.000000Z"

    second = order("2", "paid", [("TEE-M", 2)], updated="2026-11-21T10:00:00Z")
    shop.write_channel("b", listings=shop.read_channel("b")["listings"], orders=[first, second])
    shop.write_channel(
        "a",
        listings=shop.read_channel("a")["listings"],
        orders=[order("3", "paid", [("MUG", 1)], updated="2026-11-21T10:00:00Z")],
    )
    shop.write_config({"a": {}, "b": {"fail": "fetch"}})
    b_file = shop.channel_path("b").read_bytes()

    code, report = sync_json(runner, shop)

    assert code == 1
    assert report["channels"]["b"]["status"] == "failed"
    assert report["channels"]["b"]["errors"] == ['simulated failure (fail = "fetch" in its config)']
    assert report["channels"]["a"]["status"] == "ok"
    assert shop.quantities("a") == {"A1": 9, "A2": 4}
    assert shop.channel_path("b").read_bytes() == b_file
    state = channel_states(runner, shop)["b"]
    assert state["cursor"] == cursor
    assert state["last_status"] == "failed"

    # Back up: the order it could not fetch is applied, nothing was lost.
    shop.write_config({"a": {}, "b": {}})
    code, report = sync_json(runner, shop)
    assert code == 0
    assert balances(runner, shop) == {"TEE-M": (10, 3), "MUG": (5, 1)}
    assert shop.quantities("a") == {"A1": 7, "A2": 4}
    assert shop.quantities("b") == {"B1": 7, "B2": 4}


def test_a_channel_failing_to_push_is_failed_and_pushed_on_the_next_run(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)])],
    )
    shop.write_config({"a": {}, "b": {"fail": "push"}})

    code, report = sync_json(runner, shop, "--since", SINCE, "--dry-run")
    assert report["channels"]["b"]["listings_failed"] == 0  # nothing was tried
    result = invoke(runner, shop, "sync", "--since", SINCE, "--json")
    assert result.exit_code == 1
    failed = json.loads(result.stdout)["channels"]["b"]
    # Cron alerts on these counts: a push that never happened is a failed listing, not 0.
    assert failed["status"] == "failed" and failed["listings_failed"] == 1
    assert [c["outcome"] for c in failed["changes"]] == ["failed"]
    shop.write_config({"a": {}, "b": {"fail": "push"}})
    result = invoke(runner, shop, "sync", "--since", SINCE)

    assert result.exit_code == 1
    assert 'b: simulated failure (fail = "push" in its config)\n' in result.stderr
    assert "b: b:" not in result.stderr
    assert shop.quantities("a") == {"A1": 8, "A2": 5}
    assert shop.quantities("b") == {"B1": 10, "B2": 5}
    assert balances(runner, shop)["TEE-M"] == (10, 2)

    shop.write_config({"a": {}, "b": {}})
    code, report = sync_json(runner, shop)
    assert code == 0
    assert report["channels"]["b"]["listings_pushed"] == 1
    assert shop.quantities("b") == {"B1": 8, "B2": 5}


def test_a_first_sync_that_fails_still_fixes_the_start_time_and_says_so(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    shop.write_channel(
        "b",
        listings=[listing("B1", "TEE-M", 10), listing("B2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)])],
    )
    shop.write_config({"a": {}, "b": {"fail": "fetch"}})
    code, _ = sync_json(runner, shop, "--since", SINCE)
    assert code == 1
    state = channel_states(runner, shop)["b"]
    assert state["last_status"] == "failed"
    assert state["last_error"] == 'simulated failure (fail = "fetch" in its config)'
    assert state["start_time"] == "2026-11-01T00:00:00.000000Z"

    shop.write_config({"a": {}, "b": {}})
    code, _ = sync_json(runner, shop)  # no --since: the start time held

    assert code == 0
    assert balances(runner, shop)["TEE-M"] == (10, 2)
    assert shop.quantities("a") == {"A1": 8, "A2": 5}


def test_a_disabled_channel_is_skipped_untouched_and_needs_nobody(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)])],
    )
    shop.write_config({"a": {}, "b": {"enabled": False}})
    untouched = shop.channel_path("b").read_bytes()

    code, report = sync_json(runner, shop, "--since", SINCE)

    assert code == 0
    assert report["channels"]["b"]["status"] == "skipped"
    assert shop.channel_path("b").read_bytes() == untouched
    assert shop.quantities("a") == {"A1": 8, "A2": 5}


def test_without_a_terminal_sync_prints_the_summary_and_quiet_prints_nothing(
    two_shops: Shop, runner: CliRunner
) -> None:
    result = invoke(runner, two_shops, "sync")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].strip() == "Run 1"
    assert [line.split()[:2] for line in result.stdout.splitlines()[2:]] == [
        ["a", "ok"],
        ["b", "ok"],
    ]

    quiet = invoke(runner, two_shops, "-q", "sync")

    assert quiet.exit_code == 0
    assert quiet.stdout == ""
    assert quiet.stderr == ""


def test_a_malformed_channel_file_fails_that_channel_naming_file_and_field(
    two_shops: Shop, runner: CliRunner
) -> None:
    shop = two_shops
    shop.write_channel("b", listings=[{"id": "B1", "sku": "TEE-M", "quantity": "ten"}])
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)])],
    )

    code, report = sync_json(runner, shop, "--since", SINCE)

    assert code == 1
    assert report["channels"]["b"]["status"] == "failed"
    [error] = report["channels"]["b"]["errors"]
    assert error.startswith(f"{shop.channel_path('b')}: listings[0].quantity: ")
    assert "valid integer" in error
    assert shop.quantities("a") == {"A1": 8, "A2": 5}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it: Is a directory"),
        (b"{not json", "not valid JSON: "),
        (b"\xff\xfe\x00binary", "not valid JSON: "),
        (b"[1, 2]", "expected an object with listings and orders"),
        (b"", "not valid JSON: "),
    ],
    ids=["folder", "broken-json", "binary", "a-list", "empty"],
)
def test_an_unreadable_channel_file_fails_only_that_channel(
    two_shops: Shop, runner: CliRunner, content: bytes | None, message: str
) -> None:
    shop = two_shops
    path = shop.channel_path("b")
    path.unlink()
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[order("1", "paid", [("TEE-M", 2)])],
    )

    result = invoke(runner, shop, "sync", "--json", "--since", SINCE)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert report["channels"]["b"]["status"] == "failed"
    [error] = report["channels"]["b"]["errors"]
    assert error.startswith(f"{path}: {message}")
    assert shop.quantities("a") == {"A1": 8, "A2": 5}


def test_a_missing_order_field_names_the_order_and_field(shop: Shop, runner: CliRunner) -> None:
    broken = order("1", "paid", [("TEE-M", 1)])
    del broken["created_at"]
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 1)], orders=[broken])
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 1})

    code, report = sync_json(runner, shop)

    assert code == 1
    # Issue 12: that order is unreadable on its own, kept and reported until readable.
    assert report["channels"]["a"]["errors"] == [
        f"order 1 cannot be read ({shop.channel_path('a')}: orders[0].created_at: missing); "
        f"it is held back until a sends a readable version"
    ]


def test_duplicate_and_reordered_orders_in_the_file_count_once_at_their_latest_version(
    shop: Shop, runner: CliRunner
) -> None:
    newest = order("1", "shipped", [("TEE-M", 2)], updated="2026-11-20T12:00:00Z")
    older = order("1", "paid", [("TEE-M", 2)], updated="2026-11-20T10:00:00Z")
    twice = order("2", "paid", [("TEE-M", 1)])
    shop.write_channel(
        "a", listings=[listing("A1", "TEE-M", 10)], orders=[newest, twice, older, twice]
    )
    shop.write_config({"a": {}})
    stock_in(runner, shop, **{"TEE-M": 10})

    code, report = sync_json(runner, shop, "--since", SINCE)

    assert code == 0
    assert report["channels"]["a"]["orders_fetched"] == 2
    assert balances(runner, shop) == {"TEE-M": (8, 1)}
    assert shop.quantities("a") == {"A1": 7}


# -- the engine, on memory channels ------------------------------------------------------


class Clock:
    """`now` for the engine: each call moves one second on, so every moment is distinct."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current

    def advance(self, minutes: float) -> None:
        self.current += timedelta(minutes=minutes)


@dataclass
class Rig:
    """A ledger, memory channels and a clock; `run()` is one sync through the real engine."""

    root: Path
    ledger: Ledger
    clock: Clock
    channels: dict[str, MemoryChannel] = field(default_factory=dict)
    timeouts: dict[str, float] = field(default_factory=dict)
    restock_returns: bool = True
    bundles: dict[str, dict[str, int]] = field(default_factory=dict)
    # More Config fields (skus, last_units, priority, ...) and ChannelConfig fields per channel.
    config_fields: dict[str, Any] = field(default_factory=dict)
    channel_keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, channel: MemoryChannel, *, timeout: float = 30.0) -> MemoryChannel:
        self.channels[channel.name] = channel
        self.timeouts[channel.name] = timeout
        return channel

    def stock(self, **counts: int) -> None:
        for sku, quantity in counts.items():
            set_stock(self.ledger, sku, quantity, reason="count", now=at(-60), create=True)

    def config(self) -> Config:
        return Config(
            path=self.root / "omnisync.toml",
            ledger_path=self.ledger.path,
            restock_returns=self.restock_returns,
            bundles=self.bundles,
            channels={
                name: ChannelConfig(
                    name=name,
                    type="memory",
                    settings=ChannelSettings(),
                    base_dir=self.root,
                    timeout=self.timeouts[name],
                    **self.channel_keys.get(name, {}),
                )
                for name in self.channels
            },
            **self.config_fields,
        )

    def run(self, **options: Any) -> RunReport:
        async def go() -> RunReport:
            return await asyncio.wait_for(
                run_sync(
                    self.config(),
                    self.ledger,
                    SyncOptions(**options),
                    now=self.clock,
                    opener=lambda cfg, context: self.channels[cfg.name],
                ),
                timeout=5,
            )

        return asyncio.run(go())

    def balances(self) -> dict[str, tuple[int, int]]:
        return {sku: (b.on_hand, b.committed) for sku, b in self.ledger.balances().items()}


def open_rig(root: Path) -> Rig:
    return Rig(root, Ledger.open(root / "inventory.db", write=True), Clock(at(0)))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = open_rig(tmp_path)
    try:
        yield rig
    finally:
        rig.ledger.close()


def test_an_order_stamped_in_the_same_second_as_the_first_sync_counts(tmp_path: Path) -> None:
    """The first sync starts at hh:mm:01.268501; a sale 58 ms later is stamped hh:mm:01 by a
    channel that keeps whole seconds. It came after the stock was counted: it must count."""
    rig = Rig(
        tmp_path,
        Ledger.open(tmp_path / "inventory.db", write=True),
        Clock(at(0) + timedelta(microseconds=268_501)),
    )
    try:
        rig.stock(**{"TEE-M": 10})
        a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 10)))
        assert rig.run().exit_code == 0
        same_second = at(0) + timedelta(seconds=1)
        a.sell(make_order("1001", "paid", [("TEE-M", 2)], created=same_second))

        report = rig.run()

        assert report.exit_code == 0
        assert rig.balances() == {"TEE-M": (10, 2)}
        assert a.quantities() == {"A1": 8}
    finally:
        rig.ledger.close()


def test_channels_are_fetched_concurrently(rig: Rig) -> None:
    # Each channel's read waits for the other's to have begun: run one after the other,
    # this deadlocks (and the rig's timeout fails the test).
    a_started, b_started = asyncio.Event(), asyncio.Event()

    async def a_waits() -> None:
        a_started.set()
        await b_started.wait()

    async def b_waits() -> None:
        b_started.set()
        await a_started.wait()

    rig.stock(**{"TEE-M": 4})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 0), before_list=a_waits))
    b = rig.add(MemoryChannel.with_listings("b", ("B1", "TEE-M", 0), before_list=b_waits))

    report = rig.run(force=True)

    assert report.exit_code == 0
    assert a.quantities() == {"A1": 4}
    assert b.quantities() == {"B1": 4}
    assert a.closed and b.closed


def test_a_channel_past_its_time_budget_fails_while_the_other_syncs(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 4})
    slow = rig.add(
        MemoryChannel.with_listings("slow", ("S1", "TEE-M", 0), hang={"fetch"}), timeout=0.2
    )
    fast = rig.add(MemoryChannel.with_listings("fast", ("F1", "TEE-M", 0)))

    report = rig.run(force=True)

    assert report.exit_code == 1
    assert report.channels["slow"].status == "failed"
    assert report.channels["slow"].errors == [
        "out of time; gave up within the channel's time budget of 0.2 s (config key 'timeout')"
    ]
    assert report.channels["fast"].status == "ok"
    assert fast.quantities() == {"F1": 4}
    assert slow.quantities() == {"S1": 0}
    assert slow.pushes == []


def test_a_push_hanging_past_the_time_budget_fails_that_channel(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 4})
    rig.add(MemoryChannel.with_listings("slow", ("S1", "TEE-M", 0), hang={"push"}), timeout=0.2)
    fast = rig.add(MemoryChannel.with_listings("fast", ("F1", "TEE-M", 0)))

    report = rig.run(force=True)

    assert report.channels["slow"].status == "failed"
    assert "time budget" in report.channels["slow"].errors[0]
    assert fast.quantities() == {"F1": 4}


def test_a_channel_error_in_push_fails_only_that_channel(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 4})
    broken = rig.add(
        MemoryChannel.with_listings(
            "broken",
            ("X1", "TEE-M", 0),
            fail_with={"push": ChannelAuthError("broken", "401: token expired")},
        )
    )
    fine = rig.add(MemoryChannel.with_listings("fine", ("F1", "TEE-M", 0)))

    report = rig.run(force=True)

    assert report.exit_code == 1
    assert report.channels["broken"].status == "failed"
    assert report.channels["broken"].errors == ["401: token expired"]
    assert report.channels["broken"].listings_pushed == 0
    assert broken.quantities() == {"X1": 0}
    assert report.channels["fine"].status == "ok"
    assert fine.quantities() == {"F1": 4}


def test_a_channel_error_in_fetch_leaves_its_orders_for_the_next_run(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 10})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 10)))
    rig.run()
    a.put_order(make_order("1", "paid", [("TEE-M", 3)], created=at(5)))
    a.fail_with["fetch"] = ChannelUnavailableError("a", "503 from the API")
    rig.clock.advance(10)

    report = rig.run()

    assert report.channels["a"].status == "failed"
    assert report.channels["a"].errors == ["503 from the API"]
    assert rig.balances() == {"TEE-M": (10, 0)}

    del a.fail_with["fetch"]
    rig.clock.advance(10)
    report = rig.run()
    assert report.exit_code == 0
    assert rig.balances() == {"TEE-M": (10, 3)}
    assert a.quantities() == {"A1": 7}


def test_an_adapter_that_answers_nothing_for_a_listing_marks_it_failed(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 4, "MUG": 2})
    rig.add(
        MemoryChannel.with_listings("a", ("A1", "TEE-M", 0), ("A2", "MUG", 0), omit_results={"A1"})
    )

    report = rig.run(force=True)

    channel = report.channels["a"]
    assert report.exit_code == 1
    assert channel.listings_failed == 1
    assert channel.listings_pushed == 1
    assert channel.errors == ["listing A1: no result from the channel"]
    assert {c.listing_id: c.outcome for c in channel.changes} == {"A1": "failed", "A2": "written"}


@pytest.mark.parametrize("report_current", [True, False], ids=["current-known", "re-read"])
def test_a_sale_racing_the_write_is_reconciled_and_every_channel_ends_on_it(
    rig: Rig, report_current: bool
) -> None:
    rig.stock(**{"TEE-M": 10})
    rig.add(MemoryChannel.with_listings("b", ("B1", "TEE-M", 10)))
    a = rig.add(
        MemoryChannel.with_listings("a", ("A1", "TEE-M", 10), report_current=report_current)
    )
    rig.run()
    a.put_order(make_order("1", "paid", [("TEE-M", 2)], created=at(1)))
    rig.clock.advance(10)

    def sell(channel: MemoryChannel) -> None:
        channel.sell(make_order("S", "paid", [("TEE-M", 3)], created=rig.clock.current))

    a.sell_between = sell

    report = rig.run()

    assert report.exit_code == 0
    assert report.channels["a"].conflicts_seen == 1
    assert rig.balances() == {"TEE-M": (10, 5)}
    assert a.quantities() == {"A1": 5}
    assert rig.channels["b"].quantities() == {"B1": 5}


def test_a_listing_that_keeps_selling_during_the_run_is_never_overwritten(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 20})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 20)))
    rig.run()
    a.put_order(make_order("1", "paid", [("TEE-M", 2)], created=at(1)))
    rig.clock.advance(10)
    sold: list[int] = []

    def sell_again(channel: MemoryChannel) -> None:
        # A sale lands before every write this run makes: the channel never settles.
        sold.append(len(sold) + 1)
        moment = rig.clock.current
        channel.sell(make_order(f"S{len(sold)}", "paid", [("TEE-M", 1)], created=moment))
        channel.sell_between = sell_again

    a.sell_between = sell_again

    report = rig.run()

    channel = report.channels["a"]
    assert channel.conflicts_seen == len(sold) > 1
    assert channel.listings_conflict == 1
    # Every write was refused: the channel shows what it sold down to, never a stale count.
    assert a.quantities() == {"A1": 20 - len(sold)}
    assert rig.balances()["TEE-M"][0] == 20
    a.sell_between = None
    rig.clock.advance(10)
    rig.run()
    assert rig.balances() == {"TEE-M": (20, 2 + len(sold))}
    assert a.quantities() == {"A1": 20 - 2 - len(sold)}


def test_a_disabled_channel_is_skipped(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 4})
    rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 0)))
    config = rig.config()
    off = ChannelConfig("a", "memory", ChannelSettings(), rig.root, enabled=False)
    config.channels["a"] = off

    async def go() -> RunReport:
        return await run_sync(
            config,
            rig.ledger,
            SyncOptions(force=True),
            now=rig.clock,
            opener=lambda cfg, context: rig.channels[cfg.name],
        )

    report = asyncio.run(go())

    assert report.channels["a"].status == "skipped"
    assert rig.channels["a"].quantities() == {"A1": 0}
    assert report.channels["a"].errors == ["disabled in the config (enabled = false)"]
    assert report.exit_code == 0  # disabled on purpose: nothing needs a person


# -- a property: whatever happens between runs, the ledger ends on each order's latest version


SKUS = ("TEE-M", "MUG")
BUNDLES = {"SET": {"TEE-M": 1, "MUG": 2}}
LISTED = (*SKUS, *BUNDLES)
ORDER_IDS = ("o1", "o2", "o3", "o4")

order_versions = st.lists(
    st.tuples(
        st.sampled_from(("a", "b")),
        st.sampled_from(ORDER_IDS),
        st.sampled_from(list(Status)),
        st.lists(st.tuples(st.sampled_from(LISTED), st.integers(0, 3)), min_size=1, max_size=3),
    ),
    max_size=4,
)
run_kinds = st.sampled_from(("clean", "dry", "fail-fetch-a", "fail-push-b", "sale-on-a"))


def spec_effect(status: Status, quantity: int, *, restock: bool) -> tuple[int, int]:
    """(on_hand, committed) a line should have done in total: SPEC.md's table, written out."""
    return {
        Status.PENDING: (0, quantity),
        Status.PAID: (0, quantity),
        Status.SHIPPED: (-quantity, 0),
        Status.COMPLETED: (-quantity, 0),
        Status.CANCELLED: (0, 0),
        Status.RETURNED: (0, 0) if restock else (-quantity, 0),
    }[status]


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    steps=st.lists(st.tuples(order_versions, run_kinds), min_size=1, max_size=5),
    stock=st.tuples(st.integers(0, 8), st.integers(0, 8)),
    restock=st.booleans(),
)
def test_any_history_of_runs_ends_on_the_latest_version_of_every_order(
    steps: list[tuple[list[Any], str]], stock: tuple[int, int], restock: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        rig = open_rig(Path(folder))
        try:
            _play(rig, steps, dict(zip(SKUS, stock, strict=True)), restock)
        finally:
            rig.ledger.close()


def _play(
    rig: Rig, steps: list[tuple[list[Any], str]], stock: dict[str, int], restock: bool
) -> None:
    rig.stock(**stock)
    channels = {
        name: rig.add(
            MemoryChannel.with_listings(name, *((f"{name}-{sku}", sku, 5) for sku in LISTED))
        )
        for name in ("a", "b")
    }
    rig.restock_returns = restock
    rig.bundles = BUNDLES
    rig.run(force=True)  # the first sync: from here on, every order counts
    sale_number = 0
    for versions, kind in steps:
        rig.clock.advance(3)
        for name, order_id, status, lines in versions:
            channel = channels[name]
            first = next((o.created_at for o in channel.orders if o.id == order_id), None)
            channel.put_order(
                make_order(
                    order_id, status, lines, created=first or rig.clock(), updated=rig.clock()
                )
            )
        options: dict[str, Any] = {"force": True}
        if kind == "dry":
            options["dry_run"] = True
        elif kind == "fail-fetch-a":
            channels["a"].fail_with["fetch"] = ChannelUnavailableError("a", "down")
        elif kind == "fail-push-b":
            channels["b"].fail_with["push"] = ChannelUnavailableError("b", "down")
        elif kind == "sale-on-a":
            sale_number += 1
            number = sale_number

            def sell(channel: MemoryChannel, number: int = number) -> None:
                moment = rig.clock.current
                channel.sell(make_order(f"s{number}", "paid", [("MUG", 1)], created=moment))

            channels["a"].sell_between = sell
        rig.run(**options)
        for channel in channels.values():
            # A sale lands only during its own run (when that run writes to the channel);
            # one the run did not notice is fetched by the next.
            channel.fail_with.clear()
            channel.sell_between = None
    rig.clock.advance(3)
    final = rig.run(force=True)

    expected = {sku: [counted, 0] for sku, counted in stock.items()}
    for channel in channels.values():
        for placed in channel.orders:
            for line in placed.lines:
                for sku, count in BUNDLES.get(line.channel_sku, {line.channel_sku: 1}).items():
                    effect = spec_effect(placed.status, line.quantity * count, restock=restock)
                    expected[sku][0] += effect[0]
                    expected[sku][1] += effect[1]
    assert rig.balances() == {sku: tuple(value) for sku, value in expected.items()}
    assert all(report.status == "ok" for report in final.channels.values())
    available = {sku: on_hand - committed for sku, (on_hand, committed) in expected.items()}
    for channel in channels.values():
        for listing_id, shown in channel.quantities().items():
            parts = BUNDLES.get(channel.listings[listing_id].channel_sku)
            units = min(
                available[sku] // count
                for sku, count in (parts or {channel.listings[listing_id].channel_sku: 1}).items()
            )
            assert shown == max(0, units), (channel.name, listing_id)
    oversold = {item.sku for item in final.oversold}
    assert oversold == {sku for sku, units in available.items() if units < 0}


def test_listings_a_channel_reads_are_what_the_engine_compares_against(rig: Rig) -> None:
    # The expected quantity of each push is the one read in this run, not an older one.
    rig.stock(**{"TEE-M": 6})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 2)))
    rig.run()
    a.listings["A1"] = Listing("A1", "TEE-M", 9)  # edited by hand on the channel
    rig.clock.advance(5)

    rig.run()

    assert a.pushes[-1][0].expected == 9
    assert a.quantities() == {"A1": 6}


def test_an_order_created_before_the_first_sync_is_ignored_by_the_engine(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 6})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 6)))
    rig.run()
    rig.clock.advance(5)
    a.put_order(make_order("old", "paid", [("TEE-M", 1)], created=at(-30), updated=at(4)))
    a.put_order(make_order("new", "paid", [("TEE-M", 2)], created=at(2), updated=at(4)))

    report = rig.run()

    assert report.channels["a"].orders_fetched == 2
    assert rig.balances() == {"TEE-M": (6, 2)}
    assert a.quantities() == {"A1": 4}


# -- what the engine hands the rules and the adapters --------------------------------------


def test_every_push_names_the_run_it_belongs_to(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 4})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 0)))
    first = rig.run()
    set_stock(rig.ledger, "TEE-M", 7, reason="count", now=at(1))
    rig.clock.advance(5)
    second = rig.run()

    assert first.run_id is not None and second.run_id is not None
    assert first.run_id != second.run_id
    assert a.run_ids == [first.run_id, second.run_id]


def test_a_listing_remapped_to_another_sku_is_pushed_that_skus_stock(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 10, "MUG": 4})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 0), ("A2", "MUG", 0)))
    rig.run(force=True)
    rig.clock.advance(5)
    assert rig.run().channels["a"].listings_unchanged == 2  # settled: nothing moved
    # The seller relabels the listing on the channel; its quantity still reads 10.
    a.listings["A1"] = Listing("A1", "MUG", 10)
    rig.clock.advance(5)

    report = rig.run()

    assert a.quantities() == {"A1": 4, "A2": 4}
    assert report.channels["a"].listings_pushed == 1


def test_a_cancelled_line_that_maps_nowhere_needs_nobody(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 4})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 4)))
    rig.run()
    a.put_order(make_order("1", "cancelled", [("SCARF", 1)], created=at(1)))
    a.put_order(make_order("2", "paid", [("CAP", 1)], created=at(1)))
    rig.clock.advance(5)

    report = rig.run()

    # The paid line that maps nowhere waits for a person; the cancelled one changes nothing.
    assert [(u.channel, u.channel_sku, u.orders) for u in report.unmapped] == [("a", "CAP", ["2"])]
    a.put_order(make_order("2", "cancelled", [("CAP", 1)], created=at(1), updated=at(10)))
    rig.clock.advance(5)

    report = rig.run()

    assert report.unmapped == []
    assert report.exit_code == 0


def test_after_a_conflict_the_next_write_expects_what_the_channel_showed(rig: Rig) -> None:
    rig.stock(**{"TEE-M": 10})
    a = rig.add(MemoryChannel.with_listings("a", ("A1", "TEE-M", 10)))
    b = rig.add(MemoryChannel.with_listings("b", ("B1", "TEE-M", 10)))
    rig.run()
    b.put_order(make_order("1", "paid", [("TEE-M", 2)], created=at(1)))
    rig.clock.advance(10)

    def edit_by_hand(channel: MemoryChannel) -> None:
        # Someone sets A1 to 8 on the channel while omnisync is about to write 8 itself.
        channel.listings["A1"] = Listing("A1", "TEE-M", 8)

    def sell(channel: MemoryChannel) -> None:
        channel.sell(make_order("S", "paid", [("TEE-M", 1)], created=rig.clock.current))

    a.sell_between, b.sell_between = edit_by_hand, sell

    report = rig.run()

    # 10 − 2 (order 1) − 1 (sale S, found while b resolved its conflict) = 7 everywhere. A1's
    # conflict said it showed 8: the write that brings it to 7 expects 8, not the 10 read.
    assert a.pushes[1:] == [[QuantityChange("A1", "TEE-M", 8, 7)]]
    assert report.channels["a"].conflicts_seen == 1
    assert a.quantities() == {"A1": 7}
    assert b.quantities() == {"B1": 7}


# -- allocation rules through the engine ----------------------------------------------------


def test_the_last_units_go_to_the_priority_channel_until_restocked(rig: Rig) -> None:
    rig.config_fields = {"last_units": 3, "priority": "web"}
    rig.stock(**{"TEE-M": 2})
    shop = rig.add(MemoryChannel.with_listings("shop", ("S1", "TEE-M", 5)))
    web = rig.add(MemoryChannel.with_listings("web", ("W1", "TEE-M", 5)))

    rig.run(force=True)

    assert shop.quantities() == {"S1": 0}
    assert web.quantities() == {"W1": 2}
    set_stock(rig.ledger, "TEE-M", 6, reason="count", now=at(1))
    rig.clock.advance(5)

    rig.run()

    assert shop.quantities() == {"S1": 6}
    assert web.quantities() == {"W1": 6}


@pytest.mark.parametrize(
    ("config_fields", "channel_keys", "shown"),
    [
        ({"last_units": 5, "priority": "web"}, {}, 0),  # 4 available is below 5: not here
        ({}, {"max": 3}, 3),
        ({"skus": {"TEE-M": SkuOverride(buffer=1)}}, {}, 3),
        ({"skus": {"TEE-M": SkuOverride(share=Fraction("0.5"))}}, {}, 2),
        ({}, {"buffer": 2}, 2),
    ],
    ids=["last-units", "max", "sku-buffer", "sku-share", "channel-buffer"],
)
def test_a_changed_allocation_rule_replans_listings_whose_stock_did_not_move(
    rig: Rig, config_fields: dict[str, Any], channel_keys: dict[str, Any], shown: int
) -> None:
    rig.stock(**{"TEE-M": 4})
    shop = rig.add(MemoryChannel.with_listings("shop", ("S1", "TEE-M", 0)))
    rig.run(force=True)
    assert shop.quantities() == {"S1": 4}
    rig.config_fields, rig.channel_keys = config_fields, {"shop": channel_keys}
    rig.clock.advance(5)

    rig.run(force=True)

    assert shop.quantities() == {"S1": shown}
