"""Issue 12: bad input that used to lose a seller's data or record wrong numbers silently."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnisync.config import load_config
from omnisync.errors import UsageError
from omnisync.ledger import Ledger
from omnisync.stock import read_stock_csv
from omnisync.sync import SyncOptions, run_sync
from tests.fakes.memory_channel import MemoryChannel, make_order
from tests.helpers import Shop, invoke, listing, order

SINCE = "2026-11-01T00:00:00Z"


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def balances(runner: CliRunner, shop: Shop) -> dict[str, tuple[int, int]]:
    rows = json.loads(ok(invoke(runner, shop, "stock", "--json")).stdout)
    return {row["sku"]: (row["on_hand"], row["committed"]) for row in rows}


def start_times(runner: CliRunner, shop: Shop) -> dict[str, Any]:
    rows = json.loads(ok(invoke(runner, shop, "channels", "--json")).stdout)
    return {row["name"]: row.get("start_time") for row in rows}


@pytest.fixture
def one_channel(shop: Shop, runner: CliRunner) -> Shop:
    """Channel `a` with TEE-M listed at 10 and one paid order for 2, from 20 November."""
    shop.write_channel(
        "a", listings=[listing("A1", "TEE-M", 10)], orders=[order("7", "paid", [("TEE-M", 2)])]
    )
    shop.write_config({"a": {}})
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "10", "--new"))
    return shop


# -- the demo never touches a shop's folder ------------------------------------------------


def test_the_demo_refuses_a_folder_that_holds_a_shop(tmp_path: Path, runner: CliRunner) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "omnisync.toml").write_text("# my shop\n")
    (shop / "inventory.db").write_bytes(b"my ledger")

    result = runner.invoke(app_cli(), ["demo", str(shop)])

    assert result.exit_code == 2
    assert "holds other files" in result.stderr
    assert (shop / "omnisync.toml").read_text() == "# my shop\n"
    assert (shop / "inventory.db").read_bytes() == b"my ledger"
    assert sorted(p.name for p in shop.iterdir()) == ["inventory.db", "omnisync.toml"]


def test_the_demo_runs_again_in_its_own_folder_and_in_an_empty_one(
    tmp_path: Path, runner: CliRunner
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    ok(runner.invoke(app_cli(), ["demo", str(empty)]))
    ok(runner.invoke(app_cli(), ["demo", str(empty)]))
    assert (empty / "inventory.db").exists()


def app_cli() -> Any:
    from omnisync.cli import app

    return app


# -- a start time in the future, and how to correct one ----------------------------------------


def test_a_since_in_the_future_is_refused_and_fixes_no_start_time(
    one_channel: Shop, runner: CliRunner
) -> None:
    result = invoke(runner, one_channel, "sync", "--since", "2030-01-01")

    assert result.exit_code == 2
    assert "--since 2030-01-01T00:00:00Z is in the future" in result.stderr
    assert start_times(runner, one_channel)["a"] is None
    # The next sync is a normal first one: its own --since counts the order.
    ok(invoke(runner, one_channel, "sync", "--since", SINCE))
    assert balances(runner, one_channel) == {"TEE-M": (10, 2)}


def test_channels_reset_corrects_a_start_time_stuck_in_the_future(
    one_channel: Shop, runner: CliRunner
) -> None:
    # As an older omnisync left it: a start time in 2030 that ignores every sale.
    with Ledger.open(one_channel.ledger, write=True) as ledger, ledger.atomic():
        ledger.ensure_channel("a", "fake", start_time=datetime(2030, 1, 1, tzinfo=UTC))

    stuck = invoke(runner, one_channel, "sync")
    assert stuck.exit_code == 1  # cron hears of it on every run
    assert "omnisync channels reset a --since WHEN" in stuck.stderr
    assert balances(runner, one_channel) == {"TEE-M": (10, 0)}

    assert invoke(runner, one_channel, "channels", "reset", "a", "--since", "2031-01-01")
    refused = invoke(runner, one_channel, "channels", "reset", "a", "--since", "2031-01-01")
    assert refused.exit_code == 2
    assert "in the future" in refused.stderr

    reset = ok(invoke(runner, one_channel, "channels", "reset", "a", "--since", SINCE))
    assert "a: start time 2026-11-01T00:00:00Z (was 2030-01-01T00:00:00Z)" in reset.stdout
    ok(invoke(runner, one_channel, "sync"))
    assert balances(runner, one_channel) == {"TEE-M": (10, 2)}
    assert start_times(runner, one_channel)["a"].startswith("2026-11-01T00:00:00")


def test_channels_reset_refuses_a_start_after_an_order_it_already_applied(
    one_channel: Shop, runner: CliRunner
) -> None:
    ok(invoke(runner, one_channel, "sync", "--since", SINCE))

    result = invoke(runner, one_channel, "channels", "reset", "a", "--since", "2026-11-25")

    assert result.exit_code == 2
    assert "has orders applied from 2026-11-20T09:00:00Z on" in result.stderr
    assert start_times(runner, one_channel)["a"].startswith("2026-11-01T00:00:00")
    unknown = invoke(runner, one_channel, "channels", "reset", "nope", "--since", SINCE)
    assert unknown.exit_code == 2
    assert "no channel named 'nope'" in unknown.stderr


# -- a run killed before its main transaction ----------------------------------------------


def test_a_run_killed_during_the_fetch_shows_as_interrupted_and_keeps_its_since(
    one_channel: Shop, runner: CliRunner
) -> None:
    config = load_config(one_channel.config)
    sale = make_order("7", "paid", [("TEE-M", 2)], created=datetime(2026, 11, 20, 9, tzinfo=UTC))
    killed = MemoryChannel.with_listings(
        "a", ("A1", "TEE-M", 10), orders=[sale], fail_with={"fetch": KeyboardInterrupt()}
    )
    healthy = MemoryChannel.with_listings("a", ("A1", "TEE-M", 10), orders=[sale])

    with Ledger.open(one_channel.ledger, write=True) as ledger:
        since = datetime(2026, 11, 1, tzinfo=UTC)
        with pytest.raises(KeyboardInterrupt):  # as good as a kill: nothing after it runs
            asyncio.run(
                run_sync(config, ledger, SyncOptions(since=since), opener=lambda c, x: killed)
            )

    runs = json.loads(ok(invoke(runner, one_channel, "runs", "--json")).stdout)
    assert [(run["run_id"], run.get("interrupted")) for run in runs] == [(1, True)]

    # The next plain run keeps the start time asked for, so the 20 November sale counts.
    with Ledger.open(one_channel.ledger, write=True) as ledger:
        report = asyncio.run(run_sync(config, ledger, SyncOptions(), opener=lambda c, x: healthy))
    assert report.exit_code == 0
    assert balances(runner, one_channel) == {"TEE-M": (10, 2)}
    assert healthy.quantities() == {"A1": 8}


# -- stock-take files ------------------------------------------------------------------------


def test_an_unterminated_quote_in_a_stock_take_is_an_error_with_its_line(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_config({})
    counts = shop.root / "counts.csv"
    counts.write_text('sku,on_hand,name\nCAP,3,Cap\nTEE-M,12,"Tee\nMUG,4,Mug\n')

    result = invoke(runner, shop, "stock", "import", str(counts))

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {counts}:3: ")
    assert "Traceback" not in result.output
    assert balances(runner, shop) == {}  # all or nothing


def test_a_quote_left_open_mid_file_is_found_on_its_line(shop: Shop, runner: CliRunner) -> None:
    shop.write_config({})
    counts = shop.root / "counts.csv"
    counts.write_text('sku,on_hand,name\nTEE-M,12,"Tee\nMUG,4,"Mug"\nCAP,1,Cap\n')

    result = invoke(runner, shop, "stock", "import", str(counts))

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {counts}:2: not valid CSV")


# -- SKUs and quantities are checked where they enter -----------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stock", "set", "", "5", "--new"], "SKU '': expected a SKU"),
        (["stock", "set", "  ", "5", "--new"], "SKU '  ': expected a SKU"),
        (["stock", "add", "TEE\x07M", "1", "--new"], "control character U+0007"),
        (["stock", "add", "TEE-M", "99999999999999999999999"], "expected a quantity between"),
        (["stock", "set", "TEE-M", "1000000001"], "expected a quantity between"),
        (["stock", "add", "TEE-M", "-99999999999999999999"], "expected a quantity between"),
    ],
)
def test_a_bad_sku_or_quantity_on_the_command_line_exits_2(
    one_channel: Shop, runner: CliRunner, args: list[str], message: str
) -> None:
    result = invoke(runner, one_channel, *args)

    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert balances(runner, one_channel) == {"TEE-M": (10, 0)}


def test_a_padded_sku_is_trimmed_so_export_then_import_round_trips(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_config({})
    ok(invoke(runner, shop, "stock", "add", " TEE-M ", "0", "--new"))
    ok(invoke(runner, shop, "stock", "add", "TEE-M", "3"))
    exported = shop.root / "out.csv"
    ok(invoke(runner, shop, "stock", "export", str(exported)))

    ok(invoke(runner, shop, "stock", "import", str(exported)))

    assert balances(runner, shop) == {"TEE-M": (3, 0)}


def test_a_huge_count_in_a_stock_take_names_its_line(shop: Shop, runner: CliRunner) -> None:
    shop.write_config({})
    counts = shop.root / "counts.csv"
    counts.write_text("sku,on_hand\nTEE-M,4\nMUG,100000000000000000000\n")

    result = invoke(runner, shop, "stock", "import", str(counts))

    assert result.exit_code == 2
    assert f"{counts}:3: column on_hand: expected a quantity between" in result.stderr


def test_a_config_sku_with_a_control_character_is_a_config_error(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_channel("a")
    shop.write_config({"a": {}}, '[mapping.a]\n"SHP-TEE" = "TEE\\u0007M"\n')

    result = invoke(runner, shop, "sync")

    assert result.exit_code == 2
    assert "[mapping.a] key 'SHP-TEE'" in result.stderr


def test_skus_in_nfd_on_a_channel_or_in_the_config_match_the_ledgers_nfc(
    shop: Shop, runner: CliRunner
) -> None:
    cafe_nfc = unicodedata.normalize("NFC", "CAFÉ-250")
    cafe_nfd = unicodedata.normalize("NFD", "CAFÉ-250")
    assert cafe_nfc != cafe_nfd
    shop.write_channel(
        "a",
        listings=[listing("A1", cafe_nfd, 0), listing("A2", "GIFT", 0)],
        orders=[order("7", "paid", [(cafe_nfd, 2)])],
    )
    shop.write_config({"a": {}}, f'[bundles]\n"GIFT" = {{ "{cafe_nfd}" = 2 }}\n')
    ok(invoke(runner, shop, "stock", "set", cafe_nfd, "10", "--new"))

    result = invoke(runner, shop, "sync", "--since", SINCE, "--json")

    assert result.exit_code == 0, result.output
    assert balances(runner, shop) == {cafe_nfc: (10, 2)}
    assert shop.quantities("a") == {"A1": 8, "A2": 4}


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=300) | st.text(alphabet='sku,on_hand"\n\r\x00 12-é', max_size=80))
def test_any_bytes_as_a_stock_take_give_rows_or_a_clear_error(
    tmp_path: Path, content: bytes | str
) -> None:
    counts = tmp_path / "counts.csv"
    counts.write_bytes(content if isinstance(content, bytes) else content.encode())
    try:
        rows = read_stock_csv(counts)
    except UsageError as exc:
        assert str(exc).startswith(str(counts))
        return
    for sku, on_hand, _ in rows:
        assert sku == sku.strip() and sku
        assert 0 <= on_hand <= 10**9
