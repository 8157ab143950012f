"""Several stock locations: config, per-location stock commands, transfers, targets, upgrades."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnisync.config import load_config
from omnisync.errors import ConfigError
from omnisync.ledger import Ledger
from omnisync.models import Effect
from tests.helpers import Shop, invoke, listing, order

SINCE = "2026-11-01"
LOCATIONS = '[locations]\nmain = "Warehouse"\nstore = "Toko Kemang"\n'


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def stock_json(runner: CliRunner, shop: Shop) -> dict[str, dict[str, Any]]:
    rows = json.loads(ok(invoke(runner, shop, "stock", "--json")).stdout)
    return {row["sku"]: row for row in rows}


def at(runner: CliRunner, shop: Shop, sku: str) -> dict[str, tuple[int, int]]:
    """Location -> (on_hand, committed) of one SKU, as `stock --json` shows them."""
    places = stock_json(runner, shop)[sku]["locations"]
    return {place: (b["on_hand"], b["committed"]) for place, b in places.items()}


def movements(shop: Shop) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(shop.ledger)
    try:
        return conn.execute(
            "SELECT id, time, kind, sku, location, on_hand, committed, channel, order_id, "
            "line_id, reason FROM movements ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


@pytest.fixture
def two_places(shop: Shop, runner: CliRunner) -> Shop:
    """A warehouse (main) with 10 TEE-M and a shop (store) with 3: `web` sells from both,
    `till` from the shop alone."""
    shop.write_channel("web", listings=[listing("W1", "TEE-M", 0)])
    shop.write_channel("till", listings=[listing("S1", "TEE-M", 0)])
    shop.write_config(
        {"web": {"sell_from": ["main", "store"]}, "till": {"location": "store"}}, LOCATIONS
    )
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "3", "--location", "store"))
    return shop


# -- config --------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "omnisync.toml"
    path.write_text(text)
    return path


def test_without_locations_every_channel_takes_and_offers_main(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[channels.a]\ntype = "fake"\npath = "a.json"\n'))
    assert config.locations == {"main": ""}
    assert (config.channels["a"].location, config.channels["a"].sell_from) == ("main", ("main",))


def test_main_is_always_a_location_and_sell_from_defaults_to_the_channels_own(
    tmp_path: Path,
) -> None:
    text = '[locations]\nstore = "Shop"\n[channels.a]\ntype = "fake"\npath = "a.json"\n'
    config = load_config(write(tmp_path, text + 'location = "store"\n'))
    assert list(config.locations) == ["main", "store"]
    assert config.channels["a"].sell_from == ("store",)


@pytest.mark.parametrize(
    ("extra", "line", "expected"),
    [
        (
            'location = "shop"\n',
            6,
            "[channels.a] key 'location': unknown location 'shop' ([locations] names: main, store)",
        ),
        (
            'sell_from = ["main", "back"]\n',
            6,
            "[channels.a] key 'sell_from': unknown location 'back' "
            "([locations] names: main, store)",
        ),
        ("sell_from = []\n", 6, "[channels.a] key 'sell_from': expected a list of location"),
        ('sell_from = "main"\n', 6, "[channels.a] key 'sell_from': expected a list of location"),
        ('location = "the shop"\n', 6, "[channels.a] key 'location': expected a location name"),
    ],
)
def test_a_channel_naming_a_location_that_is_not_declared_is_a_config_error(
    tmp_path: Path, extra: str, line: int, expected: str
) -> None:
    text = '[locations]\nstore = "Shop"\n[channels.a]\ntype = "fake"\npath = "a.json"\n'
    path = write(tmp_path, text + extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:{line}: {expected}"), str(caught.value)


def test_a_location_name_with_spaces_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[locations]\n"back room" = "Back"\n')
    with pytest.raises(ConfigError, match="a location name may hold only letters"):
        load_config(path)


# -- per-location targets ------------------------------------------------------------------


def test_each_channel_is_offered_the_sum_over_its_sell_from_and_orders_take_from_its_location(
    two_places: Shop, runner: CliRunner
) -> None:
    shop = two_places
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    # web sells from both places: 10 + 3; the till only what the shop holds.
    assert shop.quantities("web") == {"W1": 13}
    assert shop.quantities("till") == {"S1": 3}

    # A web order is held at the warehouse; a till sale leaves the shop.
    shop.write_channel(
        "web", listings=[listing("W1", "TEE-M", 13)], orders=[order("1", "paid", [("TEE-M", 4)])]
    )
    shop.write_channel(
        "till",
        listings=[listing("S1", "TEE-M", 3)],
        orders=[order("9", "completed", [("TEE-M", 2)])],
    )
    ok(invoke(runner, shop, "sync"))
    assert at(runner, shop, "TEE-M") == {"main": (10, 4), "store": (1, 0)}
    assert shop.quantities("web") == {"W1": 6 + 1}
    assert shop.quantities("till") == {"S1": 1}
    row = stock_json(runner, shop)["TEE-M"]
    assert (row["on_hand"], row["committed"], row["available"]) == (11, 4, 7)


def test_share_and_buffer_apply_to_the_sum_over_sell_from(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel("web", listings=[listing("W1", "TEE-M", 0)])
    shop.write_config(
        {"web": {"sell_from": ["main", "store"], "share": 0.5, "buffer": 1}}, LOCATIONS
    )
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "7", "--new"))
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "4", "--location", "store"))
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    # floor((7 + 4) × 0.5) − 1 = 4
    assert shop.quantities("web") == {"W1": 4}


def test_the_stock_table_shows_a_column_per_location_then_the_totals(
    two_places: Shop, runner: CliRunner
) -> None:
    out = ok(invoke(runner, two_places, "stock")).stdout
    header, row = out.splitlines()[:2]
    assert header.split()[:7] == ["sku", "name", "at", "main", "at", "store", "on_hand"]
    assert row.split()[:6] == ["TEE-M", "10", "3", "13", "0", "13"]


# -- stock set / add / import / export at a location ---------------------------------------


def test_set_and_add_at_a_location_leave_the_others_alone(
    two_places: Shop, runner: CliRunner
) -> None:
    shop = two_places
    out = ok(invoke(runner, shop, "stock", "add", "TEE-M", "5", "--location", "store")).stdout
    assert out.strip() == "TEE-M: +5, on_hand at store now 8"
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "2", "--location", "store"))
    assert at(runner, shop, "TEE-M") == {"main": (10, 0), "store": (2, 0)}


def test_an_unknown_location_is_refused_naming_the_known_ones(
    two_places: Shop, runner: CliRunner
) -> None:
    before = movements(two_places)
    result = invoke(runner, two_places, "stock", "add", "TEE-M", "5", "--location", "back")
    assert result.exit_code == 2
    assert "Error: --location: unknown location 'back' (known: main, store;" in result.stderr
    assert movements(two_places) == before


def test_import_reads_a_location_column_and_export_writes_it_back(
    two_places: Shop, runner: CliRunner
) -> None:
    shop = two_places
    counts = shop.root / "counts.csv"
    counts.write_text("sku,location,on_hand\nTEE-M,store,5\nTEE-M,main,9\nMUG,,4\n")
    rows = json.loads(ok(invoke(runner, shop, "stock", "import", str(counts), "--json")).stdout)
    assert [(r["sku"], r["location"], r["variance"]) for r in rows] == [
        ("TEE-M", "store", 2),
        ("TEE-M", "main", -1),
        ("MUG", "main", 4),
    ]
    exported = ok(invoke(runner, shop, "stock", "export")).stdout
    assert exported.splitlines() == [
        "sku,location,on_hand,name",
        "MUG,main,4,",
        "TEE-M,main,9,",
        "TEE-M,store,5,",
    ]
    # What export writes, import reads back as no change at all.
    counts.write_text(exported)
    rows = json.loads(ok(invoke(runner, shop, "stock", "import", str(counts), "--json")).stdout)
    assert all(r["variance"] == 0 for r in rows)
    # One location alone: the plain stock-take columns, that location's numbers.
    only = ok(invoke(runner, shop, "stock", "export", "--location", "store")).stdout
    assert only.splitlines() == ["sku,on_hand,name", "MUG,0,", "TEE-M,5,"]


def test_import_with_location_option_counts_there_and_refuses_an_unknown_location_cell(
    two_places: Shop, runner: CliRunner
) -> None:
    shop = two_places
    counts = shop.root / "counts.csv"
    counts.write_text("sku,on_hand\nTEE-M,6\n")
    ok(invoke(runner, shop, "stock", "import", str(counts), "--location", "store"))
    assert at(runner, shop, "TEE-M") == {"main": (10, 0), "store": (6, 0)}
    before = movements(shop)
    counts.write_text("sku,on_hand,location\nTEE-M,1,main\nTEE-M,2,attic\n")
    result = invoke(runner, shop, "stock", "import", str(counts))
    assert result.exit_code == 2
    assert f"{counts}:3: column location: unknown location 'attic'" in result.stderr
    assert movements(shop) == before  # all rows or none


# -- transfers -----------------------------------------------------------------------------


def test_a_transfer_is_two_movements_and_moves_what_each_place_offers(
    two_places: Shop, runner: CliRunner
) -> None:
    shop = two_places
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    before = len(movements(shop))
    out = ok(
        invoke(
            runner,
            shop,
            "stock",
            "move",
            "TEE-M",
            "4",
            "--from",
            "main",
            "--to",
            "store",
            "--reason",
            "restock the shop",
        )
    ).stdout
    assert "moved 4 from main to store" in out
    written = movements(shop)[before:]
    assert [(m[2], m[4], m[5], m[6], m[10]) for m in written] == [
        ("transfer", "main", -4, 0, "restock the shop"),
        ("transfer", "store", 4, 0, "restock the shop"),
    ]
    assert written[0][1] == written[1][1]  # one moment: one transaction
    assert at(runner, shop, "TEE-M") == {"main": (6, 0), "store": (7, 0)}
    ok(invoke(runner, shop, "sync"))
    assert shop.quantities("web") == {"W1": 13}  # the whole shop: unchanged
    assert shop.quantities("till") == {"S1": 7}
    log = json.loads(ok(invoke(runner, shop, "log", "--json", "--limit", "2")).stdout)
    assert [(m["kind"], m["location"], m["on_hand"]) for m in log] == [
        ("transfer", "store", 4),
        ("transfer", "main", -4),
    ]


def test_a_transfer_of_more_than_is_available_is_refused_unless_forced(
    two_places: Shop, runner: CliRunner
) -> None:
    shop = two_places
    shop.write_channel(
        "till",
        listings=[listing("S1", "TEE-M", 3)],
        orders=[order("9", "paid", [("TEE-M", 1)])],
    )
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    before = movements(shop)
    # The shop holds 3, one of them promised to order 9: 2 can leave.
    result = invoke(runner, shop, "stock", "move", "TEE-M", "3", "--from", "store", "--to", "main")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: TEE-M: only 2 available at store (on_hand 3, committed 1); nothing was moved. "
        "To move 3 anyway, run again with --force"
    )
    assert movements(shop) == before
    ok(
        invoke(
            runner,
            shop,
            "stock",
            "move",
            "TEE-M",
            "3",
            "--from",
            "store",
            "--to",
            "main",
            "--force",
        )
    )
    assert at(runner, shop, "TEE-M") == {"main": (13, 0), "store": (0, 1)}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--from", "main", "--to", "main"], "--from and --to are both 'main'"),
        (["--from", "main", "--to", "attic"], "--to: unknown location 'attic'"),
        (["--from", "attic", "--to", "main"], "--from: unknown location 'attic'"),
    ],
)
def test_a_transfer_between_unknown_or_equal_places_is_a_usage_error(
    two_places: Shop, runner: CliRunner, args: list[str], expected: str
) -> None:
    before = movements(two_places)
    result = invoke(runner, two_places, "stock", "move", "TEE-M", "1", *args)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert movements(two_places) == before


def test_a_transfer_of_nothing_or_an_unknown_sku_is_refused(
    two_places: Shop, runner: CliRunner
) -> None:
    zero = invoke(
        runner, two_places, "stock", "move", "TEE-M", "0", "--from", "main", "--to", "store"
    )
    assert zero.exit_code == 2
    assert "the quantity moved must be at least 1, got 0" in zero.stderr
    unknown = invoke(
        runner, two_places, "stock", "move", "TEE-X", "1", "--from", "main", "--to", "store"
    )
    assert unknown.exit_code == 2
    assert "unknown SKU 'TEE-X'" in unknown.stderr


# -- an existing single-location ledger, upgraded in place ---------------------------------


def test_adding_locations_to_a_running_shop_loses_and_rewrites_nothing(
    shop: Shop, runner: CliRunner
) -> None:
    # A shop as it ran before locations: one channel, an open order holding 2 units.
    shop.write_channel(
        "web",
        listings=[listing("W1", "TEE-M", 10)],
        orders=[order("1", "paid", [("TEE-M", 2)]), order("2", "completed", [("TEE-M", 1)])],
    )
    shop.write_config({"web": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    history = movements(shop)
    assert stock_json(runner, shop)["TEE-M"]["available"] == 7
    assert shop.quantities("web") == {"W1": 7}

    # The seller opens a shop: [locations] gains it and `web` now ships from there.
    shop.write_config({"web": {"location": "store", "sell_from": ["main", "store"]}}, LOCATIONS)
    report = ok(invoke(runner, shop, "check", "--offline")).stdout
    assert "orders take stock from store (Toko Kemang); offers what is available at " in report
    assert "location changed: its orders took stock from main until now" in report
    assert movements(shop) == history  # check writes nothing
    row = stock_json(runner, shop)["TEE-M"]
    assert (row["on_hand"], row["committed"], row["available"]) == (9, 2, 7)
    assert at(runner, shop, "TEE-M") == {"main": (9, 2)}

    # A re-run changes nothing; the open order shipping from the shop moves its promise there.
    ok(invoke(runner, shop, "sync"))
    assert movements(shop) == history
    assert shop.quantities("web") == {"W1": 7}
    shop.write_channel(
        "web",
        listings=[listing("W1", "TEE-M", 7)],
        orders=[
            order("1", "shipped", [("TEE-M", 2)], updated="2026-11-21T09:00:00Z"),
            order("2", "completed", [("TEE-M", 1)]),
        ],
    )
    ok(invoke(runner, shop, "sync"))
    assert movements(shop)[: len(history)] == history  # nothing rewritten
    assert at(runner, shop, "TEE-M") == {"main": (9, 0), "store": (-2, 0)}
    row = stock_json(runner, shop)["TEE-M"]
    assert (row["on_hand"], row["committed"], row["available"]) == (7, 0, 7)
    # What each line holds where, kept on its order's row, is still its movements' sum.
    with Ledger.open(shop.ledger, write=False) as ledger:
        assert ledger.stored_effects() == ledger.effects_from_movements()
        assert ledger.recorded_effects("web", ["1"]) == {("1", "1"): {"TEE-M": Effect(-2, 0)}}


def test_check_warns_of_stock_at_a_location_the_config_no_longer_names(
    two_places: Shop, runner: CliRunner
) -> None:
    shop = two_places
    shop.write_config({"web": {}, "till": {}}, init=False)
    result = ok(invoke(runner, shop, "check", "--offline"))
    assert "the ledger holds stock at location 'store', which [locations] does not name" in (
        result.stderr
    )


# -- the offline shop's till at its own location ---------------------------------------------


def test_a_till_at_the_shop_sells_and_lists_only_what_the_shop_holds(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel("web", listings=[listing("W1", "TEE-M", 0), listing("W2", "MUG", 0)])
    shop.write_config(
        {"web": {"sell_from": ["main", "store"]}},
        LOCATIONS
        + '[channels.till]\ntype = "csv"\nsales = "till/*.csv"\nstock_file = "till/stock.csv"\n'
        + 'location = "store"\n',
    )
    (shop.root / "till").mkdir()
    # The warehouse holds tees and mugs; only tees were ever sent to the shop.
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))
    ok(invoke(runner, shop, "stock", "set", "MUG", "5", "--new"))
    ok(invoke(runner, shop, "stock", "move", "TEE-M", "4", "--from", "main", "--to", "store"))
    (shop.root / "till" / "day.csv").write_text(
        "order_id,sku,quantity,created_at,status\nR1,TEE-M,1,2026-12-01T10:00:00Z,\n"
        "R2,TEE-M,1,2026-12-01T11:00:00Z,returned\n"
    )
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    # The sale left the shop (the return went back on its shelf): 4 − 1 there, 6 at main.
    assert at(runner, shop, "TEE-M") == {"main": (6, 0), "store": (3, 0)}
    assert (shop.root / "till" / "stock.csv").read_text() == "sku,quantity\nTEE-M,3\n"
    assert shop.quantities("web") == {"W1": 9, "W2": 5}


# -- the demo --------------------------------------------------------------------------------


def test_the_demo_stocks_its_shop_by_a_transfer_and_its_till_export_holds_a_return(
    tmp_path: Path, runner: CliRunner
) -> None:
    from omnisync.cli import app

    directory = tmp_path / "demo"
    ok(runner.invoke(app, ["demo", str(directory)]))
    config = ["--config", str(directory / "omnisync.toml")]
    exports = "".join(p.read_text() for p in sorted((directory / "till").glob("sales-*.csv")))
    assert "TKO20008,MUG-BATIK,1,returned," in exports
    log = json.loads(
        ok(runner.invoke(app, [*config, "log", "--json", "--sku", "MUG-BATIK"])).stdout
    )
    transfers = [(m["location"], m["on_hand"]) for m in log if m["kind"] == "transfer"]
    assert transfers == [("store", 15), ("main", -15)]  # half of the 30 mugs counted
    orders = json.loads(ok(runner.invoke(app, [*config, "orders", "--json"])).stdout)
    returned = next(o for o in orders if o["channel"] == "toko" and o["id"] == "TKO20008")
    assert returned["status"] == "returned"
    # The returned mug took nothing from the shop: no movement for that order.
    assert not [m for m in log if m["order_id"] == "TKO20008"]
