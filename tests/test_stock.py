"""Counting, receiving and stock-takes: `stock set|add|import|export` and the stock listing."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from omnisync.errors import UsageError
from omnisync.ledger import Ledger
from omnisync.reconcile import Effect, LineMovement
from omnisync.stock import add_stock, export_stock, import_stock, read_stock_csv, set_stock
from tests.helpers import Shop, invoke, listing, order

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "inventory.db", write=True) as opened:
        with opened.atomic():
            for sku in ("TEE-M", "TEE-L", "MUG"):
                opened.add_sku(sku, now=NOW)
        yield opened


def snapshot(ledger: Ledger) -> tuple[object, ...]:
    """Everything a stock command may change, to show that a failed one changed nothing."""
    return (
        ledger.known_skus(),
        {sku: (b.name, b.on_hand, b.committed) for sku, b in ledger.balances().items()},
        len(ledger.movements()),
    )


def sell(ledger: Ledger, sku: str, *, shipped: int = 0, committed: int = 0) -> None:
    with ledger.atomic():
        ledger.write_line_movements(
            "web",
            [LineMovement("1001", "1", sku, Effect(on_hand=-shipped, committed=committed))],
            run_id=None,
            now=NOW,
        )


# -- set and add ---------------------------------------------------------------------------


def test_set_writes_the_difference_as_a_count(ledger: Ledger) -> None:
    add_stock(ledger, "TEE-M", 10, reason="delivery", now=NOW)
    sell(ledger, "TEE-M", shipped=3, committed=2)
    counted = set_stock(ledger, "TEE-M", 5, reason="shelf count", now=NOW)
    assert (counted.expected, counted.counted, counted.variance, counted.new) == (7, 5, -2, False)
    newest = ledger.movements(limit=1)[0]
    assert (newest["kind"], newest["on_hand"], newest["committed"], newest["reason"]) == (
        "count",
        -2,
        0,
        "shelf count",
    )
    balance = ledger.balances(["TEE-M"])["TEE-M"]
    # A count is of units on the shelf; units promised to orders stay promised.
    assert (balance.on_hand, balance.committed, balance.available) == (5, 2, 3)


def test_setting_the_quantity_it_already_has_writes_nothing(ledger: Ledger) -> None:
    add_stock(ledger, "MUG", 4, reason="delivery", now=NOW)
    before = len(ledger.movements())
    assert set_stock(ledger, "MUG", 4, reason="count", now=NOW).variance == 0
    assert len(ledger.movements()) == before


def test_a_negative_count_is_refused(ledger: Ledger) -> None:
    with pytest.raises(UsageError, match="cannot be negative"):
        set_stock(ledger, "MUG", -1, reason="count", now=NOW)


def test_add_records_receipts_and_write_offs(ledger: Ledger) -> None:
    assert add_stock(ledger, "MUG", 12, reason="delivery", now=NOW) == 12
    assert add_stock(ledger, "MUG", -2, reason="broken", now=NOW) == 10
    assert [(m["kind"], m["on_hand"], m["reason"]) for m in ledger.movements()] == [
        ("adjust", -2, "broken"),
        ("adjust", 12, "delivery"),
    ]


def test_an_unknown_sku_is_refused_with_near_matches(ledger: Ledger) -> None:
    before = snapshot(ledger)
    with pytest.raises(UsageError) as caught:
        set_stock(ledger, "TEE-XL", 3, reason="count", now=NOW)
    assert str(caught.value) == (
        "unknown SKU 'TEE-XL'. Did you mean TEE-L, TEE-M? Pass --new to create it."
    )
    with pytest.raises(UsageError, match="Pass --new"):
        add_stock(ledger, "ZZZ", 3, reason="delivery", now=NOW)
    assert snapshot(ledger) == before


def test_new_creates_the_sku_with_its_name(ledger: Ledger) -> None:
    counted = set_stock(ledger, "CAP", 6, reason="count", now=NOW, create=True, name="Cap")
    assert counted.new and counted.variance == 6
    assert ledger.balances(["CAP"])["CAP"].name == "Cap"


# -- the stock-take CSV --------------------------------------------------------------------


def write_csv(tmp_path: Path, text: str, name: str = "counts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_counts_every_row_and_creates_unknown_skus(ledger: Ledger, tmp_path: Path) -> None:
    add_stock(ledger, "TEE-M", 10, reason="delivery", now=NOW)
    path = write_csv(tmp_path, "sku,on_hand,name\nTEE-M,8,\nCAP,5,Baseball cap\nMUG,0,Mug\n")
    counted = import_stock(ledger, path, now=NOW)
    assert [(c.sku, c.expected, c.counted, c.variance, c.new) for c in counted] == [
        ("TEE-M", 10, 8, -2, False),
        ("CAP", 0, 5, 5, True),
        ("MUG", 0, 0, 0, False),
    ]
    balances = ledger.balances()
    assert (balances["TEE-M"].on_hand, balances["CAP"].on_hand, balances["CAP"].name) == (
        8,
        5,
        "Baseball cap",
    )
    assert balances["MUG"].name == "Mug"
    assert {m["reason"] for m in ledger.movements() if m["kind"] == "count"} == {
        "stock import counts.csv"
    }


def test_an_empty_name_cell_keeps_the_name_the_sku_has(ledger: Ledger, tmp_path: Path) -> None:
    set_stock(ledger, "MUG", 1, reason="count", now=NOW, name="Mug")
    import_stock(ledger, write_csv(tmp_path, "sku,on_hand,name\nMUG,3,\n"), now=NOW)
    assert ledger.balances(["MUG"])["MUG"].name == "Mug"


def test_a_spreadsheet_csv_with_a_bom_and_spaces_is_read(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffsku , on_hand\r\n TEE-M , 4 \r\n".encode())
    assert read_stock_csv(path) == [("TEE-M", 4, "")]


def test_a_stock_take_saved_by_an_indonesian_excel_is_read(ledger: Ledger, tmp_path: Path) -> None:
    # Excel in a comma-decimal locale (id-ID) saves CSV with `;` and keeps the header's case.
    path = write_csv(tmp_path, 'SKU;On_Hand;Name\r\nTEE-M;4;"Kaos; ukuran M"\r\nMUG;0;\r\n')
    import_stock(ledger, path, now=NOW)
    balances = ledger.balances(["TEE-M", "MUG"])
    assert (balances["TEE-M"].on_hand, balances["TEE-M"].name) == (4, "Kaos; ukuran M")
    assert balances["MUG"].on_hand == 0


def test_every_bad_row_is_named_at_once_and_nothing_changes(ledger: Ledger, tmp_path: Path) -> None:
    add_stock(ledger, "TEE-M", 10, reason="delivery", now=NOW)
    before = snapshot(ledger)
    path = write_csv(tmp_path, "sku,on_hand\nTEE-M,4\nMUG,four\nCAP,-1\nTEE-M,5\nHAT,2\n")
    with pytest.raises(UsageError) as caught:
        import_stock(ledger, path, now=NOW)
    assert str(caught.value).splitlines() == [
        f"{path}:3: column on_hand: expected a whole number ≥ 0, got 'four'",
        f"{path}:4: column on_hand: expected a whole number ≥ 0, got -1",
        f"{path}:5: SKU 'TEE-M' is already on line 2",
    ]
    assert snapshot(ledger) == before


def test_a_file_of_bad_rows_names_the_first_twenty_and_counts_the_rest(
    ledger: Ledger, tmp_path: Path
) -> None:
    rows = "".join(f"SKU-{n},lots\n" for n in range(25))
    path = write_csv(tmp_path, "sku,on_hand\n" + rows)
    with pytest.raises(UsageError) as caught:
        import_stock(ledger, path, now=NOW)
    lines = str(caught.value).splitlines()
    assert len(lines) == 21
    assert lines[0].startswith(f"{path}:2: column on_hand")
    assert lines[19].startswith(f"{path}:21: column on_hand")
    assert lines[20] == f"{path}: and 5 more"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "sku,on_hand\nTEE-M,4\nMUG,four\n",
            "{path}:3: column on_hand: expected a whole number ≥ 0, got 'four'",
            id="not-a-number",
        ),
        pytest.param(
            "sku,on_hand\nTEE-M,4\nMUG,-1\n",
            "{path}:3: column on_hand: expected a whole number ≥ 0, got -1",
            id="negative",
        ),
        pytest.param(
            "sku,on_hand\nTEE-M,4\n,3\n",
            "{path}:3: column sku: expected a SKU, got an empty cell",
            id="empty-sku",
        ),
        pytest.param(
            "sku,on_hand\nTEE-M,4\nMUG,1\nTEE-M,5\n",
            "{path}:4: SKU 'TEE-M' is already on line 2",
            id="duplicate",
        ),
        pytest.param(
            "sku,on_hand,name\nTEE-M,4,T-shirt, medium\n",
            "{path}:2: more cells than the header has columns",
            id="unquoted-comma",
        ),
        pytest.param(
            "code,qty\nTEE-M,4\n",
            "{path}:1: expected a header with columns sku,on_hand[,name][,location], got code,qty",
            id="wrong-header",
        ),
        pytest.param("", "{path}:1: expected a header", id="empty-file"),
    ],
)
def test_a_bad_row_names_file_line_and_column_and_changes_nothing(
    ledger: Ledger, tmp_path: Path, text: str, message: str
) -> None:
    add_stock(ledger, "TEE-M", 10, reason="delivery", now=NOW)
    before = snapshot(ledger)
    path = write_csv(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        import_stock(ledger, path, now=NOW)
    assert str(caught.value).startswith(message.format(path=path))
    assert snapshot(ledger) == before


def test_export_then_import_restores_the_counted_stock(ledger: Ledger, tmp_path: Path) -> None:
    set_stock(ledger, "TEE-M", 7, reason="count", now=NOW, name='T-shirt, "medium"')
    set_stock(ledger, "MUG", 3, reason="count", now=NOW)
    exported = io.StringIO()
    assert export_stock(ledger, exported) == 3
    path = write_csv(tmp_path, exported.getvalue(), "export.csv")
    assert read_stock_csv(path) == [
        ("MUG", 3, ""),
        ("TEE-L", 0, ""),
        ("TEE-M", 7, 'T-shirt, "medium"'),
    ]

    # Re-importing an unchanged export writes nothing.
    before = len(ledger.movements())
    assert all(c.variance == 0 for c in import_stock(ledger, path, now=NOW))
    assert len(ledger.movements()) == before

    add_stock(ledger, "TEE-M", -5, reason="lost", now=NOW)
    add_stock(ledger, "TEE-L", 9, reason="delivery", now=NOW)
    import_stock(ledger, path, now=NOW)
    balances = ledger.balances()
    assert {sku: (b.on_hand, b.name) for sku, b in balances.items()} == {
        "MUG": (3, ""),
        "TEE-L": (0, ""),
        "TEE-M": (7, 'T-shirt, "medium"'),
    }


# -- through the command line --------------------------------------------------------------


@pytest.fixture
def cli_shop(shop: Shop) -> Shop:
    shop.write_config({})
    return shop


def run(shop: Shop, *args: str) -> Result:
    """Run a command that must succeed; a traceback fails the test loudly."""
    result: Result = invoke(CliRunner(), shop, *args, catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def stock_json(shop: Shop, *args: str) -> list[dict[str, object]]:
    result = run(shop, "stock", *args, "--json")
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_cli_set_and_add(cli_shop: Shop) -> None:
    result = run(cli_shop, "stock", "set", "TEE-M", "10", "--new", "--name", "T-shirt M")
    assert result.stdout == "TEE-M: on_hand 0 → 10 (+10)\n"
    result = run(cli_shop, "stock", "add", "--reason", "broken", "TEE-M", "--", "-3")
    assert result.stdout == "TEE-M: -3, on_hand now 7\n"
    assert stock_json(cli_shop) == [
        {
            "sku": "TEE-M",
            "name": "T-shirt M",
            "on_hand": 7,
            "committed": 0,
            "available": 7,
            "channels": {},
            "locations": {"main": {"on_hand": 7, "committed": 0, "available": 7}},
        }
    ]


def test_cli_add_takes_a_negative_delta_as_typed(cli_shop: Shop) -> None:
    run(cli_shop, "stock", "set", "MUG", "5", "--new")
    result = invoke(CliRunner(), cli_shop, "stock", "add", "MUG", "-2")
    assert result.exit_code == 0, result.output
    assert stock_json(cli_shop)[0]["on_hand"] == 3


def test_cli_unknown_sku_exits_2_and_suggests(cli_shop: Shop) -> None:
    run(cli_shop, "stock", "set", "TEE-M", "10", "--new")
    result = invoke(CliRunner(), cli_shop, "stock", "add", "TEE-N", "5")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: unknown SKU 'TEE-N'. Did you mean TEE-M? Pass --new to create it.\n"
    )
    assert stock_json(cli_shop)[0]["on_hand"] == 10


def test_cli_import_lists_new_skus_and_variance(cli_shop: Shop, tmp_path: Path) -> None:
    run(cli_shop, "stock", "set", "TEE-M", "10", "--new")
    path = write_csv(tmp_path, "sku,on_hand,name\nTEE-M,8,\nCAP,5,Cap\n")
    result = run(cli_shop, "stock", "import", str(path))
    lines = result.stdout.splitlines()
    assert any(line.split() == ["TEE-M", "10", "8", "-2"] for line in lines), lines
    assert any(line.split() == ["CAP", "0", "5", "+5", "new"] for line in lines), lines
    assert lines[-1] == "2 SKUs counted, 1 new"

    path = write_csv(tmp_path, "sku,on_hand\nTEE-M,6\nHAT,1\n", "again.csv")
    result = run(cli_shop, "stock", "import", str(path), "--json")
    assert json.loads(result.stdout) == [
        {
            "sku": "TEE-M",
            "expected": 8,
            "counted": 6,
            "variance": -2,
            "new": False,
            "location": "main",
        },
        {"sku": "HAT", "expected": 0, "counted": 1, "variance": 1, "new": True, "location": "main"},
    ]


def test_cli_import_with_a_bad_row_exits_2_and_changes_nothing(
    cli_shop: Shop, tmp_path: Path
) -> None:
    run(cli_shop, "stock", "set", "TEE-M", "10", "--new")
    path = write_csv(tmp_path, "sku,on_hand\nTEE-M,3\nNEW-SKU,2\nMUG,lots\n")
    result = invoke(CliRunner(), cli_shop, "stock", "import", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {path}:4: column on_hand: expected a whole number ≥ 0, got 'lots'\n"
    )
    assert [(row["sku"], row["on_hand"]) for row in stock_json(cli_shop)] == [("TEE-M", 10)]


def test_cli_export_then_import_round_trip(cli_shop: Shop, tmp_path: Path) -> None:
    run(cli_shop, "stock", "set", "TEE-M", "10", "--new", "--name", "T-shirt, M")
    run(cli_shop, "stock", "set", "MUG", "4", "--new")
    exported = run(cli_shop, "stock", "export").stdout
    assert exported == 'sku,on_hand,name\nMUG,4,\nTEE-M,10,"T-shirt, M"\n'
    out = tmp_path / "out.csv"
    result = run(cli_shop, "stock", "export", str(out))
    assert out.read_text() == exported
    assert "wrote 2 rows" in result.stderr

    run(cli_shop, "stock", "add", "MUG", "--", "-4")
    run(cli_shop, "stock", "import", str(out))
    assert run(cli_shop, "stock", "export").stdout == exported


def test_cli_stock_low_and_named_skus(cli_shop: Shop) -> None:
    run(cli_shop, "stock", "set", "TEE-M", "10", "--new")
    run(cli_shop, "stock", "set", "MUG", "2", "--new")
    run(cli_shop, "stock", "set", "CAP", "0", "--new")
    assert [row["sku"] for row in stock_json(cli_shop, "--low", "2")] == ["CAP", "MUG"]
    assert [row["sku"] for row in stock_json(cli_shop, "--low", "0")] == ["CAP"]
    assert [row["sku"] for row in stock_json(cli_shop, "TEE-M", "CAP")] == ["CAP", "TEE-M"]
    result = invoke(CliRunner(), cli_shop, "stock", "NOPE")
    assert result.exit_code == 2
    assert "unknown SKU NOPE" in result.stderr


def test_stock_json_shows_what_each_channel_was_last_pushed(shop: Shop) -> None:
    shop.write_channel(
        "web",
        listings=[listing("W1", "TEE-M", 10), listing("W2", "MUG", 0)],
        orders=[order("1001", "paid", [("TEE-M", 2)])],
    )
    shop.write_config({"web": {}})
    run(shop, "stock", "set", "TEE-M", "10", "--new", "--name", "T-shirt M")
    run(shop, "stock", "set", "MUG", "0", "--new")
    run(shop, "sync", "--since", "2026-11-01")
    assert stock_json(shop) == [
        {
            "sku": "MUG",
            "name": "",
            "on_hand": 0,
            "committed": 0,
            "available": 0,
            "channels": {"web": 0},
            "locations": {},  # no movement anywhere yet
        },
        {
            "sku": "TEE-M",
            "name": "T-shirt M",
            "on_hand": 10,
            "committed": 2,
            "available": 8,
            "channels": {"web": 8},
            "locations": {"main": {"on_hand": 10, "committed": 2, "available": 8}},
        },
    ]


def test_cli_a_write_off_below_zero_is_refused_without_force(cli_shop: Shop) -> None:
    run(cli_shop, "stock", "set", "TEE-M", "11", "--new")
    result = invoke(CliRunner(), cli_shop, "stock", "add", "TEE-M", "-50")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: TEE-M: on_hand is 11, so writing off 50 would take it to -39; nothing was "
        "recorded. To record it anyway, run again with --force\n"
    )
    assert stock_json(cli_shop)[0]["on_hand"] == 11
    result = run(cli_shop, "stock", "add", "TEE-M", "-50", "--force")
    assert result.stdout == "TEE-M: -50, on_hand now -39\n"
    assert stock_json(cli_shop)[0]["on_hand"] == -39


def test_a_warehouse_sized_stock_take_shows_what_changed_and_counts_the_rest(
    cli_shop: Shop, tmp_path: Path
) -> None:
    """Hundreds of rows are not printed one by one: the ones that changed are, and the rest
    are counted (every row stays in --json)."""
    skus = [f"SKU-{n:04d}" for n in range(250)]
    first = write_csv(tmp_path, "sku,on_hand\n" + "".join(f"{sku},5\n" for sku in skus))
    result = run(cli_shop, "stock", "import", str(first))
    assert result.stdout.splitlines()[-1] == "250 SKUs counted, 250 new"
    assert "50 more rows not shown, 0 of all counts as the ledger expected" in result.stdout

    recount = "sku,on_hand\n" + "".join(
        f"{sku},{4 if sku in ('SKU-0007', 'SKU-0199') else 5}\n" for sku in skus
    )
    result = run(cli_shop, "stock", "import", str(write_csv(tmp_path, recount, "again.csv")))
    shown = [
        line.split() for line in result.stdout.splitlines() if line.lstrip().startswith("SKU-")
    ]
    assert [row[0] for row in shown] == ["SKU-0007", "SKU-0199"]
    assert "248 more rows not shown, 248 of all counts as the ledger expected" in result.stdout
    assert len(stock_json(cli_shop)) == 250
