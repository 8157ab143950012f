"""`omnisync report` and `orders --csv`: figures checked against a small ledger by hand.

The ledger below is written through the Ledger API with movements as the SPEC's table says
each status moves stock (paid: committed +q; shipped/completed: on_hand −q), so every time is
known and every expected number is worked out in the comments from those rows alone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from omnisync.analytics import build_report
from omnisync.analytics.figures import oversells_in_run
from omnisync.analytics.terminal import bar, print_report, sparkline
from omnisync.cli import app
from omnisync.ledger import Ledger
from omnisync.ledger.analytics import RunMoves
from omnisync.models import Effect, LineMovement, Order, OrderLine, Status

WINDOW = ["--since", "2026-11-01", "--until", "2026-11-11"]  # 10 days


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def line(line_id: str, sku: str, quantity: int, price: str | None, currency: str | None) -> Any:
    return OrderLine(
        id=line_id,
        channel_sku=sku,
        quantity=quantity,
        unit_price=Decimal(price) if price is not None else None,
        currency=currency,
    )


def write_scenario(path: Path) -> None:
    """Two channels: `shop` sells in USD, `market` in IDR. Window 2026-11-01 → 11-11 UTC.

    Counted 2026-10-20: MUG 10, TEE 3, SCARF 5.
    Previous window: shop P1 completed MUG×4 @12.50; market P2 completed SCARF×2 @90000.
    Window:
      shop   S1 11-02 10:00 completed MUG×2 @12.50 + TEE×1 @20.00
      shop   S2 11-03 20:00 paid MUG×1 @12.50        (11-04 03:00 in Jakarta)
      shop   S3 11-05 09:00 cancelled MUG×4 @12.50   (no movement)
      market M1 11-04 01:00 shipped TEE×2 @150000    (takes TEE 2 → 0)
      market M2 11-04 02:00 paid TEE×1, no price     (takes TEE 0 → −1: the oversell)
      market M3 11-06 08:00 returned SCARF×1 @90000  (restocked: no net movement)
    M1 and M2 are applied by one run at 11-04 06:00, M2's movement written first.
    TEE +6 received 11-08 06:00: out of stock 11-04 06:00 → 11-08 06:00 = 96 h.
    """
    ledger = Ledger.open(path, write=True)
    counted = at("2026-10-20T00:00:00")
    for sku, units in (("MUG", 10), ("TEE", 3), ("SCARF", 5)):
        ledger.add_sku(sku, name=f"{sku.title()} name", now=counted)
        ledger.add_movement(kind="count", sku=sku, on_hand=units, now=counted)
    # An order placed before the previous window: in no figure.
    old = Order("P0", Status.COMPLETED, at("2026-10-01T00:00:00"), at("2026-10-01T00:00:00"), ())

    def apply(
        channel: str,
        order_id: str,
        status: Status,
        created: str,
        lines: list[OrderLine],
        effects: list[tuple[str, str, Effect]],
        run_time: str,
    ) -> None:
        moment = at(created)
        order = Order(order_id, status, moment, moment, tuple(lines))
        run_id = ledger.start_run(started_at=at(run_time), dry_run=False)
        with ledger.atomic():
            ledger.save_orders(channel, [order], unmapped=set(), run_id=run_id)
            moves = [LineMovement(order_id, lid, sku, e) for lid, sku, e in effects]
            ledger.write_line_movements(channel, moves, run_id=run_id, now=at(run_time))

    with ledger.atomic():
        ledger.save_orders("shop", [old], unmapped=set(), run_id=None)
    sold = Effect(on_hand=-1)
    apply(
        "shop",
        "P1",
        Status.COMPLETED,
        "2026-10-25T10:00:00",
        [line("1", "MUG", 4, "12.50", "USD")],
        [("1", "MUG", Effect(on_hand=-4))],
        "2026-10-25T12:00:00",
    )
    apply(
        "market",
        "P2",
        Status.COMPLETED,
        "2026-10-26T10:00:00",
        [line("1", "SCARF", 2, "90000", "IDR")],
        [("1", "SCARF", Effect(on_hand=-2))],
        "2026-10-26T12:00:00",
    )
    apply(
        "shop",
        "S1",
        Status.COMPLETED,
        "2026-11-02T10:00:00",
        [line("1", "MUG", 2, "12.50", "USD"), line("2", "TEE", 1, "20.00", "USD")],
        [("1", "MUG", Effect(on_hand=-2)), ("2", "TEE", sold)],
        "2026-11-02T12:00:00",
    )
    apply(
        "shop",
        "S2",
        Status.PAID,
        "2026-11-03T20:00:00",
        [line("1", "MUG", 1, "12.50", "USD")],
        [("1", "MUG", Effect(committed=1))],
        "2026-11-04T00:00:00",
    )
    apply(
        "shop",
        "S3",
        Status.CANCELLED,
        "2026-11-05T09:00:00",
        [line("1", "MUG", 4, "12.50", "USD")],
        [],
        "2026-11-05T12:00:00",
    )
    # One run applies M2 then M1 (the order a run writes in says nothing about who sold first).
    run_id = ledger.start_run(started_at=at("2026-11-04T06:00:00"), dry_run=False)
    m1 = Order(
        "M1",
        Status.SHIPPED,
        at("2026-11-04T01:00:00"),
        at("2026-11-04T01:00:00"),
        (line("1", "TEE", 2, "150000", "IDR"),),
    )
    m2 = Order(
        "M2",
        Status.PAID,
        at("2026-11-04T02:00:00"),
        at("2026-11-04T02:00:00"),
        (line("1", "TEE", 1, None, None),),
    )
    with ledger.atomic():
        ledger.save_orders("market", [m2, m1], unmapped=set(), run_id=run_id)
        for order_id, effect in (("M2", Effect(committed=1)), ("M1", Effect(on_hand=-2))):
            ledger.write_line_movements(
                "market",
                [LineMovement(order_id, "1", "TEE", effect)],
                run_id=run_id,
                now=at("2026-11-04T06:00:00"),
            )
    apply(
        "market",
        "M3",
        Status.RETURNED,
        "2026-11-06T08:00:00",
        [line("1", "SCARF", 1, "90000", "IDR")],
        [],
        "2026-11-06T10:00:00",
    )
    ledger.add_movement(kind="adjust", sku="TEE", on_hand=6, now=at("2026-11-08T06:00:00"))
    ledger.close()


@pytest.fixture
def shop_ledger(tmp_path: Path) -> Path:
    config = tmp_path / "omnisync.toml"
    config.write_text('[ledger]\npath = "inventory.db"\n\n[report]\ntimezone = "Asia/Jakarta"\n')
    write_scenario(tmp_path / "inventory.db")
    return config


def report_json(runner: CliRunner, config: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(
        app, ["--config", str(config), "report", *WINDOW, "--json", *args], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_channel_figures_match_the_ledger(runner: CliRunner, shop_ledger: Path) -> None:
    report = report_json(runner, shop_ledger)
    channels = {c["channel"]: c for c in report["channels"]}
    assert list(channels) == ["market", "shop"]

    shop = channels["shop"]
    # S1, S2, S3; S3 cancelled. Units: S1 2 + 1, S2 1. Revenue 2×12.50 + 20.00 + 12.50.
    assert (shop["orders"], shop["cancelled_orders"], shop["returned_orders"]) == (3, 1, 0)
    assert shop["units"] == 4
    assert shop["revenue"] == {"USD": "57.50"}
    assert shop["average_order_value"] == {"USD": "28.75"}  # 57.50 over S1 and S2
    assert shop["cancellation_rate"] == 0.3333
    assert shop["return_rate"] == 0.0
    assert (shop["unpriced_lines"], shop["unpriced_units"]) == (0, 0)
    assert shop["unit_share"] == 0.5714  # 4 of 7
    assert shop["revenue_share"] == {"USD": 1.0}

    market = channels["market"]
    # M1, M2, M3; M3 returned. Units M1 2 + M2 1; only M1 has a price.
    assert (market["orders"], market["cancelled_orders"], market["returned_orders"]) == (3, 0, 1)
    assert market["units"] == 3
    assert market["revenue"] == {"IDR": "300000"}
    assert (market["unpriced_lines"], market["unpriced_units"]) == (1, 1)
    assert market["average_order_value"] == {"IDR": "300000.00"}
    assert market["return_rate"] == 0.3333
    assert market["unit_share"] == 0.4286

    totals = report["totals"]
    assert (totals["orders"], totals["units"]) == (6, 7)
    assert totals["revenue"] == {"IDR": "300000", "USD": "57.50"}


def test_previous_window_and_change(runner: CliRunner, shop_ledger: Path) -> None:
    report = report_json(runner, shop_ledger)
    assert report["previous_since"] == "2026-10-22T00:00:00.000000Z"
    channels = {c["channel"]: c for c in report["channels"]}
    shop, market = channels["shop"], channels["market"]
    # Previous: shop P1 MUG×4 @12.50; market P2 SCARF×2 @90000 (P0 is older still).
    assert (shop["previous"]["orders"], shop["previous"]["units"]) == (1, 4)
    assert shop["previous"]["revenue"] == {"USD": "50.00"}
    assert shop["change"] == {"orders": 2.0, "units": 0.0, "revenue": {"USD": 0.15}}
    assert (market["previous"]["orders"], market["previous"]["units"]) == (1, 2)
    assert market["change"] == {"orders": 2.0, "units": 0.5, "revenue": {"IDR": 0.6667}}


def test_sku_cover_out_of_stock_and_oversell(runner: CliRunner, shop_ledger: Path) -> None:
    report = report_json(runner, shop_ledger)
    skus = {s["sku"]: s for s in report["skus"]}

    mug = skus["MUG"]
    # 10 − 4 (P1) − 2 (S1) − 1 committed (S2) = 3; sold 3 in 10 days.
    assert mug["units"] == {"shop": 3}
    assert mug["available"] == 3
    assert mug["average_daily_units"] == 0.3
    assert mug["days_of_cover"] == 10.0
    assert mug["out_of_stock_hours"] == 0.0

    tee = skus["TEE"]
    # 3 − 1 (S1) − 2 (M1) − 1 (M2) + 6 = 5; sold 1 + 3 in 10 days.
    assert tee["units"] == {"market": 3, "shop": 1}
    assert tee["available"] == 5
    assert tee["average_daily_units"] == 0.4
    assert tee["days_of_cover"] == 12.5
    assert tee["out_of_stock_hours"] == 96.0
    # M1 (placed 01:00) took the last two; M2 (placed 02:00) sold one that was not there,
    # though the run wrote M2's movement first.
    expected = {
        "time": "2026-11-04T06:00:00.000000Z",
        "channel": "market",
        "order_id": "M2",
        "available": -1,
    }
    assert tee["oversells"] == [expected]
    assert report["oversells"] == [{"sku": "TEE", **expected}]

    scarf = skus["SCARF"]
    # Only a return in the window: nothing sold, cover without end.
    assert scarf["units"] == {}
    assert scarf["available"] == 3
    assert scarf["days_of_cover"] is None


def test_reorder_list_most_urgent_first(runner: CliRunner, shop_ledger: Path) -> None:
    report = report_json(runner, shop_ledger)
    # MUG: 10 days of cover, 14 × 0.3 − 3 = 1.2 → 2. TEE: 12.5 days, 14 × 0.4 − 5 = 0.6 → 1.
    assert [(r["sku"], r["days_of_cover"], r["quantity"]) for r in report["reorder"]] == [
        ("MUG", 10.0, 2),
        ("TEE", 12.5, 1),
    ]


def test_reorder_days_comes_from_the_config(runner: CliRunner, shop_ledger: Path) -> None:
    text = shop_ledger.read_text().replace("[report]\n", "[report]\nreorder_days = 11\n")
    shop_ledger.write_text(text)
    report = report_json(runner, shop_ledger)
    # Only MUG's 10 days is below 11: 11 × 0.3 − 3 = 0.3 → 1.
    assert [(r["sku"], r["quantity"]) for r in report["reorder"]] == [("MUG", 1)]
    assert report["reorder_days"] == 11


def test_daily_series_in_the_sellers_timezone(runner: CliRunner, shop_ledger: Path) -> None:
    report = report_json(runner, shop_ledger)
    assert report["timezone"] == "Asia/Jakarta"
    days = report["daily"]
    # 2026-11-01 07:00 to 2026-11-11 06:59 in Jakarta: 11 calendar days × 2 channels.
    assert len(days) == 22
    assert (days[0]["date"], days[-1]["date"]) == ("2026-11-01", "2026-11-11")
    sold = {(d["date"], d["channel"]): (d["units"], d["revenue"]) for d in days if d["units"]}
    assert sold == {
        ("2026-11-02", "shop"): (3, {"USD": "45.00"}),
        # S2 was placed 11-03 20:00 UTC, which is 11-04 03:00 in Jakarta.
        ("2026-11-04", "shop"): (1, {"USD": "12.50"}),
        ("2026-11-04", "market"): (3, {"IDR": "300000"}),
    }


def test_channel_option_limits_the_channels(runner: CliRunner, shop_ledger: Path) -> None:
    report = report_json(runner, shop_ledger, "--channel", "shop")
    assert [c["channel"] for c in report["channels"]] == ["shop"]
    assert report["channels"][0]["unit_share"] == 1.0
    assert {d["channel"] for d in report["daily"]} == {"shop"}


def test_json_shape_is_the_documented_one(runner: CliRunner, shop_ledger: Path) -> None:
    report = report_json(runner, shop_ledger)
    assert set(report) >= {
        "since",
        "until",
        "previous_since",
        "days",
        "timezone",
        "reorder_days",
        "channels",
        "totals",
        "skus",
        "reorder",
        "oversells",
        "daily",
    }
    period = {
        "orders",
        "units",
        "revenue",
        "unpriced_lines",
        "unpriced_units",
        "average_order_value",
        "cancelled_orders",
        "returned_orders",
        "cancellation_rate",
        "return_rate",
    }
    channel = report["channels"][0]
    assert set(channel) >= period | {"channel", "unit_share", "revenue_share", "previous"}
    assert set(channel["previous"]) >= period
    assert set(channel["change"]) == {"orders", "units", "revenue"}
    assert set(report["skus"][0]) >= {
        "sku",
        "name",
        "available",
        "units",
        "units_total",
        "average_daily_units",
        "days_of_cover",
        "out_of_stock_hours",
        "oversells",
    }
    assert set(report["reorder"][0]) >= {
        "sku",
        "available",
        "average_daily_units",
        "days_of_cover",
        "quantity",
    }
    assert set(report["daily"][0]) >= {"date", "channel", "units", "revenue"}
    assert report["days"] == 10


def test_terminal_report_fits_80_columns_without_colour(shop_ledger: Path) -> None:
    with Ledger.open(shop_ledger.parent / "inventory.db", write=False) as ledger:
        from zoneinfo import ZoneInfo

        figures = build_report(
            ledger,
            since=at("2026-11-01T00:00:00"),
            until=at("2026-11-11T00:00:00"),
            now=at("2026-11-20T00:00:00"),
            timezone=ZoneInfo("Asia/Jakarta"),
            reorder_days=14,
        )
    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False)
    print_report(console, figures)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[" not in text
    assert max(len(row) for row in text.splitlines()) <= 80
    assert re.search(r"^TEE\s+2026-11-04 06:00\s+market\s+M2\s+-1$", text, re.M)
    assert re.search(r"^MUG\s+3\s+0\.3\s+10\.0\s+\S+\s+2$", text, re.M)  # the reorder row
    assert "1 sold line (1 unit) without a price" in text


def test_bars_and_sparklines_carry_the_figure_in_their_length() -> None:
    assert bar(1.0, 4) == "████"
    assert bar(0.5, 4) == "██  "
    assert bar(1 / 32, 4) == "▏   "  # one eighth of one character
    assert sparkline([0, 7, 14]) == "▁▅█"  # levels 0, 4 (3.5 rounded) and 7 of ▁…█
    # More days than characters: pairs of days are summed into one.
    assert sparkline([1, 1, 0, 0, 4, 3], width=3) == "▃▁█"  # 2, 0 and 7 of 7 eighths


def test_oversell_goes_to_the_order_placed_after_the_last_unit() -> None:
    run = RunMoves(
        before=2,
        moves=[
            ("2026-11-04T06:00:00Z", "order", "b", "late", -1, "2026-11-04T03:00:00Z"),
            ("2026-11-04T06:00:00Z", "order", "a", "early", -2, "2026-11-04T01:00:00Z"),
            ("2026-11-04T06:00:00Z", "order", "c", "later", -1, "2026-11-04T04:00:00Z"),
        ],
    )
    # early takes 2 → 0, late 0 → −1 (the oversell), later −1 → −2 (already oversold).
    assert [(o.order_id, o.available) for o in oversells_in_run(run)] == [("late", -1)]


def test_window_that_ends_before_it_starts_is_refused(runner: CliRunner, shop_ledger: Path) -> None:
    result = runner.invoke(
        app,
        ["--config", str(shop_ledger), "report", "--since", "2026-11-11", "--until", "2026-11-01"],
    )
    assert result.exit_code == 2
    assert "Error: --since: the window must start before it ends" in result.stderr


def test_unknown_timezone_is_a_config_error(runner: CliRunner, shop_ledger: Path) -> None:
    shop_ledger.write_text(shop_ledger.read_text().replace("Asia/Jakarta", "Asia/Jakata"))
    result = runner.invoke(app, ["--config", str(shop_ledger), "report"])
    assert result.exit_code == 2
    assert "[report] key 'timezone'" in result.stderr
    assert "Asia/Jakata" in result.stderr


def test_orders_csv_has_one_row_per_line(runner: CliRunner, shop_ledger: Path) -> None:
    target = shop_ledger.parent / "orders.csv"
    result = runner.invoke(
        app,
        ["--config", str(shop_ledger), "orders", "--channel", "market", "--csv", str(target)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "wrote 4 order lines" in result.stderr
    with target.open(newline="", encoding="utf-8") as source:
        rows = {row["order_id"]: row for row in csv.DictReader(source)}
    assert set(rows) == {"P2", "M1", "M2", "M3"}
    assert rows["M1"] == {
        "channel": "market",
        "order_id": "M1",
        "status": "shipped",
        "created_at": "2026-11-04T01:00:00.000000Z",
        "updated_at": "2026-11-04T01:00:00.000000Z",
        "line_id": "1",
        "sku": "TEE",
        "channel_sku": "TEE",
        "quantity": "2",
        "unit_price": "150000",
        "currency": "IDR",
    }
    assert (rows["M2"]["unit_price"], rows["M2"]["currency"]) == ("", "")
    # A restocked return moved nothing: its line names the SKU it maps to now.
    assert rows["M3"]["sku"] == "SCARF"
