"""Issue 12: a ledger that cannot be used is exit 3 with its path, cause and what to do."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnisync.errors import LedgerError
from omnisync.ledger import Ledger, connection
from tests.helpers import Shop, invoke, listing, order

OMNISYNC = Path(sys.executable).with_name("omnisync")
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def exits_3(result: Any, *words: str) -> None:
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: ")
    for word in words:
        assert word in result.stderr


@pytest.fixture
def synced(shop: Shop, runner: CliRunner) -> Shop:
    """A shop with 300 SKUs (a ledger of many pages) after one sync."""
    shop.write_channel(
        "a",
        listings=[listing("A1", "SKU-000", 0)],
        orders=[order("7", "paid", [("SKU-000", 1)])],
    )
    shop.write_config({"a": {}})
    counts = shop.root / "counts.csv"
    counts.write_text(
        "sku,on_hand,name\n"
        + "".join(f"SKU-{n:03d},{n + 1},A product with a long name {n:03d}\n" for n in range(300))
    )
    ok(invoke(runner, shop, "stock", "import", str(counts)))
    ok(invoke(runner, shop, "sync", "--since", "2026-11-01"))
    return shop


@pytest.mark.parametrize("checked_at_open", [True, False], ids=["quick-check", "big-ledger"])
def test_a_damaged_page_is_exit_3_for_every_command(
    synced: Shop, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, checked_at_open: bool
) -> None:
    if not checked_at_open:  # as on a ledger too big to check at every open
        monkeypatch.setattr(connection, "QUICK_CHECK_MAX_BYTES", 0)
    data = bytearray(synced.ledger.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[5 * page : 7 * page] = b"\xa5" * (2 * page)  # two pages in the middle, garbage
    synced.ledger.write_bytes(bytes(data))

    # Checked at open, every command finds the damage; unchecked, one that reads those pages
    # (every SKU's balance) still says so, mid-query, rather than crash.
    commands = [["stock"], ["runs"], ["log"], ["check", "--offline"], ["sync"]]
    for args in commands if checked_at_open else [["stock"]]:
        result = invoke(runner, synced, *args)
        exits_3(result, str(synced.ledger), "damaged", "restore it from a backup")


def test_a_ledger_path_that_is_a_folder_is_exit_3(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel("a")
    shop.write_config({"a": {}}, init=False)
    shop.config.write_text(shop.config.read_text().replace('"inventory.db"', '"."'))

    for args in (["sync"], ["stock"], ["stock", "set", "TEE-M", "1", "--new"]):
        exits_3(invoke(runner, shop, *args), "is a folder, not a ledger file")


def test_a_lock_that_cannot_be_taken_is_exit_3_not_a_wait(shop: Shop, runner: CliRunner) -> None:
    # What a lock file left by another user looks like to this one: it cannot be opened.
    shop.write_channel("a")
    shop.write_config({"a": {}})
    lock = Path(f"{shop.ledger}.lock")
    lock.unlink(missing_ok=True)
    lock.mkdir()

    exits_3(invoke(runner, shop, "sync"), "cannot take the lock", f"{shop.ledger}.lock")


def test_only_init_makes_a_ledger_a_missing_one_is_exit_3(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 3)])
    shop.write_config({"a": {}}, init=False)

    for args in (
        ["sync"],
        ["stock", "set", "TEE-M", "1", "--new"],
        ["channels", "reset", "a", "--since", "1d"],
    ):
        exits_3(invoke(runner, shop, *args), "no ledger here yet", "omnisync init")
    assert not shop.ledger.exists()

    ok(invoke(runner, shop, "init"))
    ok(invoke(runner, shop, "stock", "set", "TEE-M", "3", "--new"))
    ok(invoke(runner, shop, "sync"))


def test_an_empty_ledger_file_is_never_started_over(shop: Shop, runner: CliRunner) -> None:
    shop.write_channel("a", listings=[listing("A1", "TEE-M", 3)])
    shop.write_config({"a": {}}, init=False)
    shop.ledger.write_bytes(b"")

    for args in (["sync"], ["stock"], ["runs"]):
        exits_3(invoke(runner, shop, *args), "the ledger is empty (0 bytes)", "backup")
    assert shop.ledger.stat().st_size == 0


def test_a_full_disk_mid_transaction_says_so_and_keeps_nothing(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
        with ledger.atomic():
            ledger.add_sku("TEE-M", name="", now=NOW)
            ledger.add_movement(kind="count", sku="TEE-M", on_hand=5, now=NOW)
        pages = ledger.conn.execute("PRAGMA page_count").fetchone()[0]
        # The file may not grow: as a full disk (or a file-size limit) looks to SQLite.
        ledger.conn.execute(f"PRAGMA max_page_count = {pages}")

        with pytest.raises(LedgerError, match="the disk is full") as caught, ledger.atomic():
            for number in range(2000):
                ledger.add_sku(f"SKU-{number:04d}", name="x" * 200, now=NOW)

        assert "cannot rollback" not in str(caught.value)
        assert str(tmp_path / "inventory.db") in str(caught.value)
        assert set(ledger.balances()) == {"TEE-M"}  # nothing half-written


def test_a_rollback_that_fails_does_not_hide_why(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"), ledger.atomic():
            ledger.add_sku("TEE-M", name="", now=NOW)
            # After an I/O error SQLite may have rolled back on its own, as here.
            ledger.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("disk I/O error")
        assert ledger.balances() == {}
        with ledger.atomic():  # and the ledger goes on working
            ledger.add_sku("TEE-M", name="", now=NOW)
        assert set(ledger.balances()) == {"TEE-M"}


def _limit_file_size() -> None:
    # A file-size limit of 64 KB for the child; SIGXFSZ ignored so the write fails with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_file_size_limit_is_exit_3_from_the_installed_command(
    shop: Shop, runner: CliRunner
) -> None:
    shop.write_config({})
    counts = shop.root / "counts.csv"
    counts.write_text(
        "sku,on_hand,name\n" + "".join(f"SKU-{n:05d},{n},{'x' * 80}\n" for n in range(3000))
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMNISYNC_")}

    done = subprocess.run(
        [str(OMNISYNC), "--config", str(shop.config), "stock", "import", str(counts)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_limit_file_size,
        timeout=120,
    )

    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert str(shop.ledger) in done.stderr
    assert "file-size limit" in done.stderr
    assert ok(invoke(runner, shop, "stock", "--json")).stdout.strip() == "[]"
