"""Each order's line effects on its row: equal to its movements, and upgraded from schema 2."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from omnisync.catalog import Catalog
from omnisync.ledger import Ledger, schema
from omnisync.ledger.schema import APPLICATION_ID, MIGRATIONS
from omnisync.models import Effect, LineMovement, Order, OrderLine, Status
from omnisync.report import ChannelReport
from omnisync.sync.apply import apply_orders

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
START = datetime(2026, 11, 1, tzinfo=UTC)


def schema_2_ledger(path: Path) -> sqlite3.Connection:
    """A ledger as the omnisync of schema 2 left it: movements summed per line by an index."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for migration in MIGRATIONS[:2]:
        migration(conn)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    return conn


def movement(
    conn: sqlite3.Connection,
    order_id: str | None,
    sku: str,
    *,
    on_hand: int = 0,
    committed: int = 0,
    location: str = "main",
    kind: str = "order",
) -> None:
    channel, line_id = ("web", "1") if order_id else (None, None)
    conn.execute(
        "INSERT INTO movements (time, kind, sku, location, on_hand, committed, channel, "
        "order_id, line_id, run_id) VALUES ('2026-11-20T09:00:00.000000Z', ?, ?, ?, ?, ?, ?, "
        "?, ?, 7)",
        (kind, sku, location, on_hand, committed, channel, order_id, line_id),
    )
    conn.execute(
        "INSERT INTO balances (sku, location, on_hand, committed) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (sku, location) DO UPDATE SET on_hand = on_hand + excluded.on_hand, "
        "committed = committed + excluded.committed",
        (sku, location, on_hand, committed),
    )


def saved(conn: sqlite3.Connection, order_id: str, status: str) -> None:
    conn.execute(
        "INSERT INTO orders (channel, order_id, status, created_at, updated_at, first_run, "
        "last_run) VALUES ('web', ?, ?, '2026-11-20T08:00:00.000000Z', "
        "'2026-11-20T08:00:00.000000Z', 7, 7)",
        (order_id, status),
    )


