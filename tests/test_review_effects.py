"""Review of issue 11's speed work: line effects, relocations and the settle shortcut lose
nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnisync.catalog import Catalog
from omnisync.ledger import Ledger, schema
from omnisync.ledger.analytics import SOLD, _sku_units
from omnisync.models import Effect, LineMovement, Order, OrderLine, Status
from omnisync.report import ChannelReport
from omnisync.sync.apply import apply_orders
from tests.helpers import Shop, invoke, listing, order
from tests.test_line_effects import _WithoutJson, movement, schema_2_ledger, summed_in

__all__ = ["summed_in"]  # a fixture, used by name

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _place_units(ledger: Ledger) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (sku, location): (on_hand, committed)
        for sku, location, on_hand, committed in ledger.conn.execute(
            "SELECT sku, location, on_hand, committed FROM balances"
        )
    }


def test_a_line_now_taken_elsewhere_moves_its_commitment_when_other_lines_go_where_it_was(
    tmp_path: Path,
) -> None:
    """Order A was paid at the warehouse (1 TEE committed there), then shipped from the shop;
    in the same batch order B is paid at the warehouse. A's commitment leaves the warehouse
    (SPEC: units committed at another location move to where the order is now fulfilled),
    so the warehouse holds B's 1 committed and the shop nothing committed."""
    with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
        with ledger.atomic():
            ledger.add_sku("TEE", now=NOW)
            for place in ("main", "shop"):
                ledger.add_movement(kind="count", sku="TEE", on_hand=10, now=NOW, location=place)
            ledger.write_line_movements(
                "web", [LineMovement("A", "1", "TEE", Effect(committed=1))], run_id=1, now=NOW
            )
        with ledger.atomic():
            ledger.write_line_movements(
                "web",
                [
                    # Shipped: what reconcile writes, desired (-1, 0) less recorded (0, 1).
                    LineMovement("A", "1", "TEE", Effect(on_hand=-1, committed=-1)),
                    LineMovement("B", "1", "TEE", Effect(committed=1)),
                ],
                run_id=2,
                now=NOW,
                location="main",
                line_locations={("A", "1"): "shop"},
            )
        assert _place_units(ledger) == {("TEE", "main"): (10, 1), ("TEE", "shop"): (9, 0)}
        assert ledger.stored_effects() == ledger.effects_from_movements()


def _apply(ledger: Ledger, orders: list[Order], *, run_id: int) -> None:
    with ledger.atomic():
        apply_orders(
            "web",
            orders,
            ledger=ledger,
            catalog=Catalog(skus=frozenset({"TEE"})),
            start_time=datetime(2026, 11, 1, tzinfo=UTC),
            restock_returns=True,
            until=NOW,
            run_id=run_id,
            now=NOW,
            report=ChannelReport(),
            location="main",
            places={},
        )


@pytest.mark.usefixtures("summed_in")
def test_an_order_with_movements_but_no_row_applies_when_the_channel_sends_it(
    tmp_path: Path,
) -> None:
    """Schema 2 had no row for order C, so any version the channel sent applied. The row the
    upgrade makes for it must not turn that version into a stale one: C's unit, committed at
    09:00, is released when the channel says C was cancelled at 08:59 (a version that a
    lagging replica sent late)."""
    path = tmp_path / "inventory.db"
    conn = schema_2_ledger(path)
    conn.execute("INSERT INTO skus (sku, created_at) VALUES ('TEE', '2026-11-01')")
    movement(conn, None, "TEE", on_hand=5, kind="count")
    movement(conn, "C", "TEE", committed=1)  # written at 2026-11-20T09:00:00Z
    conn.close()

    cancelled = Order(
        "C",
        Status.CANCELLED,
        datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 8, 59, tzinfo=UTC),
        (OrderLine("1", "TEE", 1),),
    )
    with Ledger.open(path, write=True) as ledger:
        _apply(ledger, [cancelled], run_id=8)
        balance = ledger.balances()["TEE"]
        assert (balance.on_hand, balance.committed) == (5, 0)
        assert ledger.stored_effects() == ledger.effects_from_movements()
        _apply(ledger, [cancelled], run_id=9)  # seen again: nothing more moves
        assert len(ledger.movements()) == 3


# -- a ledger built by real syncs ----------------------------------------------------------

SHOP_CONFIG = (
    '[locations]\nmain = "Warehouse"\nstore = "Shop"\n'
    '[bundles]\n"GIFT" = { "MUG" = 2, "TEE-M" = 1 }\n'
)
WEB_LISTINGS = [listing("W1", "TEE-M", 0), listing("W2", "MUG", 0), listing("W3", "GIFT", 0)]


def _sync(runner: CliRunner, shop: Shop, *args: str) -> None:
    result = invoke(runner, shop, "sync", *args)
    assert result.exit_code == 0, result.output


