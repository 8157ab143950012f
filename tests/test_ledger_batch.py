"""The run's write shortcuts keep the ledger's sums: movements held and written together, the
SKU list read in one piece, one-line effects written out directly, resolutions shared."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from omnisync.catalog import Catalog
from omnisync.ledger import Ledger
from omnisync.ledger.effects import decode, encode
from omnisync.models import Effect, LineMovement

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "inventory.db", write=True) as opened:
        with opened.atomic():
            for sku in ("TEE-M", "MUG", "CAP"):
                opened.add_sku(sku, now=NOW)
            opened.add_counts([("TEE-M", "main", 10), ("MUG", "main", 4)], reason="", now=NOW)
        yield opened


def test_two_channels_movements_written_together_are_all_kept_with_their_balances(
    ledger: Ledger,
) -> None:
    with ledger.atomic(), ledger.movements_together():
        ledger.write_line_movements(
            "shop",
            [
                LineMovement("1001", "1", "TEE-M", Effect(committed=2)),
                LineMovement("1001", "2", "MUG", Effect(on_hand=-1)),
            ],
            run_id=None,
            now=NOW,
        )
        ledger.write_line_movements(
            "market",
            [LineMovement("A7", "1", "TEE-M", Effect(on_hand=-3))],
            run_id=None,
            now=NOW,
        )
    # 10 counted, 3 shipped, 2 committed; 4 counted, 1 shipped.
    assert ledger.available() == {"TEE-M": 5, "MUG": 3}
    assert ledger.movement_sums() == {"TEE-M": (7, 2), "MUG": (3, 0)}
    assert ledger.recorded_effects("shop", ["1001"]) == {
        ("1001", "1"): {"TEE-M": Effect(committed=2)},
        ("1001", "2"): {"MUG": Effect(on_hand=-1)},
    }
    assert ledger.recorded_effects("market", ["A7"]) == {("A7", "1"): {"TEE-M": Effect(on_hand=-3)}}


def test_a_failure_while_movements_are_held_keeps_none_of_them(ledger: Ledger) -> None:
    with pytest.raises(RuntimeError), ledger.atomic(), ledger.movements_together():
        ledger.write_line_movements(
            "shop",
            [LineMovement("1001", "1", "TEE-M", Effect(on_hand=-3))],
            run_id=None,
            now=NOW,
        )
        raise RuntimeError("the run stops half-way")
    assert ledger.available() == {"TEE-M": 10, "MUG": 4}
    assert ledger.recorded_effects("shop", ["1001"]) == {}
    # Nothing is held over either: the next write lands at once.
    with ledger.atomic():
        ledger.add_movement(kind="count", sku="CAP", on_hand=2, now=NOW)
    assert ledger.available()["CAP"] == 2


def test_movements_are_held_only_inside_a_transaction(ledger: Ledger) -> None:
    # Outside one, the order rows could commit before the movements that go with them.
    with pytest.raises(RuntimeError, match="transaction"), ledger.movements_together():
        pass


def test_a_sku_holding_a_line_break_from_an_old_ledger_is_still_known_exactly(
    ledger: Ledger,
) -> None:
    # Written around omnisync's checks, as a ledger from before them may hold.
    ledger.conn.execute("INSERT INTO skus (sku, name, created_at) VALUES ('TEE\nM', '', 'x')")
    assert ledger.known_skus() == {"TEE-M", "MUG", "CAP", "TEE\nM"}
    assert "TEE" not in ledger.known_skus()


def test_an_empty_ledger_knows_no_sku(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "empty.db", write=True) as empty:
        assert empty.known_skus() == frozenset()
        assert "TEE-M" not in empty.sku_lookup()


@pytest.mark.parametrize(
    ("line_id", "sku", "location"),
    [
        ("1", "TEE-M", "main"),
        ('say "hi"', "back\\slash", "gudang é"),
        ("tab\there", "nul\x00", "日本\u2028"),
    ],
)
@pytest.mark.parametrize("effect", [Effect(on_hand=-3), Effect(committed=2), Effect(-1, 1)])
def test_a_one_line_effect_is_stored_as_the_json_of_every_other(
    line_id: str, sku: str, location: str, effect: Effect
) -> None:
    text = encode({(line_id, sku, location): effect})
    expected = [[line_id, sku, location, effect.on_hand, effect.committed]]
    assert text == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    assert decode(text) == {(line_id, sku, location): effect}
    # SQLite's own JSON reads it too (the schema 3 migration writes it with json_array).
    assert json.loads(sqlite3.connect(":memory:").execute("SELECT json(?)", (text,)).fetchone()[0])


def test_a_line_that_holds_nothing_stores_nothing() -> None:
    assert encode({("1", "TEE-M", "main"): Effect()}) is None


def test_a_mapped_channel_and_an_unmapped_one_resolve_the_same_channel_sku_apart() -> None:
    for order in (("web", "market"), ("market", "web")):
        catalog = Catalog(skus=frozenset({"TEE-M", "MUG"}), mapping={"market": {"TEE-M": "MUG"}})
        answers = {channel: catalog.resolve(channel, "TEE-M") for channel in order}
        assert answers == {"web": {"TEE-M": 1}, "market": {"MUG": 1}}
        # Two channels without a mapping share what they resolve, and answer alike.
        assert catalog.resolve("shop", "TEE-M") == {"TEE-M": 1}


def sku_reads(ledger: Ledger, channel_skus: list[str]) -> list[str]:
    """The statements that resolving these channel SKUs one by one sends to the SKU table."""
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    try:
        catalog = Catalog(skus=ledger.sku_lookup())
        for channel_sku in channel_skus:
            assert catalog.resolve("shop", channel_sku) == {channel_sku: 1}
    finally:
        ledger.conn.set_trace_callback(None)
    return [sql for sql in statements if "FROM skus" in sql]


def test_a_run_of_many_order_lines_reads_the_sku_list_once(ledger: Ledger) -> None:
    skus = [f"SKU-{n:05d}" for n in range(30_000)]
    with ledger.atomic():
        ledger.add_skus(((sku, "") for sku in skus), now=NOW)
    catalog = Catalog(skus=ledger.sku_lookup())
    assert len(expected_reads(ledger, "shop", skus, catalog)) == 1


def test_a_run_of_a_few_order_lines_looks_up_only_their_skus(ledger: Ledger) -> None:
    skus = [f"SKU-{n:05d}" for n in range(5_000)]
    with ledger.atomic():
        ledger.add_skus(((sku, "") for sku in skus), now=NOW)
    reads = sku_reads(ledger, skus[:10])
    assert len(reads) == 10
    assert all("WHERE sku = " in sql for sql in reads)


def expected_reads(
    ledger: Ledger, channel: str, channel_skus: list[str], catalog: Catalog
) -> list[str]:
    """The statements that announcing a run's order lines (`Catalog.expect`) and then
    resolving each sends to the SKU table."""
    statements: list[str] = []
    ledger.conn.set_trace_callback(statements.append)
    try:
        catalog.expect(channel, channel_skus)
        for channel_sku in channel_skus:
            catalog.resolve(channel, channel_sku)
    finally:
        ledger.conn.set_trace_callback(None)
    return [sql for sql in statements if "FROM skus" in sql]


def test_a_run_of_thousands_of_order_lines_looks_their_skus_up_together(ledger: Ledger) -> None:
    skus = [f"SKU-{n:05d}" for n in range(5_000)]
    with ledger.atomic():
        ledger.add_skus(((sku, "") for sku in skus), now=NOW)
    # 6,000 lines over 4,400 SKUs the ledger has and 100 it has not, most SKUs on two lines.
    lines = [f"SKU-{n % 4_400:05d}" for n in range(5_900)] + [f"GONE-{n}" for n in range(100)]
    catalog = Catalog(skus=ledger.sku_lookup())
    reads = expected_reads(ledger, "shop", lines, catalog)
    # A handful of statements for 4,500 SKUs: neither one each nor every SKU of the ledger.
    assert 1 <= len(reads) <= 10
    assert all(" IN (" in sql for sql in reads)
    assert all(catalog.resolve("shop", sku) == {sku: 1} for sku in lines[:5_900])
    assert all(catalog.resolve("shop", sku) is None for sku in lines[5_900:])
    # A SKU no line named (a listing's) is then looked up alone, not by reading every SKU.
    late: list[str] = []
    ledger.conn.set_trace_callback(late.append)
    try:
        assert catalog.resolve("shop", "SKU-04999") == {"SKU-04999": 1}
    finally:
        ledger.conn.set_trace_callback(None)
    assert len(late) == 1 and "WHERE sku = " in late[0]


def test_skus_looked_up_together_resolve_mappings_and_bundles_as_one_by_one(
    ledger: Ledger,
) -> None:
    mapping = {"market": {"RED-TEE": "TEE-M", "GIFT-BOX": "GIFT"}}
    bundles = {"GIFT": {"TEE-M": 1, "MUG": 2}, "HALF": {"TEE-M": 1, "GONE": 1}}
    lines = ["RED-TEE", " MUG ", "GIFT-BOX", "GIFT", "HALF", "NOPE", "TEE-M", "", "RED-TEE"]
    catalog = Catalog(skus=ledger.sku_lookup(), mapping=mapping, bundles=bundles)
    expected_reads(ledger, "market", lines, catalog)
    expected_reads(ledger, "web", lines, catalog)
    # SPEC: [mapping] first, then [bundles]; a bundle maps only when every component exists.
    assert [catalog.resolve("market", sku) for sku in lines] == [
        {"TEE-M": 1},
        {"MUG": 1},
        {"TEE-M": 1, "MUG": 2},
        {"TEE-M": 1, "MUG": 2},
        None,
        None,
        {"TEE-M": 1},
        None,
        {"TEE-M": 1},
    ]
    assert [catalog.resolve("web", sku) for sku in lines] == [
        None,
        {"MUG": 1},
        None,
        {"TEE-M": 1, "MUG": 2},
        None,
        None,
        {"TEE-M": 1},
        None,
        None,
    ]


def test_a_run_of_very_many_order_lines_reads_the_sku_list_once(ledger: Ledger) -> None:
    skus = [f"SKU-{n:05d}" for n in range(5_000)]
    with ledger.atomic():
        ledger.add_skus(((sku, "") for sku in skus), now=NOW)
    lines = skus * 7  # 35,000 order lines
    catalog = Catalog(skus=ledger.sku_lookup())
    reads = expected_reads(ledger, "shop", lines, catalog)
    assert len(reads) == 1 and " IN (" not in reads[0]
    assert catalog.resolve("shop", "SKU-00042") == {"SKU-00042": 1}