@pytest.fixture(params=["sql", "python"])
def summed_in(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the upgrade sums: SQLite's JSON functions, or Python where they are missing."""
    if request.param == "python":

        def no_json(conn: sqlite3.Connection) -> None:
            raise sqlite3.OperationalError("no such function: json_group_array")

        monkeypatch.setattr(schema, "_v3_effects_in_sql", no_json)
    return str(request.param)


def test_a_schema_2_ledger_gets_each_orders_line_effects_from_its_movements(
    tmp_path: Path, summed_in: str
) -> None:
    path = tmp_path / "inventory.db"
    conn = schema_2_ledger(path)
    for sku in ("TEE", "MUG"):
        conn.execute("INSERT INTO skus (sku, created_at) VALUES (?, '2026-11-01')", (sku,))
    movement(conn, None, "TEE", on_hand=20, kind="count")
    # A: paid, then shipped: 2 units left.
    saved(conn, "A", "shipped")
    movement(conn, "A", "TEE", committed=2)
    movement(conn, "A", "TEE", on_hand=-2, committed=-2)
    # B: paid at main, then fulfilled from the shop: its commitment moved there.
    saved(conn, "B", "paid")
    movement(conn, "B", "MUG", committed=1)
    movement(conn, "B", "MUG", committed=-1)
    movement(conn, "B", "MUG", committed=1, location="shop")
    # D: paid, then cancelled: holds nothing.
    saved(conn, "D", "cancelled")
    movement(conn, "D", "TEE", committed=3)
    movement(conn, "D", "TEE", committed=-3)
    # C: movements with no order row (no omnisync writes that; kept all the same).
    movement(conn, "C", "TEE", committed=1)
    conn.close()

    with Ledger.open(path, write=False) as reader:  # any command upgrades the file
        before = reader.balances()
        assert reader.stored_effects() == {
            ("web", "A"): {("1", "TEE", "main"): Effect(on_hand=-2)},
            ("web", "B"): {("1", "MUG", "shop"): Effect(committed=1)},
            ("web", "C"): {("1", "TEE", "main"): Effect(committed=1)},
        }
        assert reader.stored_effects() == reader.effects_from_movements()
        assert reader.recorded_effects("web", ["A", "B", "C", "D"]) == {
            ("A", "1"): {"TEE": Effect(on_hand=-2)},
            ("B", "1"): {"MUG": Effect(committed=1)},
            ("C", "1"): {"TEE": Effect(committed=1)},
        }
        # C is kept as an order that holds its unit until the channel sends it.
        (c,) = reader.stored_orders("web", ["C"])
        assert c.status is Status.PENDING
        indexes = {row[0] for row in reader.conn.execute("SELECT name FROM sqlite_master")}
        assert "movements_by_line" not in indexes
        # Nothing recorded was touched.
        assert reader.movement_sums() == {"TEE": (18, 1), "MUG": (0, 1)}
        assert {sku: (b.on_hand, b.committed) for sku, b in before.items()} == {
            "MUG": (0, 1),
            "TEE": (18, 1),
        }


def test_an_order_applied_again_after_the_upgrade_moves_only_what_changed(
    tmp_path: Path,
) -> None:
    """Idempotence across the upgrade: the effects summed by the migration are what the next
    run subtracts, so a paid order now shipped writes the shipment once, and again nothing."""
    path = tmp_path / "inventory.db"
    conn = schema_2_ledger(path)
    conn.execute("INSERT INTO skus (sku, created_at) VALUES ('TEE', '2026-11-01')")
    movement(conn, None, "TEE", on_hand=10, kind="count")
    saved(conn, "A", "paid")
    conn.execute(
        "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, quantity) "
        "VALUES ('web', 'A', '1', 'TEE', 2)"
    )
    movement(conn, "A", "TEE", committed=2)
    conn.close()

    shipped = Order("A", Status.SHIPPED, NOW, LATER, (OrderLine("1", "TEE", 2),))
    with Ledger.open(path, write=True) as ledger:
        for _ in range(2):
            with ledger.atomic():
                report = ChannelReport()
                apply_orders(
                    "web",
                    [shipped],
                    ledger=ledger,
                    catalog=Catalog(skus=frozenset({"TEE"})),
                    start_time=START,
                    restock_returns=True,
                    until=LATER,
                    run_id=8,
                    now=LATER,
                    report=report,
                    location="main",
                    places={},
                )
        balance = ledger.balances()["TEE"]
        assert (balance.on_hand, balance.committed) == (8, 0)
        assert ledger.stored_effects() == ledger.effects_from_movements()
        assert len(ledger.movements()) == 3  # the count, the paid order, the shipment


def test_movements_written_before_their_order_is_saved_keep_its_effects(
    tmp_path: Path,
) -> None:
    """The one writer of order movements keeps the effects even when the order's row comes
    after: the row it makes says pending, and the order saved later takes its place."""
    with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
        with ledger.atomic():
            ledger.add_sku("TEE", now=NOW)
            ledger.write_line_movements(
                "web", [LineMovement("A", "1", "TEE", Effect(committed=2))], run_id=3, now=NOW
            )
            order = Order("A", Status.PAID, START, NOW, (OrderLine("1", "TEE", 2),))
            ledger.save_orders("web", [order], unmapped=set(), run_id=3)
        assert ledger.stored_orders("web", ["A"]) == [order]
        assert ledger.recorded_effects("web", ["A"]) == {("A", "1"): {"TEE": Effect(committed=2)}}
        assert ledger.stored_effects() == ledger.effects_from_movements()


class _WithoutJson:
    """A connection whose SQLite has no JSON functions (before 3.38 they may be missing)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: object = ()) -> sqlite3.Cursor:
        if "json_each" in sql:
            raise sqlite3.OperationalError("no such table: json_each")
        return self.conn.execute(sql, parameters)  # type: ignore[arg-type]


def test_units_sold_per_sku_are_read_from_the_line_effects_with_or_without_json(
    tmp_path: Path,
) -> None:
    from omnisync.ledger.analytics import _sku_units

    with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
        with ledger.atomic():
            for sku in ("TEE", "MUG"):
                ledger.add_sku(sku, now=NOW)
        two_lines = Order(
            "A", Status.SHIPPED, NOW, NOW, (OrderLine("1", "TEE", 2), OrderLine("2", "MUG", 1))
        )
        cancelled = Order("C", Status.CANCELLED, NOW, NOW, (OrderLine("1", "TEE", 5),))
        with ledger.atomic():
            ledger.save_orders("web", [two_lines, cancelled], unmapped=set(), run_id=1)
            ledger.write_line_movements(
                "web",
                [
                    LineMovement("A", "1", "TEE", Effect(on_hand=-2)),
                    LineMovement("A", "2", "MUG", Effect(committed=1)),
                    LineMovement("C", "1", "TEE", Effect(committed=5)),
                    LineMovement("C", "1", "TEE", Effect(committed=-5)),
                ],
                run_id=1,
                now=NOW,
            )
        window = ("2026-01-01", "2027-01-01", "'paid','shipped','completed'")
        expected = {("TEE", "web", 2), ("MUG", "web", 1)}
        assert set(_sku_units(ledger.conn, *window)) == expected
        assert set(_sku_units(_WithoutJson(ledger.conn), *window)) == expected  # type: ignore[arg-type]
