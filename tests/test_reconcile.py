"""The pure stock arithmetic: what each order line does to stock (listing targets: test_planning).

Expected numbers come from SPEC.md's table ("What an order does to stock"), written out here
per unit, never from `desired_effect` itself.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnisync.catalog import Catalog
from omnisync.ledger import Ledger
from omnisync.models import Order, OrderLine, Status
from omnisync.reconcile import (
    Effect,
    LineMovement,
    OrdersOutcome,
    UnmappedLine,
    last_takers,
    latest_versions,
    reconcile_orders,
)

CHANNEL = "shop"
START = datetime(2026, 11, 1, tzinfo=UTC)
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

# Per unit (on_hand, committed), straight from SPEC.md's table.
SPEC_PER_UNIT = {
    Status.PENDING: (0, 1),
    Status.PAID: (0, 1),
    Status.SHIPPED: (-1, 0),
    Status.COMPLETED: (-1, 0),
    Status.CANCELLED: (0, 0),
}


def spec_effect(status: Status, quantity: int, *, restock: bool) -> Effect:
    if status is Status.RETURNED:
        per_unit = (0, 0) if restock else (-1, 0)
    else:
        per_unit = SPEC_PER_UNIT[status]
    return Effect(per_unit[0] * quantity, per_unit[1] * quantity)


CATALOG = Catalog(
    skus=frozenset({"TEE-M", "MUG", "CAP"}),
    mapping={CHANNEL: {"SHP-TEE-M": "TEE-M"}},
    bundles={"GIFT-SET": {"MUG": 1, "TEE-M": 2}},
)


def make_order(
    order_id: str,
    status: Status | str,
    lines: Sequence[tuple[Any, ...]],
    *,
    created: datetime = T0,
    updated: datetime = T0,
) -> Order:
    """`lines` are (line id, channel SKU, quantity[, line status])."""
    built = []
    for line in lines:
        line_id, channel_sku, quantity, *rest = line
        built.append(OrderLine(line_id, channel_sku, quantity, status=rest[0] if rest else None))
    return Order(order_id, Status(status), created, updated, tuple(built))


class SimLedger:
    """What the ledger would hold: recorded effects per (order, line) and SKU, and versions."""

    def __init__(self, *, catalog: Catalog = CATALOG, restock: bool = True) -> None:
        self.catalog = catalog
        self.restock = restock
        self.recorded: dict[tuple[str, str], dict[str, Effect]] = defaultdict(dict)
        self.known: dict[str, datetime] = {}
        self.movements: list[LineMovement] = []

    def apply(self, orders: list[Order], *, catalog: Catalog | None = None) -> OrdersOutcome:
        outcome = reconcile_orders(
            CHANNEL,
            orders,
            recorded={key: dict(value) for key, value in self.recorded.items()},
            known_updated_at=dict(self.known),
            catalog=catalog or self.catalog,
            start_time=START,
            restock_returns=self.restock,
        )
        for movement in outcome.movements:
            assert movement.effect, "a movement of zero must not be written"
            line = self.recorded[(movement.order_id, movement.line_id)]
            line[movement.sku] = line.get(movement.sku, Effect()) + movement.effect
            self.movements.append(movement)
        for order in outcome.applied:
            self.known[order.id] = order.updated_at
        return outcome

    def stock(self) -> dict[str, Effect]:
        """Sum of all movements per SKU, leaving out SKUs that net to zero."""
        totals: dict[str, Effect] = defaultdict(Effect)
        for movement in self.movements:
            totals[movement.sku] = totals[movement.sku] + movement.effect
        return {sku: effect for sku, effect in totals.items() if effect}


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- status transitions ----------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("restock", [True, False])
def test_first_sight_of_an_order_writes_its_desired_effect(status: Status, restock: bool) -> None:
    ledger = SimLedger(restock=restock)
    ledger.apply([make_order("1", status, [("1", "TEE-M", 3)])])
    expected = spec_effect(status, 3, restock=restock)
    assert ledger.stock() == ({"TEE-M": expected} if expected else {})


@pytest.mark.parametrize(
    ("before", "after", "restock"),
    list(itertools.product(list(Status), list(Status), [True, False])),
)
def test_every_status_transition_lands_on_the_new_status_numbers(
    before: Status, after: Status, restock: bool
) -> None:
    ledger = SimLedger(restock=restock)
    ledger.apply([make_order("1", before, [("1", "TEE-M", 3)], updated=later(0))])
    outcome = ledger.apply([make_order("1", after, [("1", "TEE-M", 3)], updated=later(5))])

    written = sum((m.effect for m in outcome.movements), Effect())
    assert written == spec_effect(after, 3, restock=restock) - spec_effect(
        before, 3, restock=restock
    )
    final = spec_effect(after, 3, restock=restock)
    assert ledger.stock() == ({"TEE-M": final} if final else {})
    # No transition writes more than one movement for a one-SKU line, and none when equal.
    assert len(outcome.movements) == (1 if written else 0)


@pytest.mark.parametrize(
    ("history", "restock", "on_hand", "committed"),
    [
        pytest.param(["paid", "shipped", "cancelled"], True, 0, 0, id="shipped-then-cancelled"),
        pytest.param(["paid", "shipped", "returned"], True, 0, 0, id="returned-restocked"),
        pytest.param(["paid", "shipped", "returned"], False, -2, 0, id="returned-not-restocked"),
        pytest.param(["paid", "pending"], True, 0, 2, id="paid-back-to-pending"),
        pytest.param(["pending", "cancelled", "paid"], True, 0, 2, id="cancelled-then-revived"),
        pytest.param(["completed", "shipped"], True, -2, 0, id="completed-back-to-shipped"),
        pytest.param(["shipped", "paid"], True, 0, 2, id="shipped-back-to-paid"),
        pytest.param(["returned", "completed"], True, -2, 0, id="returned-then-completed"),
    ],
)
def test_odd_status_histories(
    history: list[str], restock: bool, on_hand: int, committed: int
) -> None:
    ledger = SimLedger(restock=restock)
    for minute, status in enumerate(history):
        ledger.apply([make_order("1", status, [("1", "TEE-M", 2)], updated=later(minute))])
    assert ledger.stock().get("TEE-M", Effect()) == Effect(on_hand, committed)


@pytest.mark.parametrize(
    ("status", "before", "after", "movement"),
    [
        pytest.param("paid", 3, 1, Effect(committed=-2), id="paid-edited-down"),
        pytest.param("paid", 1, 3, Effect(committed=2), id="paid-edited-up"),
        pytest.param("shipped", 3, 2, Effect(on_hand=1), id="shipped-unit-refunded"),
        pytest.param("pending", 2, 0, Effect(committed=-2), id="edited-to-zero"),
    ],
)
def test_an_edited_line_quantity_is_corrected(
    status: str, before: int, after: int, movement: Effect
) -> None:
    ledger = SimLedger()
    ledger.apply([make_order("1", status, [("1", "TEE-M", before)], updated=later(0))])
    outcome = ledger.apply([make_order("1", status, [("1", "TEE-M", after)], updated=later(1))])
    assert outcome.movements == [LineMovement("1", "1", "TEE-M", movement)]


def test_a_line_removed_from_an_order_is_undone() -> None:
    ledger = SimLedger()
    ledger.apply([make_order("1", "paid", [("1", "TEE-M", 2), ("2", "MUG", 1)], updated=later(0))])
    outcome = ledger.apply([make_order("1", "paid", [("1", "TEE-M", 2)], updated=later(1))])
    assert outcome.movements == [LineMovement("1", "2", "MUG", Effect(committed=-1))]
    assert ledger.stock() == {"TEE-M": Effect(committed=2)}


def test_a_removed_bundle_line_is_undone_on_every_component() -> None:
    ledger = SimLedger()
    ledger.apply([make_order("1", "shipped", [("1", "GIFT-SET", 1)], updated=later(0))])
    ledger.apply([make_order("1", "shipped", [], updated=later(1))])
    assert ledger.stock() == {}


def test_a_changed_mapping_moves_the_line_to_the_new_sku() -> None:
    ledger = SimLedger()
    ledger.apply([make_order("1", "paid", [("1", "SHP-TEE-M", 2)], updated=later(0))])
    assert ledger.stock() == {"TEE-M": Effect(committed=2)}

    remapped = Catalog(skus=CATALOG.skus, mapping={CHANNEL: {"SHP-TEE-M": "CAP"}})
    outcome = ledger.apply(
        [make_order("1", "paid", [("1", "SHP-TEE-M", 2)], updated=later(0))], catalog=remapped
    )
    assert outcome.movements == [
        LineMovement("1", "1", "CAP", Effect(committed=2)),
        LineMovement("1", "1", "TEE-M", Effect(committed=-2)),
    ]
    assert ledger.stock() == {"CAP": Effect(committed=2)}


def test_a_mapping_only_applies_to_its_own_channel() -> None:
    # "SHP-TEE-M" is mapped for channel "shop" only; on another channel it is unmapped.
    assert CATALOG.resolve(CHANNEL, "SHP-TEE-M") == {"TEE-M": 1}
    assert CATALOG.resolve("woo", "SHP-TEE-M") is None
    assert CATALOG.resolve("woo", "TEE-M") == {"TEE-M": 1}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            "paid",
            {"MUG": Effect(committed=2), "TEE-M": Effect(committed=4)},
        ),
        (
            "shipped",
            {"MUG": Effect(on_hand=-2), "TEE-M": Effect(on_hand=-4)},
        ),
        ("cancelled", {}),
    ],
)
def test_a_bundle_line_acts_on_each_component_times_its_count(
    status: str, expected: dict[str, Effect]
) -> None:
    ledger = SimLedger()
    ledger.apply([make_order("1", status, [("1", "GIFT-SET", 2)])])
    assert ledger.stock() == expected


def test_a_bundle_shipping_moves_components_from_committed_to_gone() -> None:
    ledger = SimLedger()
    ledger.apply([make_order("1", "paid", [("1", "GIFT-SET", 1)], updated=later(0))])
    outcome = ledger.apply([make_order("1", "shipped", [("1", "GIFT-SET", 1)], updated=later(1))])
    assert outcome.movements == [
        LineMovement("1", "1", "MUG", Effect(on_hand=-1, committed=-1)),
        LineMovement("1", "1", "TEE-M", Effect(on_hand=-2, committed=-2)),
    ]


def test_a_per_line_status_overrides_the_orders() -> None:
    ledger = SimLedger()
    ledger.apply(
        [
            make_order(
                "1", "paid", [("1", "TEE-M", 2), ("2", "MUG", 1, Status.CANCELLED)], updated=T0
            )
        ]
    )
    assert ledger.stock() == {"TEE-M": Effect(committed=2)}


# -- what is ignored ---------------------------------------------------------------------------


def test_orders_created_before_the_start_time_are_ignored_in_every_version() -> None:
    ledger = SimLedger()
    before = START - timedelta(seconds=1)
    for minute, status in enumerate(["paid", "shipped", "returned"]):
        outcome = ledger.apply(
            [make_order("1", status, [("1", "TEE-M", 2)], created=before, updated=later(minute))]
        )
        assert [o.id for o in outcome.ignored] == ["1"]
        assert outcome.applied == []
    assert ledger.stock() == {}


def test_an_order_created_exactly_at_the_start_time_counts() -> None:
    ledger = SimLedger()
    outcome = ledger.apply([make_order("1", "paid", [("1", "TEE-M", 2)], created=START)])
    assert outcome.ignored == []
    assert ledger.stock() == {"TEE-M": Effect(committed=2)}


def test_a_stale_version_changes_nothing() -> None:
    ledger = SimLedger()
    ledger.apply([make_order("1", "shipped", [("1", "TEE-M", 2)], updated=later(10))])
    outcome = ledger.apply([make_order("1", "paid", [("1", "TEE-M", 2)], updated=later(5))])
    assert [o.id for o in outcome.stale] == ["1"]
    assert outcome.movements == [] and outcome.applied == []
    assert ledger.stock() == {"TEE-M": Effect(on_hand=-2)}


def test_the_same_version_again_is_applied_and_writes_nothing() -> None:
    ledger = SimLedger()
    order = make_order("1", "paid", [("1", "TEE-M", 2)], updated=later(10))
    ledger.apply([order])
    outcome = ledger.apply([order])
    assert outcome.applied == [order]
    assert outcome.movements == []


def test_duplicates_in_one_fetch_use_the_latest_version() -> None:
    old = make_order("1", "paid", [("1", "TEE-M", 2)], updated=later(0))
    new = make_order("1", "shipped", [("1", "TEE-M", 2)], updated=later(1))
    ledger = SimLedger()
    outcome = ledger.apply([new, old, new])
    assert outcome.applied == [new]
    assert ledger.stock() == {"TEE-M": Effect(on_hand=-2)}


def test_latest_versions_keeps_one_per_order_and_the_last_seen_on_a_tie() -> None:
    a1 = make_order("A", "paid", [], updated=later(1))
    a2 = make_order("A", "shipped", [], updated=later(2))
    b_first = make_order("B", "paid", [], updated=later(1))
    b_second = make_order("B", "cancelled", [], updated=later(1))
    assert latest_versions([a2, b_first, a1, b_second]) == [a2, b_second]


# -- unmapped lines ----------------------------------------------------------------------------


@pytest.mark.parametrize("channel_sku", ["NOPE", ""])
def test_an_unmapped_line_is_kept_and_the_rest_of_the_order_applied(channel_sku: str) -> None:
    ledger = SimLedger()
    outcome = ledger.apply(
        [make_order("1", "paid", [("1", "TEE-M", 1), ("2", channel_sku, 3)], updated=later(0))]
    )
    assert outcome.unmapped == [UnmappedLine("1", "2", channel_sku, 3)]
    assert [o.id for o in outcome.applied] == ["1"]
    assert ledger.stock() == {"TEE-M": Effect(committed=1)}


def test_an_unmapped_line_is_applied_once_a_mapping_exists() -> None:
    ledger = SimLedger()
    order = make_order("1", "paid", [("1", "OLD-CODE", 3)], updated=later(0))
    ledger.apply([order])
    assert ledger.stock() == {}

    mapped = Catalog(skus=CATALOG.skus, mapping={CHANNEL: {"OLD-CODE": "MUG"}})
    outcome = ledger.apply([order], catalog=mapped)
    assert outcome.unmapped == []
    assert ledger.stock() == {"MUG": Effect(committed=3)}


def test_a_bundle_with_an_unknown_component_is_unmapped() -> None:
    catalog = Catalog(skus=frozenset({"MUG"}), bundles={"GIFT-SET": {"MUG": 1, "TEE-M": 1}})
    assert catalog.resolve(CHANNEL, "GIFT-SET") is None


def test_a_line_that_loses_its_mapping_keeps_what_it_did_while_still_open() -> None:
    """A paid or shipped line whose SKU can no longer be resolved keeps its effect: the units
    are still promised or gone, so the stock is right until it maps again."""
    ledger = SimLedger()
    ledger.apply([make_order("1", "paid", [("1", "SHP-TEE-M", 2)], updated=later(0))])
    unmapped = Catalog(skus=CATALOG.skus)
    outcome = ledger.apply(
        [make_order("1", "shipped", [("1", "SHP-TEE-M", 2)], updated=later(1))],
        catalog=unmapped,
    )
    assert outcome.movements == []
    assert ledger.stock() == {"TEE-M": Effect(committed=2)}


@pytest.mark.parametrize(
    ("status", "restock"), [("cancelled", True), ("returned", True), ("cancelled", False)]
)
def test_a_line_that_loses_its_mapping_and_is_cancelled_releases_its_units(
    status: str, restock: bool
) -> None:
    """Whatever SKU it was, a cancelled (or restocked) line holds nothing: the committed
    units go back even while the line cannot be mapped, or they would stay held for ever."""
    ledger = SimLedger(restock=restock)
    ledger.apply([make_order("1", "paid", [("1", "SHP-TEE-M", 2)], updated=later(0))])
    outcome = ledger.apply(
        [make_order("1", status, [("1", "SHP-TEE-M", 2)], updated=later(1))],
        catalog=Catalog(skus=CATALOG.skus),
    )
    assert outcome.unmapped == [UnmappedLine("1", "1", "SHP-TEE-M", 2)]
    assert ledger.stock() == {}


# -- last takers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("takes", "deficit", "takers"),
    [
        ([("s:3", 1), ("s:2", 2), ("s:1", 5)], 1, ["s:3"]),
        ([("s:3", 1), ("s:2", 2), ("s:1", 5)], 2, ["s:3", "s:2"]),
        ([("s:3", 1), ("s:2", 2), ("s:1", 5)], 3, ["s:3", "s:2"]),
        ([("s:3", 1), ("s:2", 2), ("s:1", 5)], 4, ["s:3", "s:2", "s:1"]),
        ([("s:3", 1), ("s:2", 2)], 10, ["s:3", "s:2"]),  # all there are
        ([("s:3", 0), ("s:2", -2), ("s:1", 1)], 1, ["s:1"]),  # gave nothing, or gave back
        ([("s:3", 1), ("s:3", 1), ("s:1", 1)], 3, ["s:3", "s:1"]),  # named once
        ([("s:3", 1)], 0, []),
    ],
)
def test_last_takers(takes: list[tuple[str, int]], deficit: int, takers: list[str]) -> None:
    assert last_takers(takes, deficit) == takers


# -- properties --------------------------------------------------------------------------------

MAPPED_CHOICES = ["TEE-M", "MUG", "SHP-TEE-M", "GIFT-SET"]
UNMAPPED_SKU = "NOPE"


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Order], list[list[Order]], bool]:
    """Every version of a few orders, and the fetches they arrived in (any order, repeats)."""
    versions: list[Order] = []
    minute = 0
    for number in range(draw(st.integers(1, 4))):
        order_id = f"O{number}"
        created = START - timedelta(days=1) if draw(st.booleans()) and number else later(0)
        for _ in range(draw(st.integers(1, 4))):
            lines = []
            for line_id in draw(st.sets(st.sampled_from(["1", "2", "3", "9"]), max_size=4)):
                # Line 9 never maps; the others may change SKU between versions.
                sku = UNMAPPED_SKU if line_id == "9" else draw(st.sampled_from(MAPPED_CHOICES))
                status = draw(st.none() | st.sampled_from(list(Status)))
                lines.append((line_id, sku, draw(st.integers(0, 5)), status))
            minute += 1
            versions.append(
                make_order(
                    order_id,
                    draw(st.sampled_from(list(Status))),
                    sorted(lines),
                    created=created,
                    updated=later(minute),
                )
            )
    arrival = draw(st.permutations(versions))
    extra = draw(st.lists(st.sampled_from(versions), max_size=4))
    for item in extra:
        arrival.insert(draw(st.integers(0, len(arrival))), item)
    cuts = sorted(draw(st.sets(st.integers(1, len(arrival)), max_size=len(arrival))))
    batches = [arrival[a:b] for a, b in itertools.pairwise([0, *cuts, len(arrival)]) if a < b]
    return versions, batches, draw(st.booleans())


def expected_stock(versions: list[Order], *, restock: bool) -> dict[str, Effect]:
    """The desired effect of each order's latest version, by SPEC's table."""
    latest: dict[str, Order] = {}
    for version in versions:
        if version.id not in latest or version.updated_at > latest[version.id].updated_at:
            latest[version.id] = version
    totals: dict[str, Effect] = defaultdict(Effect)
    for order in latest.values():
        if order.created_at < START:
            continue
        for line in order.lines:
            resolved = CATALOG.resolve(CHANNEL, line.channel_sku)
            for sku, count in (resolved or {}).items():
                effect = spec_effect(
                    order.line_status(line), line.quantity * count, restock=restock
                )
                totals[sku] = totals[sku] + effect
    return {sku: effect for sku, effect in totals.items() if effect}


@settings(max_examples=200, deadline=None)
@given(histories())
def test_replaying_a_history_adds_no_movements(
    history: tuple[list[Order], list[list[Order]], bool],
) -> None:
    _, batches, restock = history
    ledger = SimLedger(restock=restock)
    for batch in batches:
        ledger.apply(batch)
    written = len(ledger.movements)
    for batch in batches:
        outcome = ledger.apply(batch)
        assert outcome.movements == []
    assert len(ledger.movements) == written


@settings(max_examples=200, deadline=None)
@given(histories())
def test_final_stock_depends_only_on_each_orders_latest_version(
    history: tuple[list[Order], list[list[Order]], bool],
) -> None:
    versions, batches, restock = history
    ledger = SimLedger(restock=restock)
    for batch in batches:
        ledger.apply(batch)
    assert ledger.stock() == expected_stock(versions, restock=restock)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_real_ledger_balances_equal_its_movements_and_the_spec(
    history: tuple[list[Order], list[list[Order]], bool],
) -> None:
    """The same history through the SQLite ledger's own reads and writes, as sync does."""
    versions, batches, restock = history
    with tempfile.TemporaryDirectory() as folder:
        with Ledger.open(Path(folder) / "inventory.db", write=True) as ledger:
            with ledger.atomic():
                for sku in CATALOG.skus:
                    ledger.add_sku(sku, now=T0)
            for batch in batches:
                ids = list(dict.fromkeys(order.id for order in batch))
                with ledger.atomic():
                    outcome = reconcile_orders(
                        CHANNEL,
                        batch,
                        recorded=ledger.recorded_effects(CHANNEL, ids),
                        known_updated_at=ledger.known_updated_at(CHANNEL, ids),
                        catalog=CATALOG,
                        start_time=START,
                        restock_returns=restock,
                    )
                    ledger.write_line_movements(CHANNEL, outcome.movements, run_id=None, now=T0)
                    ledger.save_orders(CHANNEL, outcome.applied, unmapped=set(), run_id=None)
            balances = {
                sku: (b.on_hand, b.committed)
                for sku, b in ledger.balances().items()
                if b.on_hand or b.committed
            }
            sums = {sku: sums for sku, sums in ledger.movement_sums().items() if any(sums)}
            # What each order line recorded, kept on its order's row, is its movements' sum.
            assert ledger.stored_effects() == ledger.effects_from_movements()
    assert balances == sums
    expected = expected_stock(versions, restock=restock)
    assert balances == {sku: (e.on_hand, e.committed) for sku, e in expected.items()}
