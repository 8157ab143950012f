"""Every command besides `sync` itself, the exit codes, and the installed entry points."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnisync import __version__
from omnisync.cli import app
from omnisync.config import load_config
from omnisync.ledger import Ledger
from tests.helpers import Shop, invoke, listing, order

SINCE = "2026-11-01"
OMNISYNC = Path(sys.executable).with_name("omnisync")


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result


def as_json(result: Any) -> Any:
    ok(result)
    return json.loads(result.stdout)


@pytest.fixture
def synced(shop: Shop, runner: CliRunner) -> Shop:
    """Two channels after one sync: a paid and a shipped order on a, a cancelled one on b."""
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 10), listing("A2", "MUG", 5)],
        orders=[
            order("1001", "paid", [("TEE-M", 2)], updated="2026-11-20T09:05:00Z"),
            order("1002", "shipped", [("MUG", 1), ("TEE-M", 1)], updated="2026-11-20T11:00:00Z"),
        ],
    )
    shop.write_channel(
        "b",
        listings=[listing("B1", "TEE-M", 10), listing("B2", "MUG", 5)],
        orders=[order("2001", "cancelled", [("TEE-M", 4)], updated="2026-11-20T10:00:00Z")],
    )
    shop.write_config({"a": {}, "b": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))
    ok(invoke(runner, shop, "stock", "set", "MUG", "5", "--new"))
    ok(invoke(runner, shop, "sync", "--since", SINCE))
    return shop


# -- init ----------------------------------------------------------------------------------


def test_init_writes_a_loadable_config_and_creates_the_ledger(
    tmp_path: Path, runner: CliRunner
) -> None:
    config = tmp_path / "omnisync.toml"

    result = ok(runner.invoke(app, ["--config", str(config), "init"]))

    loaded = load_config(config)
    assert loaded.ledger_path == tmp_path / "inventory.db"
    assert loaded.max_change == 0.5 and loaded.restock_returns is True
    assert loaded.channels == {}
    assert loaded.ledger_path.exists()
    with Ledger.open(loaded.ledger_path, write=False) as ledger:
        assert ledger.known_skus() == frozenset()
    assert f"Wrote {config}" in result.stdout


def test_init_keeps_a_config_written_by_hand_and_refuses_to_overwrite_it_unless_forced(
    tmp_path: Path, runner: CliRunner
) -> None:
    config = tmp_path / "omnisync.toml"
    config.write_text("# mine\n")

    # Only init makes a ledger: a hand-written config gets one, and stays as it was.
    created = ok(runner.invoke(app, ["--config", str(config), "init"]))
    assert f"Kept {config} and created the ledger" in created.stdout
    assert (tmp_path / "inventory.db").exists()
    assert config.read_text() == "# mine\n"

    result = runner.invoke(app, ["--config", str(config), "init"])

    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config} and its ledger already exist; pass --force to overwrite the config\n"
    )
    assert config.read_text() == "# mine\n"

    forced = ok(runner.invoke(app, ["--config", str(config), "init", "--force"]))
    assert load_config(config).channels == {}
    # The seller's own config is not lost to --force: it is kept beside the new one.
    backup = tmp_path / "omnisync.toml.bak"
    assert backup.read_text() == "# mine\n"
    said = " ".join(forced.stdout.split())  # long temporary paths wrap the line
    assert f"(the one it replaced is kept as {backup}) and kept the ledger" in said


def test_init_then_check_offline_is_clean(tmp_path: Path, runner: CliRunner) -> None:
    config = str(tmp_path / "omnisync.toml")
    ok(runner.invoke(app, ["--config", config, "init"]))

    result = ok(runner.invoke(app, ["--config", config, "check", "--offline"]))

    assert result.stdout.strip().endswith("check: ok")


# -- check ---------------------------------------------------------------------------------


def test_check_reports_an_unmapped_listing_and_a_sku_on_two_listings(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 1), listing("A2", "TEE-M", 1), listing("A3", "NOPE", 1)],
    )
    shop.write_config({"a": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "1", "--new"))

    result = invoke(runner, shop, "check")

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "a (fake): reached" in lines
    assert "  unmapped listing: 'NOPE' maps to no SKU" in lines
    assert "  TEE-M is on 2 listings: A1, A2" in lines
    assert lines[-1] == "check: problems found"

    report = json.loads(invoke(runner, shop, "check", "--json").stdout)
    assert report["ok"] is False
    assert report["channels"][0]["unmapped"] == ["NOPE"]
    assert report["channels"][0]["duplicates"] == {"TEE-M": ["A1", "A2"]}


def test_check_passes_when_every_listing_maps_once(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 1), listing("A2", "SHP-MUG", 1)])
    shop.write_config({"a": {}}, '[mapping.a]\n"SHP-MUG" = "MUG"')
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "1", "--new"))
    ok(invoke(runner, shop, "stock", "set", "MUG", "1", "--new"))

    result = ok(invoke(runner, shop, "check"))

    assert result.stdout.splitlines()[-1] == "check: ok"


def test_check_fails_a_channel_it_cannot_reach(shop: Shop, runner: CliRunner) -> None:
    shop.write_config({"a": {}})

    result = invoke(runner, shop, "check", "--json")

    assert result.exit_code == 1
    [channel] = json.loads(result.stdout)["channels"]
    assert channel["reached"] is False
    assert channel["messages"] == [f"{shop.channel_path('a')}: no such file"]


def test_check_offline_judges_listings_from_the_last_sync_without_reading_channels(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel(
        "a",
        listings=[listing("A1", "TEE-M", 1), listing("A2", "TEE-M", 1), listing("A3", "NOPE", 0)],
    )
    shop.write_config({"a": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "2", "--new"))
    invoke(runner, shop, "sync", "--force")
    shop.channel_path("a").unlink()  # offline: the channel itself is not asked

    result = invoke(runner, shop, "check", "--offline", "--json")

    assert result.exit_code == 1
    [channel] = json.loads(result.stdout)["channels"]
    assert channel["reached"] is None
    assert channel["unmapped"] == ["NOPE"]
    assert channel["duplicates"] == {"TEE-M": ["A1", "A2"]}


def test_check_offline_with_a_clean_last_sync_exits_0(synced: Shop, runner: CliRunner) -> None:
    result = ok(invoke(runner, synced, "check", "--offline"))

    assert result.stdout.splitlines()[-1] == "check: ok"


# -- stock (smoke only: tests/test_stock.py covers it) -------------------------------------


def test_stock_commands_smoke(synced: Shop, runner: CliRunner, tmp_path: Path) -> None:
    rows = as_json(invoke(runner, synced, "stock", "--json"))
    assert {row["sku"]: row["available"] for row in rows} == {"MUG": 4, "TEE-M": 7}
    assert {row["sku"]: row["channels"] for row in rows}["TEE-M"] == {"a": 7, "b": 7}

    ok(invoke(runner, synced, "stock", "add", "MUG", "3", "--reason", "delivery"))
    ok(invoke(runner, synced, "stock", "set", "TEE-M", "20"))
    export = tmp_path / "out.csv"
    ok(invoke(runner, synced, "stock", "export", str(export)))
    assert export.read_text().splitlines()[0] == "sku,on_hand,name"
    counts = tmp_path / "in.csv"
    counts.write_text("sku,on_hand\nMUG,1\n")
    ok(invoke(runner, synced, "stock", "import", str(counts)))

    rows = as_json(invoke(runner, synced, "stock", "MUG", "--json"))
    assert [(row["sku"], row["on_hand"]) for row in rows] == [("MUG", 1)]
    low = as_json(invoke(runner, synced, "stock", "--low", "2", "--json"))
    assert [row["sku"] for row in low] == ["MUG"]


def test_stock_export_to_a_folder_that_does_not_exist_is_an_error_line(
    synced: Shop, runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "missing" / "out.csv"

    result = invoke(runner, synced, "stock", "export", str(target))

    assert result.exit_code == 2
    assert result.stderr == f"Error: {target}: cannot write it: No such file or directory\n"


# -- orders, log, runs, channels -----------------------------------------------------------


def test_orders_json_lists_every_channels_orders_newest_update_first(
    synced: Shop, runner: CliRunner
) -> None:
    rows = as_json(invoke(runner, synced, "orders", "--json"))

    assert [(row["channel"], row["id"]) for row in rows] == [
        ("a", "1002"),
        ("b", "2001"),
        ("a", "1001"),
    ]
    first = rows[0]
    assert {"channel", "id", "status", "created_at", "updated_at", "lines"} <= set(first)
    assert first["status"] == "shipped"
    assert first["created_at"] == "2026-11-20T09:00:00.000000Z"
    assert first["updated_at"] == "2026-11-20T11:00:00.000000Z"
    for line in first["lines"]:
        assert {"id", "sku", "channel_sku", "quantity", "unit_price", "currency"} <= set(line)
    assert [(line["id"], line["sku"], line["quantity"]) for line in first["lines"]] == [
        ("1", "MUG", 1),
        ("2", "TEE-M", 1),
    ]


def test_orders_filters_by_channel_status_and_since(synced: Shop, runner: CliRunner) -> None:
    def ids(*args: str) -> list[str]:
        return [row["id"] for row in as_json(invoke(runner, synced, "orders", "--json", *args))]

    assert ids("--channel", "b") == ["2001"]
    assert ids("--status", "paid") == ["1001"]
    assert ids("--since", "2026-11-20T10:00:00Z") == ["1002", "2001"]


def test_orders_keeps_price_and_currency(shop: Shop, runner: CliRunner) -> None:
    priced = order("1", "paid", [("TEE-M", 1)])
    priced["lines"][0] |= {"unit_price": "85000", "currency": "IDR"}
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 1)], orders=[priced])
    shop.write_config({"a": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "5", "--new"))
    ok(invoke(runner, shop, "sync", "--since", SINCE))

    [row] = as_json(invoke(runner, shop, "orders", "--json"))

    assert row["lines"][0]["unit_price"] == "85000"
    assert row["lines"][0]["currency"] == "IDR"


def test_orders_name_the_sku_of_a_line_that_moved_no_stock(shop: Shop, runner: CliRunner) -> None:
    # A cancelled order's lines add up to nothing in the ledger: they still name their SKU
    # (through the config's mapping), so `orders` and its CSV read the same for every status.
    shop.write_channel(
        "a",
        listings=[listing("A1", "CH-TEE", 1)],
        orders=[order("7", "cancelled", [("CH-TEE", 1)]), order("8", "paid", [("CH-TEE", 2)])],
    )
    shop.write_config({"a": {}}, extra='[mapping.a]\n"CH-TEE" = "TEE-M"\n')
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "5", "--new"))
    ok(invoke(runner, shop, "sync", "--since", SINCE))

    rows = {row["id"]: row for row in as_json(invoke(runner, shop, "orders", "--json"))}

    assert [(line["channel_sku"], line["sku"]) for line in rows["7"]["lines"]] == [
        ("CH-TEE", "TEE-M")
    ]
    assert [(line["channel_sku"], line["sku"]) for line in rows["8"]["lines"]] == [
        ("CH-TEE", "TEE-M")
    ]


def test_orders_rejects_an_unknown_status(synced: Shop, runner: CliRunner) -> None:
    result = invoke(runner, synced, "orders", "--status", "lost")

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --status: expected one of pending, paid, shipped, completed, cancelled, "
        "returned, got 'lost'\n"
    )


@pytest.mark.parametrize("command", ["orders", "report"])
def test_an_unknown_channel_is_refused_with_the_known_ones(
    synced: Shop, runner: CliRunner, command: str
) -> None:
    result = invoke(runner, synced, command, "--channel", "nope")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: --channel nope: no such channel in the config or the ledger's orders "
        "(known: a, b)\n"
    )


def test_a_channel_removed_from_the_config_still_shows_its_orders(
    synced: Shop, runner: CliRunner
) -> None:
    synced.write_config({"a": {}})

    rows = as_json(invoke(runner, synced, "orders", "--channel", "b", "--json"))

    assert [row["id"] for row in rows] == ["2001"]
    ok(invoke(runner, synced, "report", "--channel", "b", "--since", "2026-11-01"))


def test_log_refuses_an_unknown_sku_with_the_known_ones(synced: Shop, runner: CliRunner) -> None:
    result = invoke(runner, synced, "log", "--sku", "NOPE")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "Error: --sku NOPE: no such SKU in the ledger (known: MUG, TEE-M)\n"


def test_log_json_lists_movements_newest_first(synced: Shop, runner: CliRunner) -> None:
    rows = as_json(invoke(runner, synced, "log", "--json"))

    fields = {
        "id",
        "time",
        "kind",
        "sku",
        "location",
        "on_hand",
        "committed",
        "channel",
        "order_id",
        "line_id",
        "run_id",
        "reason",
    }
    assert all(fields <= set(row) for row in rows)
    assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)
    assert [row["time"] for row in rows] == sorted((row["time"] for row in rows), reverse=True)
    orders = {(row["order_id"], row["sku"]): (row["on_hand"], row["committed"]) for row in rows}
    assert orders[("1001", "TEE-M")] == (0, 2)
    assert orders[("1002", "MUG")] == (-1, 0)
    assert ("2001", "TEE-M") not in orders  # cancelled before it moved anything
    counts = [row for row in rows if row["kind"] != "order"]
    assert [(row["sku"], row["on_hand"], row["channel"]) for row in counts] == [
        ("MUG", 5, None),
        ("TEE-M", 10, None),
    ]


def test_log_filters_by_sku(synced: Shop, runner: CliRunner) -> None:
    rows = as_json(invoke(runner, synced, "log", "--sku", "MUG", "--json"))

    assert {row["sku"] for row in rows} == {"MUG"}
    assert len(rows) == 2


def test_runs_json_lists_the_run_reports_newest_first(synced: Shop, runner: CliRunner) -> None:
    invoke(runner, synced, "sync", "--dry-run")  # a dry run leaves no trace
    ok(invoke(runner, synced, "sync", "--channel", "b"))

    rows = as_json(invoke(runner, synced, "runs", "--json"))

    assert [row["run_id"] for row in rows] == [2, 1]
    assert [row["exit_code"] for row in rows] == [0, 0]
    assert list(rows[0]["channels"]) == ["b"]
    first = rows[1]["channels"]["a"]
    assert (first["orders_fetched"], first["movements"], first["status"]) == (2, 3, "ok")
    assert all(row["finished_at"] >= row["started_at"] for row in rows)


def test_channels_json_shows_type_start_cursor_and_last_outcome(
    synced: Shop, runner: CliRunner
) -> None:
    rows = as_json(invoke(runner, synced, "channels", "--json"))

    assert rows == [
        {
            "name": "a",
            "type": "fake",
            "enabled": True,
            "start_time": "2026-11-01T00:00:00.000000Z",
            "cursor": "2026-11-20T11:00:00.000000Z",
            "last_run": 1,
            "last_status": "ok",
            "last_error": None,
        },
        {
            "name": "b",
            "type": "fake",
            "enabled": True,
            "start_time": "2026-11-01T00:00:00.000000Z",
            "cursor": "2026-11-20T10:00:00.000000Z",
            "last_run": 1,
            "last_status": "ok",
            "last_error": None,
        },
    ]


def test_channels_before_any_sync_lists_the_configured_ones(shop: Shop, runner: CliRunner) -> None:
    shop.write_config({"a": {}, "b": {"enabled": False}})

    rows = as_json(invoke(runner, shop, "channels", "--json"))

    assert [(row["name"], row["enabled"], row["last_run"]) for row in rows] == [
        ("a", True, None),
        ("b", False, None),
    ]


def test_tables_are_printed_without_a_terminal(synced: Shop, runner: CliRunner) -> None:
    for command in (["orders"], ["log"], ["runs"], ["channels"], ["stock"]):
        result = ok(invoke(runner, synced, *command))
        assert result.stdout.strip(), command
    assert "1002" in invoke(runner, synced, "orders").stdout


# -- exit codes and errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["sync", "--since", "garbage"],
            "Error: --since: expected an ISO 8601 time (2026-11-20 or 2026-11-20T09:00:00Z) "
            "or a relative one (2h, 7d), got 'garbage'",
        ),
        (
            ["log", "--since", "yesterday"],
            "Error: --since: expected an ISO 8601 time (2026-11-20 or 2026-11-20T09:00:00Z) "
            "or a relative one (2h, 7d), got 'yesterday'",
        ),
        (["stock", "set", "NOPE", "3"], "Error: unknown SKU 'NOPE'. Pass --new to create it."),
        (["stock", "NOPE", "TEE-M"], "Error: unknown SKU NOPE"),
        (["sync", "--channel", "c"], "Error: --channel c: no such channel in {config} (a, b)"),
    ],
)
def test_bad_values_exit_2_with_one_error_line(
    synced: Shop, runner: CliRunner, args: list[str], message: str
) -> None:
    before = synced.read_channel("a")
    result = invoke(runner, synced, *args)

    assert result.exit_code == 2
    assert result.stderr == message.format(config=synced.config) + "\n"
    assert synced.read_channel("a") == before  # a usage mistake does nothing
    assert "Traceback" not in result.output


def test_a_missing_config_exits_2_and_says_how_to_make_one(
    tmp_path: Path, runner: CliRunner
) -> None:
    config = tmp_path / "nowhere.toml"

    result = runner.invoke(app, ["--config", str(config), "sync"])

    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}: no such config file (run `omnisync init` to write one, "
        "or pass --config PATH)\n"
    )


def test_config_comes_from_the_environment_when_no_option_is_given(
    synced: Shop, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNISYNC_CONFIG", str(synced.config))

    rows = as_json(runner.invoke(app, ["channels", "--json"]))

    assert [row["name"] for row in rows] == ["a", "b"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[sync]\nmax_chnage = 0.5\n", "[sync] key 'max_chnage': unknown key"),
        ('[channels.a]\ntype = "ebay"\n', "[channels.a] key 'type': unknown channel type 'ebay'"),
        ('[channels.a]\ntype = "fake"\n', "[channels.a]: missing key 'path'"),
        ("[sync\n", "not valid TOML"),
    ],
)
def test_a_wrong_config_exits_2_naming_file_and_key(
    shop: Shop, runner: CliRunner, config: str, message: str
) -> None:
    shop.config.write_text(config)

    result = invoke(runner, shop, "sync")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {shop.config}")
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_argument_type_is_a_usage_error_not_a_traceback(
    synced: Shop, runner: CliRunner
) -> None:
    result = invoke(runner, synced, "stock", "set", "MUG", "ten")

    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_a_text_file_given_as_the_ledger_is_not_an_omnisync_ledger(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_config({})

    result = runner.invoke(app, ["--ledger", str(shop.config), "stock"])

    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: {shop.config}: this file is not an omnisync ledger (it is text, not "
        f"SQLite): pass --ledger or set [ledger] path to the right file\n"
    )


def test_a_file_of_binary_garbage_is_a_damaged_ledger(tmp_path: Path, runner: CliRunner) -> None:
    ledger = tmp_path / "inventory.db"
    ledger.write_bytes(bytes(range(256)) * 16)

    result = runner.invoke(app, ["--ledger", str(ledger), "stock"])

    assert result.exit_code == 3
    assert result.stderr.startswith(
        f"Error: {ledger}: the ledger cannot be used: the file is damaged (file is not a database)"
    )
    assert "restore it from a backup" in result.stderr


def test_a_ledger_from_a_newer_omnisync_exits_3(tmp_path: Path, runner: CliRunner) -> None:
    ledger = tmp_path / "inventory.db"
    Ledger.open(ledger, write=True, create=True).close()
    conn = sqlite3.connect(ledger)
    conn.execute("PRAGMA user_version = 99")
    conn.close()

    for args in (["stock"], ["stock", "add", "MUG", "1"]):
        result = runner.invoke(app, ["--ledger", str(ledger), *args])
        assert result.exit_code == 3
        assert "made by a newer omnisync (schema 99" in result.stderr


def test_another_sqlite_file_is_not_taken_for_a_ledger(tmp_path: Path, runner: CliRunner) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.close()

    result = runner.invoke(app, ["--ledger", str(other), "stock", "add", "X", "1", "--new"])

    assert result.exit_code == 3
    assert "this SQLite file is not an omnisync ledger" in result.stderr
    conn = sqlite3.connect(other)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["t"]
    conn.close()


def test_a_held_ledger_exits_75_and_nothing_is_done(synced: Shop, runner: CliRunner) -> None:
    synced.write_channel(
        "a",
        listings=synced.read_channel("a")["listings"],
        orders=[order("9", "paid", [("TEE-M", 1)], updated="2026-11-21T09:00:00Z")],
    )
    before = synced.channel_path("a").read_bytes()
    holder = Ledger.open(synced.ledger, write=True)
    try:
        result = invoke(runner, synced, "sync")
        add = invoke(runner, synced, "stock", "add", "MUG", "1")
    finally:
        holder.close()

    assert result.exit_code == 75
    assert add.exit_code == 75
    assert result.stderr.startswith(
        f"Error: {synced.ledger}: another omnisync run holds the ledger (pid {os.getpid()}, "
    )
    assert result.stderr.endswith("; nothing was done\n")
    assert synced.channel_path("a").read_bytes() == before
    # Readers are not blocked by a writer.
    assert as_json(invoke(runner, synced, "stock", "--json"))[1]["committed"] == 2


def test_exit_1_when_the_run_needs_a_person_and_0_when_not(synced: Shop, runner: CliRunner) -> None:
    assert invoke(runner, synced, "sync").exit_code == 0
    synced.write_config({"a": {}, "b": {"fail": "fetch"}})
    assert invoke(runner, synced, "sync").exit_code == 1


# -- version, help, entry points ------------------------------------------------------------


def test_version(runner: CliRunner) -> None:
    result = ok(runner.invoke(app, ["--version"]))

    assert result.stdout == f"omnisync {__version__}\n"


def test_no_arguments_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])

    assert "Usage" in result.output
    assert "sync" in result.output
    assert "Traceback" not in result.output


def test_python_dash_m_omnisync_shows_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "omnisync", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0
    assert "Usage" in done.stdout
    for command in ("init", "demo", "check", "sync", "stock", "orders", "log", "runs", "channels"):
        assert command in done.stdout


def test_the_installed_entry_point_syncs_fake_channels(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel(
        "a", listings=[listing("A1", "TEE-M", 10)], orders=[order("1", "paid", [("TEE-M", 3)])]
    )
    shop.write_channel("b", listings=[listing("B1", "TEE-M", 10)])
    shop.write_config({"a": {}, "b": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMNISYNC_")}

    done = subprocess.run(
        [str(OMNISYNC), "--config", str(shop.config), "sync", "--json", "--since", SINCE],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=shop.root,
    )

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["exit_code"] == 0
    assert report["channels"]["a"]["movements"] == 1
    assert shop.quantities("a") == {"A1": 7}
    assert shop.quantities("b") == {"B1": 7}
    assert "Traceback" not in done.stderr


def test_check_prints_a_literal_secret_warning_once(shop: Shop, runner: CliRunner) -> None:
    shop.write_config(
        {},
        '[channels.web]\ntype = "woocommerce"\nurl = "https://shop.example.com"\n'
        'key = "ck_literal"\nsecret = "${WOO_SECRET}"\n',
    )
    shop.config.chmod(0o644)

    result = runner.invoke(
        app, ["--config", str(shop.config), "check", "--offline"], env={"WOO_SECRET": "cs_x"}
    )

    warning = (
        f"{shop.config}: [channels.web] key 'key' holds a literal secret in a file other users "
        f'can read; use "${{VAR}}" and the environment, or chmod 600 the file'
    )
    assert result.stderr.count("literal secret") == 1, result.stderr
    assert f"warning: {warning}\n" in result.stderr