def _at(when: str) -> dict[str, str]:
    return {"created": "2026-11-20T09:00:00Z", "updated": f"2026-11-{when}Z"}


@pytest.fixture
def synced(shop: Shop, runner: CliRunner) -> Shop:
    """Three syncs of two channels over two locations: bundles, a line moved between
    locations, a cancellation, returns with and without restock, a till sale."""
    shop.write_channel("web", listings=WEB_LISTINGS)
    shop.write_channel("till", listings=[listing("S1", "TEE-M", 0)])
    web = {"sell_from": ["main", "store"]}
    shop.write_config({"web": web, "till": {"location": "store"}}, SHOP_CONFIG)
    for sku, units, place, *new in (
        ("TEE-M", 20, "main", "--new"),
        ("MUG", 30, "main", "--new"),
        ("TEE-M", 10, "store"),
        ("MUG", 20, "store"),
    ):
        result = invoke(runner, shop, "stock", "set", sku, str(units), "--location", place, *new)
        assert result.exit_code == 0, result.output
    shop.write_channel(
        "web",
        listings=WEB_LISTINGS,
        orders=[
            order("1", "paid", [("TEE-M", 2), ("GIFT", 1)], **_at("20T09:05:00")),
            order("2", "paid", [("MUG", 1)], **_at("20T09:05:00")),
            order("3", "paid", [("TEE-M", 1), ("GIFT", 1)], **_at("20T09:05:00")),
            order("4", "paid", [("GIFT", 2)], **_at("20T09:05:00")),
        ],
    )
    shop.write_channel(
        "till",
        listings=[listing("S1", "TEE-M", 0)],
        orders=[order("9", "completed", [("TEE-M", 1)], **_at("20T09:05:00"))],
    )
    _sync(runner, shop, "--since", "2026-11-01")
    # The web shop now ships from the store: order 1's commitment moves there with it.
    web_at_store = {**web, "location": "store"}
    shop.write_config({"web": web_at_store, "till": {"location": "store"}}, SHOP_CONFIG, init=False)
    shop.write_channel(
        "web",
        listings=WEB_LISTINGS,
        orders=[
            order("1", "shipped", [("TEE-M", 2), ("GIFT", 1)], **_at("21T09:05:00")),
            order("2", "cancelled", [("MUG", 1)], **_at("21T09:05:00")),
            order("3", "returned", [("TEE-M", 1), ("GIFT", 1)], **_at("21T09:05:00")),
            order("5", "paid", [("MUG", 3)], **_at("21T09:05:00")),
        ],
    )
    _sync(runner, shop)
    shop.write_config(
        {"web": web_at_store, "till": {"location": "store"}},
        SHOP_CONFIG + "[sync]\nrestock_returns = false\n",
        init=False,
    )
    shop.write_channel(
        "web",
        listings=WEB_LISTINGS,
        orders=[
            order("4", "returned", [("GIFT", 2)], **_at("22T09:05:00")),
            order("5", "completed", [("MUG", 3)], **_at("22T09:05:00")),
        ],
    )
    _sync(runner, shop)
    return shop


def _old_sku_units(conn: sqlite3.Connection, start: str, until: str) -> set[tuple[str, str, int]]:
    """Schema 2's query (`git show 6c822c3^:omnisync/ledger/analytics.py`): sold lines'
    units per SKU and channel, summed from the movements themselves."""
    sold = ",".join(f"'{status}'" for status in SOLD)
    rows = conn.execute(
        "SELECT m.sku, o.channel, sum(m.committed - m.on_hand) FROM orders o "
        "CROSS JOIN order_lines l ON l.channel = o.channel AND l.order_id = o.order_id "
        "CROSS JOIN movements m ON m.channel = l.channel AND m.order_id = l.order_id "
        "AND m.line_id = l.line_id WHERE o.created_at >= ? AND o.created_at < ? "
        f"AND m.kind = 'order' AND coalesce(l.status, o.status) IN ({sold}) GROUP BY 1, 2",
        [start, until],
    ).fetchall()
    return {row for row in rows if row[2]}


def test_units_sold_per_sku_read_from_line_effects_equal_the_movements_sums(
    synced: Shop,
) -> None:
    window = ("2026-11-01T00:00:00.000000Z", "2026-12-01T00:00:00.000000Z")
    sold = ",".join(f"'{status}'" for status in SOLD)
    with Ledger.open(synced.ledger, write=False) as ledger:
        expected = _old_sku_units(ledger.conn, *window)
        # From the orders: 1 shipped (TEE-M 2 + GIFT's 1, MUG 2), 5 completed (MUG 3), the
        # till's 9 (TEE-M 1); 2 was cancelled, 3 and 4 returned.
        assert expected == {("TEE-M", "web", 3), ("MUG", "web", 5), ("TEE-M", "till", 1)}
        assert set(_sku_units(ledger.conn, *window, sold)) == expected
        without_json = _WithoutJson(ledger.conn)
        assert set(_sku_units(without_json, *window, sold)) == expected  # type: ignore[arg-type]


