"""The ledger file: how it is made, what it refuses, the lock, and what it keeps."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnisync.cli import app
from omnisync.errors import ExitCode, LedgerError, LedgerLockedError
from omnisync.ledger import Ledger
from omnisync.ledger.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, split_statements
from omnisync.models import (
    Effect,
    LineMovement,
    Listing,
    Order,
    OrderLine,
    PushResult,
    QuantityChange,
    Status,
)
from tests.helpers import Shop, invoke, listing, order

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PYTHON = "/work/venv/bin/python" if Path("/work/venv/bin/python").exists() else sys.executable


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "inventory.db"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    with Ledger.open(path, write=True) as opened:
        with opened.atomic():
            opened.add_sku("TEE-M", name="T-shirt M", now=NOW)
            opened.add_sku("MUG", now=NOW)
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    """A plain SQLite connection beside omnisync's, to see what is really on disk."""
    return sqlite3.connect(path, isolation_level=None)


def old_ledger(path: Path, *, version: int) -> sqlite3.Connection:
    """A ledger file as the omnisync of schema `version` made it (its migrations only)."""
    conn = raw(path)
    conn.execute("PRAGMA journal_mode = WAL")
    for migration in MIGRATIONS[:version]:
        migration(conn)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    return conn


# -- making and opening --------------------------------------------------------------------


