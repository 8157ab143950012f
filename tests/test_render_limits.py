"""Terminal output of a big run stays short: the first rows, then how many more (--json: all)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from rich.console import Console

from omnisync import render
from omnisync.ledger.stock import Balance
from omnisync.report import ChannelReport, ListingChange, RunReport


def printed(report: RunReport) -> str:
    out = io.StringIO()
    render.sync_summary(Console(file=out, width=120), report, show_changes=True)
    return out.getvalue()


def test_a_backlog_run_shows_the_first_listings_and_counts_the_rest() -> None:
    report = RunReport(started_at=datetime(2026, 11, 20, tzinfo=UTC), dry_run=True)
    channel = report.channels["shop"] = ChannelReport()
    channel.changes = [
        ListingChange(f"L{n:03d}", f"SKU-{n:03d}", 5, 4, "planned") for n in range(150)
    ]
    channel.orders_applied = [f"O{n:02d}" for n in range(25)]
    text = printed(report)
    rows = [line.split()[1] for line in text.splitlines() if line.rstrip().endswith("planned")]
    assert rows == [f"L{n:03d}" for n in range(100)]
    assert "50 more listings not shown (`--json` lists every one)" in text
    assert "shop: orders to apply: O00, O01," in text
    assert "O19 and 5 more" in text and "O20" not in text


def test_a_small_run_shows_everything() -> None:
    report = RunReport(started_at=datetime(2026, 11, 20, tzinfo=UTC), dry_run=True)
    channel = report.channels["shop"] = ChannelReport()
    channel.changes = [ListingChange("L1", "SKU-1", 5, 4, "planned")]
    channel.orders_applied = ["O1", "O2"]
    text = printed(report)
    assert "not shown" not in text
    assert "shop: orders to apply: O1, O2\n" in text


@pytest.mark.parametrize("items", [0, 1, 999, 1_000, 1_001, 2_500])
def test_json_of_a_long_list_is_the_text_of_one_indented_dump(
    items: int, capsys: pytest.CaptureFixture[str]
) -> None:
    # Written a thousand items at a time (a 100,000-SKU `stock --json` peaked at 594 MB
    # encoded whole): the text must still be exactly what one json.dumps makes.
    document = [
        {
            "sku": f"SKU-{n}",
            "name": 'Kaos\nbaris dua, "kutip" é',
            "channels": {"shopee": n, "tiktok": None},
            "locations": [{"main": {"on_hand": n}}, []],
        }
        for n in range(items)
    ]
    render.print_json(document)
    expected = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    assert capsys.readouterr().out == expected


def test_json_of_a_document_that_is_no_list_is_one_indented_dump(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The report's shape: a dict whose `skus` is a long list, beside everything else JSON has.
    document = {
        "channels": {"shop": {"status": "ok", "errors": []}},
        "when": datetime(2026, 12, 6, tzinfo=UTC),
        "skus": [{"sku": f"S{n}", "days": [n, 1.5, None, True]} for n in range(2_345)],
        "nested": {"deeper": {"long": list(range(1_500)), "empty": {}}},
        "pair": (1, "two"),
        "numbered": {1: "one"},
        "none": None,
    }
    render.print_json(document)
    expected = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize(("skus", "listed"), [(1_000, 1_000), (1_005, 1_000)])
def test_a_big_shops_stock_table_lists_the_first_thousand_and_counts_the_rest(
    skus: int, listed: int
) -> None:
    balances = [Balance(f"SKU-{n:05d}", "", 5, 1) for n in range(skus)]
    out = io.StringIO()
    render.stock_table(Console(file=out, width=120), balances, {}, ["shopee"])
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines if line.startswith("SKU-")] == [
        f"SKU-{n:05d}" for n in range(listed)
    ]
    more = [line for line in lines if "more SKUs not shown" in line]
    if skus > listed:
        assert more == [
            "5 more SKUs not shown: name them (`omnisync stock SKU ...`), keep the low ones "
            "(`--low N`), or list every one (`--json`)"
        ]
    else:
        assert more == []


def test_a_long_order_list_shows_the_newest_thousand_and_counts_the_older() -> None:
    orders = [
        {
            "channel": "shopee",
            "id": f"O{n:05d}",
            "status": "paid",
            "updated_at": "2026-12-01T10:00:00Z",
            "lines": [{"quantity": 1, "channel_sku": "TEE"}],
        }
        for n in range(1_002)
    ]
    out = io.StringIO()
    render.orders_table(Console(file=out, width=160), orders)
    lines = out.getvalue().splitlines()
    shown = [line.split()[1] for line in lines if line.startswith("shopee")]
    assert shown == [f"O{n:05d}" for n in range(1_000)]
    assert lines[-1] == (
        "2 older orders not shown: narrow with `--since`, `--channel` or `--status`, or list "
        "every one (`--json`, `--csv FILE`)"
    )