def test_the_synced_ledger_holds_each_lines_effects_and_its_balances_by_place(
    synced: Shop, runner: CliRunner
) -> None:
    with Ledger.open(synced.ledger, write=False) as ledger:
        assert ledger.stored_effects() == ledger.effects_from_movements()
        places = _place_units(ledger)
    # Sync 1 (web takes from the warehouse): orders 1-4 commit there (TEE-M 2+1, 0, 1+1, 2;
    # MUG 2, 1, 2, 4); the till sells 1 TEE-M at the store. Sync 2 (web takes from the store):
    # 1 ships from the store, its commitment moved there; 2 is cancelled and 3 returned
    # before shipping, releasing theirs; 5 commits 3 MUG at the store. Sync 3 (no restock):
    # 4 comes back and is not restocked (its 2 TEE-M and 4 MUG leave the store);
    # 5 ships 3 MUG. Nothing stays committed, and nothing left the warehouse.
    assert places == {
        ("TEE-M", "main"): (20, 0),
        ("MUG", "main"): (30, 0),
        ("TEE-M", "store"): (10 - 1 - 3 - 2, 0),
        ("MUG", "store"): (20 - 2 - 4 - 3, 0),
    }


@pytest.mark.usefixtures("summed_in")
def test_upgrading_a_synced_schema_2_ledger_gives_each_order_its_movements_sums(
    synced: Shop, runner: CliRunner
) -> None:
    """The synced ledger taken back to schema 2 (no effects column, the by-line index back),
    then upgraded: every order's effects are its movements' sums again, and a sync that sees
    nothing new moves nothing."""
    with Ledger.open(synced.ledger, write=False) as ledger:
        before = ledger.stored_effects()
        movements = ledger.movements()
    # Orders 1, 4, 5 and the till's 9 hold units; 2 and 3 (released) hold nothing.
    assert set(before) == {("web", "1"), ("web", "4"), ("web", "5"), ("till", "9")}
    conn = sqlite3.connect(synced.ledger, isolation_level=None)
    conn.execute("ALTER TABLE orders DROP COLUMN effects")
    conn.execute("CREATE INDEX movements_by_line ON movements (channel, order_id, line_id)")
    conn.execute("PRAGMA user_version = 2")
    conn.close()

    _sync(runner, synced)
    with Ledger.open(synced.ledger, write=False) as ledger:
        assert ledger.stored_effects() == before == ledger.effects_from_movements()
        assert ledger.movements() == movements


@pytest.mark.parametrize("padding", [0, 1_100_000], ids=["small file", "file over 1 MB"])
def test_a_sale_during_the_push_is_counted_once_whatever_the_channel_files_size(
    shop: Shop, runner: CliRunner, padding: int
) -> None:
    """The fake channel keeps a parsed file only up to 1 MB; past that it parses it again at
    push. Either way the sale placed between the read and the write (3 TEE) is found by the
    conflict, counted once with the order read before it (2 TEE), and the listing ends at
    10 - 2 - 3 = 5."""
    big = {"id": "W1", "sku": "TEE", "quantity": 10, "name": "x" * padding}
    sale = order("2", "paid", [("TEE", 3)], **_at("20T09:06:00"))
    shop.write_channel(
        "web",
        listings=[big],
        orders=[order("1", "paid", [("TEE", 2)], **_at("20T09:05:00"))],
        sales_during_sync=[sale],
    )
    assert (shop.channel_path("web").stat().st_size > 1_000_000) == bool(padding)
    shop.write_config({"web": {}})
    assert invoke(runner, shop, "stock", "set", "TEE", "10", "--new").exit_code == 0
    _sync(runner, shop, "--since", "2026-11-01")
    assert shop.quantities("web") == {"W1": 5}
    assert [o["id"] for o in shop.read_channel("web")["orders"]] == ["1", "2"]
    with Ledger.open(shop.ledger, write=False) as ledger:
        balance = ledger.balances()["TEE"]
        assert (balance.on_hand, balance.committed) == (10, 5)
        assert ledger.stored_effects() == ledger.effects_from_movements()
        count = len(ledger.movements())
    _sync(runner, shop)  # nothing new: nothing moves, nothing is pushed
    assert shop.quantities("web") == {"W1": 5}
    with Ledger.open(shop.ledger, write=False) as ledger:
        assert len(ledger.movements()) == count


