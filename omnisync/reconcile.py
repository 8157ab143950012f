"""Pure stock arithmetic: the movements that bring each order line to what its status calls for.

No I/O here. The engine hands in the orders fetched and what the ledger recorded for them;
these functions say which movements to write, and which orders took an oversold SKU's last
units. What each listing is then pushed is `omnisync.planning`'s job.

The rule that makes reconciliation idempotent (SPEC, "What an order does to stock"): for each
(channel, order, line, SKU) the movement written is `desired effect − sum already recorded`,
and nothing when that is zero. Re-reading an order, replaying a whole history, or seeing a
status jump backwards all land on the numbers the line's current state calls for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from omnisync.catalog import Catalog
from omnisync.models import Effect as Effect  # re-exported: the ledger shares these types
from omnisync.models import LineMovement as LineMovement
from omnisync.models import Order, Status
from omnisync.models import Recorded as Recorded

ZERO = Effect()
_NOTHING: Mapping[str, Effect] = {}


def desired_effect(status: Status, quantity: int, *, restock_returns: bool) -> Effect:
    """What a line of `quantity` units in `status` should have done to stock, in total."""
    if status in (Status.PENDING, Status.PAID):
        return Effect(committed=quantity)
    if status in (Status.SHIPPED, Status.COMPLETED):
        return Effect(on_hand=-quantity)
    if status is Status.RETURNED:
        # The units left and came back; unless they are restocked they stay gone.
        return ZERO if restock_returns else Effect(on_hand=-quantity)
    return ZERO  # cancelled before shipping


@dataclass(frozen=True, slots=True)
class UnmappedLine:
    """An order line whose channel SKU maps to no SKU; kept and applied once it maps."""

    order_id: str
    line_id: str
    channel_sku: str
    quantity: int


@dataclass(slots=True)
class OrdersOutcome:
    """What reconciling one channel's orders asks the ledger to do."""

    movements: list[LineMovement] = field(default_factory=list)
    unmapped: list[UnmappedLine] = field(default_factory=list)
    applied: list[Order] = field(default_factory=list)  # orders to store as last seen
    ignored: list[Order] = field(default_factory=list)  # created before the start time
    stale: list[Order] = field(default_factory=list)  # older than what the ledger holds


def latest_versions(orders: Iterable[Order]) -> list[Order]:
    """One version per order id: the one updated last (on a tie, the one seen last).

    Channels page while orders change, so a fetch can hold the same order twice, out of order.
    """
    latest: dict[str, Order] = {}
    for order in orders:
        seen = latest.get(order.id)
        if seen is None or order.updated_at >= seen.updated_at:
            latest[order.id] = order
    return list(latest.values())


def reconcile_orders(
    channel: str,
    orders: Iterable[Order],
    *,
    recorded: Recorded,
    known_updated_at: Mapping[str, datetime],
    catalog: Catalog,
    start_time: datetime,
    restock_returns: bool,
) -> OrdersOutcome:
    """The movements that bring each order line's recorded effect to its desired effect.

    Args:
        recorded: movements already in the ledger for these orders' lines.
        known_updated_at: the ledger's last-seen `updated_at` per order id; a fetched version
            older than it is stale (a late page, a lagging replica) and changes nothing.
        start_time: orders created before it are ignored: their effect is already inside
            the counted stock.
    """
    outcome = OrdersOutcome()
    movements = outcome.movements
    resolve = catalog.resolve  # looked up once: asked for every line of a big run
    # Effects are immutable: one per (status, units) serves every line that desires it.
    desired_of: dict[tuple[Status, int], Effect] = {}
    recorded_lines: dict[str, list[str]] = {}
    for order_id, line_id in recorded:
        recorded_lines.setdefault(order_id, []).append(line_id)
    for order in latest_versions(orders):
        if order.created_at < start_time:
            outcome.ignored.append(order)
            continue
        known = known_updated_at.get(order.id)
        if known is not None and order.updated_at < known:
            outcome.stale.append(order)
            continue
        outcome.applied.append(order)
        had = recorded_lines.get(order.id)
        if had:  # a new order has no line to lose
            current_lines = {line.id for line in order.lines}
            for line_id in had:
                if line_id not in current_lines:
                    # The channel removed the line from the order: undo what it did.
                    for sku, effect in sorted(recorded[(order.id, line_id)].items()):
                        if effect:
                            movements.append(LineMovement(order.id, line_id, sku, ZERO - effect))
        for line in order.lines:
            resolved = resolve(channel, line.channel_sku)
            status = line.status or order.status  # `Order.line_status`, inlined
            if resolved is None:
                # Kept as it is: a sale is never dropped, and a line that mapped before and
                # lost its mapping keeps what it already did until it maps again...
                outcome.unmapped.append(
                    UnmappedLine(order.id, line.id, line.channel_sku, line.quantity)
                )
                if not desired_effect(status, line.quantity, restock_returns=restock_returns):
                    # ...unless it now holds nothing whatever its SKU (cancelled, restocked,
                    # quantity 0): then what it did is undone, or its units stay held for ever.
                    for sku, effect in sorted(recorded.get((order.id, line.id), {}).items()):
                        if effect:
                            movements.append(LineMovement(order.id, line.id, sku, ZERO - effect))
                continue
            already = recorded.get((order.id, line.id), _NOTHING) if had else _NOTHING
            if len(resolved) == 1 and len(already) <= 1:
                # The common line, one SKU recorded under the same SKU or nothing yet: the
                # general rule below without building its sets (a tenth of a big run).
                ((sku, count),) = resolved.items()
                if not already or sku in already:
                    units = line.quantity * count
                    desired_one = desired_of.get((status, units))
                    if desired_one is None:
                        desired_one = desired_of[(status, units)] = desired_effect(
                            status, units, restock_returns=restock_returns
                        )
                    # A new line has nothing recorded: its correction is what it desires.
                    correction = desired_one - already[sku] if already else desired_one
                    if correction:
                        movements.append(LineMovement(order.id, line.id, sku, correction))
                    continue
            desired = {
                sku: desired_effect(status, line.quantity * count, restock_returns=restock_returns)
                for sku, count in resolved.items()
            }
            # SKUs recorded but no longer desired (the mapping changed) go back to zero.
            for sku in sorted(desired.keys() | already.keys()):
                correction = desired.get(sku, ZERO) - already.get(sku, ZERO)
                if correction:
                    movements.append(LineMovement(order.id, line.id, sku, correction))
    return outcome


def last_takers(order_movements_newest_first: Iterable[tuple[str, int]], deficit: int) -> list[str]:
    """The orders that took the last units of an oversold SKU.

    Args:
        order_movements_newest_first: (order reference, units it took from available).
        deficit: how many units below zero the SKU is.
    """
    takers: list[str] = []
    taken = 0
    for reference, units in order_movements_newest_first:
        if taken >= deficit:
            break
        if units <= 0:
            continue
        if reference not in takers:
            takers.append(reference)
        taken += units
    return takers