def test_a_new_ledger_is_readable_by_its_owner_only(path: Path) -> None:
    old = os.umask(0)  # even a permissive umask must not widen it
    try:
        with Ledger.open(path, write=True) as ledger:
            # Tokens sit in the write-ahead log before a checkpoint: it is owner-only too.
            ledger.save_tokens("shopee", {"refresh_token": "r-1"})
            wal = path.with_name(path.name + "-wal")
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_ledger_is_in_wal_mode_with_its_schema_version(path: Path) -> None:
    Ledger.open(path, write=True).close()
    conn = raw(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()


def test_a_ledger_in_a_missing_folder_is_an_error_and_leaves_no_folder(tmp_path: Path) -> None:
    # A mistyped --ledger must not scatter folders; `init` is what creates them.
    path = tmp_path / "data" / "shop" / "inventory.db"
    with pytest.raises(LedgerError, match="the folder .*data/shop does not exist"):
        Ledger.open(path, write=True)
    assert not (tmp_path / "data").exists()


def test_init_creates_the_ledgers_folder(tmp_path: Path) -> None:
    config, ledger = tmp_path / "omnisync.toml", tmp_path / "data" / "inventory.db"
    result = CliRunner().invoke(app, ["--config", str(config), "--ledger", str(ledger), "init"])
    assert result.exit_code == 0, result.output
    assert ledger.exists()


def test_reopening_keeps_what_was_written(path: Path, ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=7, now=NOW)
    ledger.close()
    with Ledger.open(path, write=False) as reader:
        assert reader.balances()["TEE-M"].on_hand == 7
        assert reader.balances()["TEE-M"].name == "T-shirt M"


def test_a_missing_ledger_is_an_error_for_a_reader_and_is_not_created(path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger here yet") as caught:
        Ledger.open(path, write=False)
    assert caught.value.exit_code == ExitCode.LEDGER
    assert not path.exists()


def test_a_ledger_from_an_older_omnisync_is_upgraded_even_by_a_reader(path: Path) -> None:
    """`omnisync stock` right after upgrading omnisync works: the reader migrates the file
    under the writer's lock first, and nothing recorded is touched."""
    conn = old_ledger(path, version=1)  # the file as the schema-1 omnisync left it
    conn.execute(
        "INSERT INTO skus (sku, name, created_at) VALUES ('TEE-M', 'T-shirt M', '2026-11-20')"
    )
    conn.close()
    with Ledger.open(path, write=False) as reader:
        assert reader.balances()["TEE-M"].name == "T-shirt M"
    conn = raw(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_ledger_from_a_newer_omnisync_says_to_upgrade(path: Path) -> None:
    Ledger.open(path, write=True).close()
    conn = raw(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    for write in (False, True):
        with pytest.raises(LedgerError, match="newer omnisync") as caught:
            Ledger.open(path, write=write)
        assert "Upgrade omnisync" in str(caught.value)
        assert str(path) in str(caught.value)
        assert caught.value.exit_code == ExitCode.LEDGER
    # Nothing was changed: the newer omnisync can still use its file.
    conn = raw(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


@pytest.mark.parametrize("write", [False, True])
def test_another_sqlite_file_is_not_an_omnisync_ledger_and_is_left_alone(
    path: Path, write: bool
) -> None:
    conn = raw(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('Ann')")
    conn.close()
    with pytest.raises(LedgerError, match="not an omnisync ledger") as caught:
        Ledger.open(path, write=write)
    assert str(path) in str(caught.value)
    conn = raw(path)
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master")]
    conn.close()
    assert tables == ["customers"]


@pytest.mark.parametrize("write", [False, True])
def test_a_corrupt_file_is_a_ledger_error(path: Path, write: bool) -> None:
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(LedgerError) as caught:
        Ledger.open(path, write=write)
    assert type(caught.value) is LedgerError  # not "locked": exit 3
    assert str(path) in str(caught.value)


def test_a_failed_open_releases_the_lock(path: Path) -> None:
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(LedgerError):
        Ledger.open(path, write=True)
    # Were the lock still held, this would be LedgerLockedError (exit 75), not exit 3.
    with pytest.raises(LedgerError) as caught:
        Ledger.open(path, write=True)
    assert not isinstance(caught.value, LedgerLockedError)


# -- append-only and balances --------------------------------------------------------------


def test_movements_cannot_be_changed_or_deleted(path: Path, ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=5, now=NOW)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        ledger.conn.execute("UPDATE movements SET on_hand = 50")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        ledger.conn.execute("DELETE FROM movements")
    assert [m["on_hand"] for m in ledger.movements()] == [5]
    # Nor from outside omnisync: the triggers live in the file.
    conn = raw(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM movements")
    conn.close()


def test_balances_equal_the_sum_of_movements(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=10, now=NOW)
        ledger.add_movement(kind="adjust", sku="TEE-M", on_hand=-3, now=NOW)
        ledger.add_movement(kind="count", sku="MUG", on_hand=4, now=NOW)
        ledger.write_line_movements(
            "shop",
            [
                LineMovement("1001", "1", "TEE-M", Effect(committed=2)),
                LineMovement("1001", "1", "TEE-M", Effect(on_hand=-2, committed=-2)),
                LineMovement("1002", "1", "MUG", Effect(committed=5)),
            ],
            run_id=None,
            now=NOW,
        )
    balances = ledger.balances()
    assert {sku: (b.on_hand, b.committed, b.available) for sku, b in balances.items()} == {
        "MUG": (4, 5, -1),
        "TEE-M": (5, 0, 5),
    }
    assert ledger.movement_sums() == {"MUG": (4, 5), "TEE-M": (5, 0)}
    assert ledger.available() == {"MUG": -1, "TEE-M": 5}
    assert ledger.recorded_effects("shop", ["1001", "1002"]) == {
        ("1001", "1"): {"TEE-M": Effect(on_hand=-2, committed=0)},
        ("1002", "1"): {"MUG": Effect(committed=5)},
    }


def test_a_sku_without_movements_has_zero_balances(ledger: Ledger) -> None:
    assert ledger.balances(["MUG"])["MUG"].on_hand == 0
    assert ledger.balances(["MUG"])["MUG"].committed == 0


def test_a_movement_for_an_unknown_sku_is_refused(ledger: Ledger) -> None:
    with pytest.raises(sqlite3.IntegrityError), ledger.atomic():
        ledger.add_movement(kind="count", sku="GHOST", on_hand=1, now=NOW)
    assert ledger.movements() == []


# -- transactions --------------------------------------------------------------------------


def test_atomic_rolls_back_on_an_exception(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError), ledger.atomic():
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=5, now=NOW)
        ledger.add_sku("NEW", now=NOW)
        raise RuntimeError("boom")
    assert ledger.movements() == []
    assert "NEW" not in ledger.known_skus()
    # The ledger is usable afterwards.
    with ledger.atomic():
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=1, now=NOW)
    assert ledger.balances()["TEE-M"].on_hand == 1


def test_atomic_with_rollback_writes_nothing(ledger: Ledger) -> None:
    with ledger.atomic(rollback=True):
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=5, now=NOW)
        # Inside, the write is visible: a dry run plans from it.
        assert ledger.balances()["TEE-M"].on_hand == 5
    assert ledger.balances()["TEE-M"].on_hand == 0
    assert ledger.movements() == []


def test_a_failing_nested_block_undoes_only_itself(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=5, now=NOW)
        with pytest.raises(RuntimeError), ledger.atomic():
            ledger.add_movement(kind="adjust", sku="TEE-M", on_hand=100, now=NOW)
            raise RuntimeError("boom")
        ledger.add_movement(kind="adjust", sku="MUG", on_hand=1, now=NOW)
    assert ledger.movement_sums() == {"TEE-M": (5, 0), "MUG": (1, 0)}


def test_a_transaction_is_invisible_to_readers_until_it_commits(path: Path, ledger: Ledger) -> None:
    with Ledger.open(path, write=False) as reader:
        with ledger.atomic():
            ledger.add_movement(kind="count", sku="TEE-M", on_hand=5, now=NOW)
            assert reader.balances()["TEE-M"].on_hand == 0
        assert reader.balances()["TEE-M"].on_hand == 5


# -- the lock ------------------------------------------------------------------------------


def test_a_second_writer_is_refused_and_told_who_holds_the_ledger(
    path: Path, ledger: Ledger
) -> None:
    with pytest.raises(LedgerLockedError) as caught:
        Ledger.open(path, write=True)
    assert caught.value.exit_code == 75
    assert f"pid {os.getpid()}" in str(caught.value)
    assert "nothing was done" in str(caught.value)


def test_readers_are_not_blocked_by_a_writer(path: Path, ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=3, now=NOW)
    with ledger.atomic():
        ledger.add_movement(kind="count", sku="TEE-M", on_hand=1, now=NOW)
        with Ledger.open(path, write=False) as reader:  # mid-transaction, lock held
            assert reader.balances()["TEE-M"].on_hand == 3


def test_closing_a_writer_lets_the_next_one_in(path: Path, ledger: Ledger) -> None:
    ledger.close()
    Ledger.open(path, write=True).close()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from omnisync.ledger import Ledger
    ledger = Ledger.open(Path(sys.argv[1]), write=True)
    print("holding", flush=True)
    time.sleep(120)
    """
)


def test_a_lock_held_by_a_killed_process_does_not_block_the_next_writer(path: Path) -> None:
    holder = subprocess.Popen(
        [PYTHON, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding", holder.stderr
        with pytest.raises(LedgerLockedError, match=f"pid {holder.pid}"):
            Ledger.open(path, write=True)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()
    assert holder.returncode == -signal.SIGKILL
    with Ledger.open(path, write=True) as ledger:
        assert ledger.known_skus() == frozenset()


# -- tokens --------------------------------------------------------------------------------


def test_saved_tokens_are_committed_at_once_and_survive_reopening(
    path: Path, ledger: Ledger
) -> None:
    ledger.save_tokens("shopee", {"refresh_token": "r-1", "access_token": "a-1"})
    # Visible to another connection before this one closes: already on disk.
    conn = raw(path)
    assert conn.execute("SELECT tokens FROM channel_state").fetchone()[0] != "{}"
    conn.close()
    ledger.save_tokens("shopee", {"refresh_token": "r-2"})
    ledger.close()
    with Ledger.open(path, write=False) as reader:
        assert reader.load_tokens("shopee") == {"refresh_token": "r-2", "access_token": "a-1"}
        assert reader.load_tokens("lazada") == {}


def test_saving_tokens_keeps_the_channels_start_time(ledger: Ledger) -> None:
    with ledger.atomic():
        ledger.ensure_channel("shopee", "shopee", start_time=NOW)
    ledger.save_tokens("shopee", {"refresh_token": "r-1"})
    state = ledger.channel_state("shopee")
    assert state is not None
    assert state.start_time == NOW and state.type == "shopee"


def test_a_channels_start_time_is_set_once(ledger: Ledger) -> None:
    later = datetime(2026, 12, 1, tzinfo=UTC)
    with ledger.atomic():
        ledger.ensure_channel("shop", "fake", start_time=NOW)
        ledger.ensure_channel("shop", "fake", start_time=later)
    state = ledger.channel_state("shop")
    assert state is not None and state.start_time == NOW


# -- orders, listings, runs ----------------------------------------------------------------


def _order(order_id: str, status: Status, *lines: OrderLine, updated: datetime = NOW) -> Order:
    return Order(order_id, status, NOW, updated, lines)


def test_orders_are_stored_as_last_seen(ledger: Ledger) -> None:
    first = _order(
        "1001",
        Status.PAID,
        OrderLine("1", "TEE-M", 2, unit_price=Decimal("19.90"), currency="SGD"),
        OrderLine("2", "OLD-CODE", 1, status=Status.CANCELLED),
    )
    with ledger.atomic():
        ledger.save_orders("web", [first], unmapped={("1001", "2")}, run_id=1)
    assert ledger.stored_orders("web", ["1001"]) == [first]
    assert ledger.orders_with_unmapped_lines("web") == [first]
    assert ledger.unmapped_lines() == [("web", "OLD-CODE", "1001", "cancelled", 1)]

    # The channel dropped line 2 and the order shipped: only what the channel shows is kept.
    later = datetime(2026, 11, 21, tzinfo=UTC)
    second = _order("1001", Status.SHIPPED, OrderLine("1", "TEE-M", 2), updated=later)
    with ledger.atomic():
        ledger.save_orders("web", [second], unmapped=set(), run_id=2)
    assert ledger.stored_orders("web", ["1001"]) == [second]
    assert ledger.known_updated_at("web", ["1001", "9999"]) == {"1001": later}
    assert ledger.orders_with_unmapped_lines("web") == []
    assert ledger.unmapped_lines() == []
    # Same order id on another channel is another order.
    assert ledger.stored_orders("shop", ["1001"]) == []


def test_the_last_known_listing_quantity_is_the_newer_of_pushed_and_read(
    ledger: Ledger,
) -> None:
    t1, t2, t3 = (datetime(2026, 11, 20, hour, tzinfo=UTC) for hour in (9, 10, 11))
    with ledger.atomic():
        ledger.save_listings_read("web", [Listing("W1", "TEE-M", 10)], now=t1)
        ledger.save_pushed(
            "web",
            [QuantityChange("W1", "TEE-M", 10, 8), QuantityChange("W2", "MUG", 3, 0)],
            [PushResult("W1", "written"), PushResult("W2", "conflict", current=2)],
            now=t2,
        )
    assert ledger.listings_shown() == [("web", "TEE-M", 8)]
    with ledger.atomic():
        ledger.save_listings_read("web", [Listing("W1", "TEE-M", 7)], now=t3)
    assert ledger.listings_shown() == [("web", "TEE-M", 7)]  # it sold since: 7 is the truth


def test_a_listing_under_another_channel_sku_loses_its_planned_target(ledger: Ledger) -> None:
    # The target was planned for TEE-M; once W1 sells MUG it must be planned again, this run
    # (the value returned to the planner) and the next (the value stored).
    with ledger.atomic():
        ledger.save_listings_read("web", [Listing("W1", "TEE-M", 10)], now=NOW)
        ledger.save_targets("web", [("W1", 10)])
    with ledger.atomic():
        assert ledger.save_listings_read("web", [Listing("W1", "TEE-M", 10)], now=NOW) == {"W1": 10}
    with ledger.atomic():
        assert ledger.save_listings_read("web", [Listing("W1", "MUG", 10)], now=NOW) == {"W1": None}
    with ledger.atomic():
        assert ledger.save_listings_read("web", [Listing("W1", "MUG", 10)], now=NOW) == {"W1": None}
    assert ledger.listings_shown() == [("web", "MUG", 10)]


def test_a_listing_moved_to_another_sku_is_pushed_that_skus_quantity(shop: Shop) -> None:
    """The seller re-points listing W1 from TEE-M (10 in stock) to MUG (3 in stock) while it
    shows 10, the target last planned for it: it must now show MUG's 3, not stay settled."""
    runner = CliRunner()
    shop.write_channel("web", listings=[listing("W1", "TEE-M", 0)])
    shop.write_config({"web": {}})
    for sku, units in (("TEE-M", "10"), ("MUG", "3")):
        assert invoke(runner, shop, "stock", "set", sku, units, "--new").exit_code == 0
    first = invoke(runner, shop, "sync", "--since", "2026-11-01")
    assert first.exit_code == 0, first.output
    assert shop.quantities("web") == {"W1": 10}

    shop.write_channel("web", listings=[listing("W1", "MUG", 10)])
    second = invoke(runner, shop, "sync", "--json")
    assert second.exit_code == 0, second.output
    assert shop.quantities("web") == {"W1": 3}


def test_order_takes_lists_the_newest_orders_first(ledger: Ledger) -> None:
    older = Order("A", Status.SHIPPED, NOW, NOW, (OrderLine("1", "TEE-M", 2),))
    newer_time = datetime(2026, 11, 20, 12, tzinfo=UTC)
    newer = Order("B", Status.PAID, newer_time, newer_time, (OrderLine("1", "TEE-M", 3),))
    with ledger.atomic():
        ledger.save_orders("web", [older, newer], unmapped=set(), run_id=None)
        ledger.write_line_movements(
            "web",
            [
                LineMovement("A", "1", "TEE-M", Effect(committed=2)),
                LineMovement("A", "1", "TEE-M", Effect(on_hand=-2, committed=-2)),
                LineMovement("B", "1", "TEE-M", Effect(committed=3)),
            ],
            run_id=None,
            now=NOW,
        )
    assert ledger.order_takes("TEE-M") == [("web:B", 3), ("web:A", 2)]


def test_a_run_that_never_finished_is_reported_as_interrupted(ledger: Ledger) -> None:
    with ledger.atomic():
        run_id = ledger.start_run(started_at=NOW, dry_run=False)
    (run,) = ledger.runs()
    assert run["run_id"] == run_id and run["interrupted"] is True and run["finished_at"] is None


def test_many_skus_and_orders_are_read_in_slices(ledger: Ledger) -> None:
    """SQLite limits the parameters of one statement; reads of thousands of keys still work."""
    skus = [f"SKU-{number:05d}" for number in range(1234)]
    with ledger.atomic():
        for sku in skus:
            ledger.add_sku(sku, now=NOW)
        ledger.write_line_movements(
            "web",
            [LineMovement(f"O{n}", "1", sku, Effect(committed=1)) for n, sku in enumerate(skus)],
            run_id=None,
            now=NOW,
        )
    assert len(ledger.balances(skus)) == 1234
    recorded = ledger.recorded_effects("web", [f"O{n}" for n in range(1234)])
    assert len(recorded) == 1234
    assert recorded[("O1233", "1")] == {"SKU-01233": Effect(committed=1)}


def test_thousands_of_orders_are_saved_and_read_back_in_slices(ledger: Ledger) -> None:
    """Every statement with a list of keys is sliced; each slice must do its share."""
    ids = [f"O{number:05d}" for number in range(1234)]
    first = [_order(order_id, Status.PAID, OrderLine("a", "TEE-M", 1)) for order_id in ids]
    with ledger.atomic():
        ledger.save_orders("web", first, unmapped=set(), run_id=1)
    later = datetime(2026, 11, 21, tzinfo=UTC)
    # Line "a" is gone from every order and "b" came instead: all old lines must be deleted.
    second = [
        _order(order_id, Status.SHIPPED, OrderLine("b", "MUG", 2), updated=later)
        for order_id in ids
    ]
    with ledger.atomic():
        ledger.save_orders("web", second, unmapped=set(), run_id=2, known=set(ids))
    assert sorted(ledger.stored_orders("web", ids), key=lambda o: o.id) == second
    assert ledger.known_updated_at("web", ids) == dict.fromkeys(ids, later)

    skus = [f"SKU-{number:05d}" for number in range(1234)]
    with ledger.atomic():
        for sku in skus:
            ledger.add_sku(sku, now=NOW)
            ledger.add_movement(kind="count", sku=sku, on_hand=4, now=NOW)
    assert ledger.available_for(skus) == dict.fromkeys(skus, 4)


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        (
            "CREATE TABLE a (x);\nCREATE TABLE b (y);\n",
            ["CREATE TABLE a (x);", "CREATE TABLE b (y);"],
        ),
        # A trigger body holds `;` before its END.
        (
            "CREATE TRIGGER t BEFORE DELETE ON a\nBEGIN\n    SELECT 1;\nEND;\n",
            ["CREATE TRIGGER t BEFORE DELETE ON a\nBEGIN\n    SELECT 1;\nEND;"],
        ),
        # A line ending in `;` inside a string literal does not end the statement.
        (
            "CREATE TABLE c (\n    x TEXT DEFAULT ';\n'\n);\n",
            ["CREATE TABLE c (\n    x TEXT DEFAULT ';\n'\n);"],
        ),
        # A comment line is kept with the statement it introduces.
        ("-- why\nCREATE TABLE d (z);\n", ["-- why\nCREATE TABLE d (z);"]),
    ],
)
def test_a_migration_script_is_split_where_sqlite_ends_a_statement(
    script: str, statements: list[str]
) -> None:
    assert split_statements(script) == statements


def test_a_migration_script_with_an_unterminated_statement_is_refused() -> None:
    with pytest.raises(ValueError, match="unterminated"):
        split_statements("CREATE TABLE a (x);\nCREATE TABLE b (y)\n")


# -- through the command line --------------------------------------------------------------


def test_stock_on_a_corrupt_ledger_exits_3_with_one_error_line(shop: Shop) -> None:
    shop.write_config({})
    shop.ledger.write_bytes(os.urandom(8192))
    result = invoke(CliRunner(), shop, "stock")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: {shop.ledger}: ")
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""


def test_stock_on_a_newer_ledger_exits_3(shop: Shop) -> None:
    shop.write_config({})
    Ledger.open(shop.ledger, write=True).close()
    conn = raw(shop.ledger)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    result = invoke(CliRunner(), shop, "stock")
    assert result.exit_code == 3
    assert "Upgrade omnisync" in result.stderr


def test_sync_on_a_locked_ledger_exits_75_and_does_nothing(shop: Shop) -> None:
    shop.write_channel(
        "web",
        listings=[listing("L1", "TEE-M", 10)],
        orders=[order("1001", "paid", [("TEE-M", 2)])],
    )
    shop.write_config({"web": {}})
    before = shop.channel_path("web").read_text()
    with Ledger.open(shop.ledger, write=True) as holder:
        with holder.atomic():
            holder.add_sku("TEE-M", now=NOW)
            holder.add_movement(kind="count", sku="TEE-M", on_hand=10, now=NOW)
        result = invoke(CliRunner(), shop, "sync", "--since", "2026-11-01", "--json")
    assert result.exit_code == 75
    assert result.stderr.startswith("Error: ")
    assert f"pid {os.getpid()}" in result.stderr
    assert result.stdout == ""
    assert shop.channel_path("web").read_text() == before
    with Ledger.open(shop.ledger, write=False) as ledger:
        assert ledger.runs() == []
        assert ledger.movement_sums() == {"TEE-M": (10, 0)}