def test_a_dry_run_and_a_channel_failing_leave_effects_equal_to_the_movements(
    synced: Shop, runner: CliRunner
) -> None:
    """After the synced shop: a dry run with new orders changes nothing stored; a run where
    the till fails to fetch applies the web's orders alone, effects and all; the till's
    order counts once when it answers again."""
    with Ledger.open(synced.ledger, write=False) as ledger:
        before = (ledger.stored_effects(), ledger.movements(), ledger.balances())
    synced.write_channel(
        "web",
        listings=WEB_LISTINGS,
        orders=[order("6", "paid", [("GIFT", 1)], **_at("23T09:05:00"))],
    )
    synced.write_channel(
        "till",
        listings=[listing("S1", "TEE-M", 4)],
        orders=[order("10", "completed", [("TEE-M", 1)], **_at("23T09:05:00"))],
    )
    _sync(runner, synced, "--dry-run")
    with Ledger.open(synced.ledger, write=False) as ledger:
        assert (ledger.stored_effects(), ledger.movements(), ledger.balances()) == before

    config = synced.config.read_text()
    till = 'path = "fake/till.json"\n'
    synced.config.write_text(config.replace(till, till + 'fail = "fetch"\n'))
    result = invoke(runner, synced, "sync")
    assert result.exit_code == 1, result.output  # the till failed: said, and exit 1
    with Ledger.open(synced.ledger, write=False) as ledger:
        assert ledger.stored_effects() == ledger.effects_from_movements()
        assert ("web", "6") in ledger.stored_effects()
        assert ("till", "10") not in ledger.stored_effects()
    synced.config.write_text(config)
    _sync(runner, synced)
    with Ledger.open(synced.ledger, write=False) as ledger:
        assert ledger.stored_effects() == ledger.effects_from_movements()
        assert ledger.stored_effects()[("till", "10")] == {
            ("1", "TEE-M", "store"): Effect(on_hand=-1)
        }
        # GIFT = 1 TEE-M + 2 MUG, committed at the store (the web's location now).
        assert ledger.stored_effects()[("web", "6")] == {
            ("1", "MUG", "store"): Effect(committed=2),
            ("1", "TEE-M", "store"): Effect(committed=1),
        }


def test_ctrl_c_inside_the_reconcile_transaction_keeps_nothing_of_it_and_frees_the_lock(
    synced: Shop, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after the orders were applied, before the plan: exit 130, the ledger as it was
    (no movement, no effect, no balance of the stopped run), and the next sync, which takes
    the lock at once, counts the order once."""
    import omnisync.sync.run

    with Ledger.open(synced.ledger, write=False) as ledger:
        before = (ledger.stored_effects(), ledger.movements(), ledger.balances())
    synced.write_channel(
        "web",
        listings=WEB_LISTINGS,
        orders=[order("6", "paid", [("GIFT", 1)], **_at("23T09:05:00"))],
    )

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(omnisync.sync.run, "plan_channel", interrupted)
        result = invoke(runner, synced, "sync")
    assert result.exit_code == 130, result.output
    assert "Interrupted" in result.stderr
    with Ledger.open(synced.ledger, write=False) as ledger:
        assert (ledger.stored_effects(), ledger.movements(), ledger.balances()) == before
    _sync(runner, synced)
    with Ledger.open(synced.ledger, write=False) as ledger:
        assert ledger.stored_effects() == ledger.effects_from_movements()
        assert ledger.stored_effects()[("web", "6")] == {
            ("1", "MUG", "store"): Effect(committed=2),
            ("1", "TEE-M", "store"): Effect(committed=1),
        }


def test_an_upgrade_stopped_after_its_sums_leaves_schema_2_whole_and_runs_again(
    tmp_path: Path,
) -> None:
    """The upgrade lands with its version bump or not at all: stopped after it summed the
    effects (Ctrl-C), the file is schema 2 as it was, and the next open upgrades it."""
    path = tmp_path / "inventory.db"
    conn = schema_2_ledger(path)
    conn.execute("INSERT INTO skus (sku, created_at) VALUES ('TEE', '2026-11-01')")
    movement(conn, None, "TEE", on_hand=5, kind="count")
    movement(conn, "C", "TEE", committed=1)
    conn.close()

    def stopped(conn: sqlite3.Connection) -> None:
        schema._v3(conn)
        raise KeyboardInterrupt

    schema.MIGRATIONS[2] = stopped
    try:
        with pytest.raises(KeyboardInterrupt):
            Ledger.open(path, write=True)
    finally:
        schema.MIGRATIONS[2] = schema._v3
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(orders)")}
    assert "effects" not in columns
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "movements_by_line" in indexes
    conn.close()
    with Ledger.open(path, write=True) as ledger:  # the lock was freed: it opens at once
        assert ledger.stored_effects() == {
            ("web", "C"): {("1", "TEE", "main"): Effect(committed=1)}
        }
