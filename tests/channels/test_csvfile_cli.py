"""The POS channel end to end from the CLI: a till's exports beside an online shop."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.helpers import Shop, invoke, listing

SINCE = "2026-11-01"
HEADER = "order_id,sku,quantity,created_at,status\n"


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def report(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def stock(shop: Shop, runner: CliRunner) -> dict[str, int]:
    rows = json.loads(ok(invoke(runner, shop, "stock", "--json")).stdout)
    return {row["sku"]: row["on_hand"] for row in rows}


def tick(path: Path) -> None:
    """Let the file system's clock move on, so the till's next write is a later change."""
    before = path.stat().st_ctime_ns
    while time.time_ns() <= before + 20_000_000:
        time.sleep(0.005)


class Till:
    """The shop's till folder: sales exports in, the stock file omnisync writes."""

    def __init__(self, shop: Shop) -> None:
        self.folder = shop.root / "till"
        self.folder.mkdir(exist_ok=True)

    def write(self, name: str, text: str) -> Path:
        path = self.folder / name
        if path.exists():
            tick(path)
        path.write_text(text)
        return path

    def append(self, name: str, text: str) -> None:
        path = self.folder / name
        tick(path)
        with path.open("a") as out:
            out.write(text)

    def stock_file(self) -> str:
        return (self.folder / "stock.csv").read_bytes().decode()


def configure(shop: Shop, runner: CliRunner, till_keys: str = "") -> Till:
    """A web shop (fake channel) and the till (csv), 10 tees and 5 mugs counted."""
    shop.write_channel("web", listings=[listing("W1", "TEE-M", 10), listing("W2", "MUG", 5)])
    shop.write_config(
        {"web": {}},
        extra=(
            '[channels.till]\ntype = "csv"\nsales = "till/*.csv"\n'
            f'stock_file = "till/stock.csv"\n{till_keys}'
        ),
    )
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))
    ok(invoke(runner, shop, "stock", "set", "MUG", "5", "--new"))
    return Till(shop)


def test_sales_in_several_files_reach_the_ledger_the_web_shop_and_the_stock_file(
    shop: Shop, runner: CliRunner
) -> None:
    till = configure(shop, runner)
    till.write(
        "2026-12-01.csv", HEADER + "R1,TEE-M,2,2026-12-01T10:00:00Z,\nR1,MUG,1,2026-12-01,\n"
    )
    till.write("2026-12-02.csv", HEADER + "R2,TEE-M,1,2026-12-02T09:00:00Z,completed\n")
    result = ok(invoke(runner, shop, "sync", "--json", "--since", SINCE))
    assert report(result)["channels"]["till"]["orders_fetched"] == 2
    # 10 tees − 2 − 1, 5 mugs − 1: the same numbers in the ledger and on both channels.
    assert stock(shop, runner) == {"MUG": 4, "TEE-M": 7}
    assert shop.quantities("web") == {"W1": 7, "W2": 4}
    assert till.stock_file() == "sku,quantity\r\nMUG,4\r\nTEE-M,7\r\n"
    assert sorted(path.name for path in till.folder.iterdir()) == [
        "2026-12-01.csv",
        "2026-12-02.csv",
        "stock.csv",
    ]


def test_a_growing_file_a_return_and_a_rerun(shop: Shop, runner: CliRunner) -> None:
    till = configure(shop, runner)
    till.write("today.csv", HEADER + "R1,TEE-M,2,2026-12-01T10:00:00Z,\n")
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    assert stock(shop, runner) == {"MUG": 5, "TEE-M": 8}

    # The till appends a sale: only the new row moves stock.
    till.append("today.csv", "R2,MUG,3,2026-12-01T11:00:00Z,\n")
    result = report(ok(invoke(runner, shop, "sync", "--json")))
    assert result["channels"]["till"]["movements"] == 1
    assert stock(shop, runner) == {"MUG": 2, "TEE-M": 8}

    # R1's row rewritten as returned: the 2 tees are back (restock_returns defaults to true).
    till.write(
        "today.csv",
        HEADER + "R1,TEE-M,2,2026-12-01T10:00:00Z,returned\nR2,MUG,3,2026-12-01T11:00:00Z,\n",
    )
    result = report(ok(invoke(runner, shop, "sync", "--json")))
    assert result["channels"]["till"]["movements"] == 1
    assert stock(shop, runner) == {"MUG": 2, "TEE-M": 10}
    assert till.stock_file() == "sku,quantity\r\nMUG,2\r\nTEE-M,10\r\n"
    assert shop.quantities("web") == {"W1": 10, "W2": 2}

    # Run again with nothing new: nothing changes, nothing is written.
    result = report(ok(invoke(runner, shop, "sync", "--json")))
    assert result["exit_code"] == 0
    assert result["channels"]["till"]["movements"] == 0
    assert result["channels"]["till"]["listings_pushed"] == 0
    assert stock(shop, runner) == {"MUG": 2, "TEE-M": 10}
    assert till.stock_file() == "sku,quantity\r\nMUG,2\r\nTEE-M,10\r\n"


def test_a_semicolon_export_with_a_bom_and_the_tills_column_names(
    shop: Shop, runner: CliRunner
) -> None:
    till = configure(
        shop,
        runner,
        'columns = { order_id = "Bon", sku = "Artikel", quantity = "Menge", '
        'created_at = "Datum", unit_price = "Preis" }\ntimezone = "Europe/Berlin"\n',
    )
    export = (
        "Bon;Artikel;Menge;Preis;Datum\n"
        "B1;TEE-M;3;12,50;2026-12-01\n"
        "B2;MUG;1;8,00;2026-12-01 14:05\n"
    )
    (till.folder / "export.csv").write_bytes(b"\xef\xbb\xbf" + export.encode())
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    assert stock(shop, runner) == {"MUG": 4, "TEE-M": 7}
    orders = json.loads(ok(invoke(runner, shop, "orders", "--json")).stdout)
    by_id = {order["id"]: order for order in orders}
    # Local times in Berlin (UTC+1 in December); prices with a decimal comma.
    assert by_id["B1"]["created_at"].startswith("2026-11-30T23:00:00")
    assert by_id["B2"]["created_at"].startswith("2026-12-01T13:05:00")
    assert by_id["B1"]["lines"][0]["unit_price"] == "12.50"


def test_a_till_without_a_currency_column_counts_revenue_in_the_configured_currency(
    shop: Shop, runner: CliRunner
) -> None:
    till = configure(shop, runner, 'currency = "idr"\n')
    till.write(
        "export.csv",
        "order_id,sku,quantity,created_at,unit_price,currency\n"
        "R1,TEE-M,2,2026-12-01T10:00:00Z,75000,\n"  # no currency cell: the channel's
        "R2,MUG,1,2026-12-01T11:00:00Z,5.50,USD\n",  # a row's own currency wins
    )
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    report = json.loads(
        ok(
            invoke(
                runner, shop, "report", "--since", "2026-11-01", "--until", "2026-12-02", "--json"
            )
        ).stdout
    )
    channels = {channel["channel"]: channel for channel in report["channels"]}
    assert channels["till"]["revenue"] == {"IDR": "150000", "USD": "5.50"}


def test_a_currency_that_is_not_a_code_is_a_config_error(shop: Shop, runner: CliRunner) -> None:
    configure(shop, runner)
    shop.write_config(
        {"web": {}},
        extra=(
            '[channels.till]\ntype = "csv"\nsales = "till/*.csv"\n'
            'stock_file = "till/stock.csv"\ncurrency = "rupiah"\n'
        ),
    )
    result = invoke(runner, shop, "sync")
    assert result.exit_code == 2
    assert "[channels.till]" in result.stderr
    assert "currency" in result.stderr
    assert "expected a three-letter ISO 4217 code such as IDR, got 'rupiah'" in result.stderr


def test_a_malformed_row_is_reported_the_rest_applies_and_the_run_exits_1(
    shop: Shop, runner: CliRunner
) -> None:
    till = configure(shop, runner)
    till.write(
        "today.csv",
        HEADER
        + "R1,TEE-M,2,2026-12-01T10:00:00Z,\n"
        + "R2,MUG,two,2026-12-01T10:05:00Z,\n"
        + "R3,MUG,1,2026-12-01T10:10:00Z,\n",
    )
    result = invoke(runner, shop, "sync", "--since", SINCE)
    assert result.exit_code == 1, result.output
    assert "till: till/today.csv:3:3: quantity: 'two' is not a whole number of units" in (
        result.stderr
    )
    assert "till: till/today.csv:3: order R2 is held back until this row is fixed" in (
        result.stderr
    )
    assert stock(shop, runner) == {"MUG": 4, "TEE-M": 8}
    assert till.stock_file() == "sku,quantity\r\nMUG,4\r\nTEE-M,8\r\n"

    # Still reported on the next run, until the row is fixed; then it applies.
    again = invoke(runner, shop, "sync", "--json")
    assert again.exit_code == 1
    assert report(again)["channels"]["till"]["errors"][0].startswith("till/today.csv:3:3:")
    till.write(
        "today.csv",
        HEADER
        + "R1,TEE-M,2,2026-12-01T10:00:00Z,\n"
        + "R2,MUG,2,2026-12-01T10:05:00Z,\n"
        + "R3,MUG,1,2026-12-01T10:10:00Z,\n",
    )
    ok(invoke(runner, shop, "sync"))
    assert stock(shop, runner) == {"MUG": 2, "TEE-M": 8}


@pytest.mark.parametrize(
    ("skus", "expected"),
    [
        ('skus = "TEE-*"', "sku,quantity\r\nTEE-M,9\r\n"),
        ('skus = ["MUG"]', "sku,quantity\r\nMUG,5\r\n"),
    ],
)
def test_skus_limit_the_stock_file_to_what_the_till_sells(
    shop: Shop, runner: CliRunner, skus: str, expected: str
) -> None:
    till = configure(shop, runner, skus + "\n")
    till.write("today.csv", HEADER + "R1,TEE-M,1,2026-12-01T10:00:00Z,\n")
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    assert till.stock_file() == expected


def test_a_dry_run_writes_no_stock_file(shop: Shop, runner: CliRunner) -> None:
    till = configure(shop, runner)
    till.write("today.csv", HEADER + "R1,TEE-M,1,2026-12-01T10:00:00Z,\n")
    ok(invoke(runner, shop, "sync", "--dry-run", "--since", SINCE))
    assert not (till.folder / "stock.csv").exists()
    assert stock(shop, runner) == {"MUG": 5, "TEE-M": 10}
