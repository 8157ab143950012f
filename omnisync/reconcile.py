"""Pure stock arithmetic: what an order line does to stock, and what each listing should show.

No I/O here. The engine hands in what the ledger recorded and what the channels showed; these
functions say which movements to write and which quantities to push. Everything a channel
adapter or the ledger does with numbers comes from here, so it is written once.

The rule that makes reconciliation idempotent (SPEC, "What an order does to stock"): for each
(channel, order, line, SKU) the movement written is `desired effect − sum already recorded`,
and nothing when that is zero. Re-reading an order, replaying a whole history, or seeing a
status jump backwards all land on the numbers the line's current state calls for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from omnisync.models import Listing, Order, QuantityChange, Status


@dataclass(frozen=True, slots=True)
class Effect:
    """A change to on_hand and committed, in units."""

    on_hand: int = 0
    committed: int = 0

    def __add__(self, other: Effect) -> Effect:
        return Effect(self.on_hand + other.on_hand, self.committed + other.committed)

    def __sub__(self, other: Effect) -> Effect:
        return Effect(self.on_hand - other.on_hand, self.committed - other.committed)

    def __bool__(self) -> bool:
        return self.on_hand != 0 or self.committed != 0


ZERO = Effect()


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


_NO_MAPPING: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class Catalog:
    """What turns a channel SKU into ledger SKUs: known SKUs, `[mapping]` and `[bundles]`."""

    skus: frozenset[str]
    mapping: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    bundles: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def resolve(self, channel: str, channel_sku: str) -> dict[str, int] | None:
        """The SKUs and unit counts one unit of `channel_sku` stands for; None if unmapped."""
        if not channel_sku:
            return None
        sku = self.mapping.get(channel, _NO_MAPPING).get(channel_sku, channel_sku)
        components = self.bundles.get(sku)
        if components is not None:
            if all(component in self.skus for component in components):
                return dict(components)
            return None
        return {sku: 1} if sku in self.skus else None


@dataclass(frozen=True, slots=True)
class LineMovement:
    """One movement to write for an order line: the correction it needs on one SKU."""

    order_id: str
    line_id: str
    sku: str
    effect: Effect


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


# What the ledger already recorded for one channel: (order id, line id) -> SKU -> sum.
Recorded = Mapping[tuple[str, str], Mapping[str, Effect]]


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
        current_lines = {line.id for line in order.lines}
        for line_id in recorded_lines.get(order.id, ()):
            if line_id not in current_lines:
                # The channel removed the line from the order: undo what it did.
                for sku, effect in sorted(recorded[(order.id, line_id)].items()):
                    if effect:
                        outcome.movements.append(
                            LineMovement(order.id, line_id, sku, ZERO - effect)
                        )
        for line in order.lines:
            resolved = catalog.resolve(channel, line.channel_sku)
            status = order.line_status(line)
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
                            outcome.movements.append(
                                LineMovement(order.id, line.id, sku, ZERO - effect)
                            )
                continue
            desired = {
                sku: desired_effect(status, line.quantity * count, restock_returns=restock_returns)
                for sku, count in resolved.items()
            }
            already = recorded.get((order.id, line.id), {})
            # SKUs recorded but no longer desired (the mapping changed) go back to zero.
            for sku in sorted(desired.keys() | already.keys()):
                correction = desired.get(sku, ZERO) - already.get(sku, ZERO)
                if correction:
                    outcome.movements.append(LineMovement(order.id, line.id, sku, correction))
    return outcome


def sellable(resolved: Mapping[str, int], available: Mapping[str, int]) -> int:
    """Units of a listing that can be sold: a bundle is limited by its scarcest component."""
    return min(available.get(sku, 0) // count for sku, count in resolved.items())


def listing_target(units: int, *, share: Fraction, buffer: int) -> int:
    """`max(0, floor(units × share) − buffer)`: what a listing should show."""
    # Integer floor division is exact and, over 100,000 listings, far cheaper than Fraction.
    return max(0, units * share.numerator // share.denominator - buffer)


@dataclass(slots=True)
class PushPlan:
    """What to write to one channel, and what was left alone and why."""

    changes: list[QuantityChange] = field(default_factory=list)
    unchanged: int = 0
    unmapped: list[Listing] = field(default_factory=list)
    mapped: int = 0
    refused: str | None = None  # set when the max_change brake stopped the whole push

    @property
    def zeroing(self) -> int:
        return sum(1 for c in self.changes if c.target == 0 and c.expected > 0)


def plan_pushes(
    channel: str,
    listings: Sequence[Listing],
    *,
    catalog: Catalog,
    available: Mapping[str, int],
    share: Fraction,
    buffer: int,
    max_change: float,
    force: bool,
    settled: int = 0,
) -> PushPlan:
    """Compare each mapped listing with its target; keep only those that differ.

    A push that would set more than `max_change` of the channel's mapped listings to zero is
    refused whole unless `force`: an empty or wrong ledger must not wipe a shop.

    Args:
        settled: mapped listings left out of `listings` because they are known to show their
            target already; they count as mapped and unchanged.
    """
    plan = PushPlan(unchanged=settled, mapped=settled)
    resolve = catalog.resolve
    for listing in listings:
        resolved = resolve(channel, listing.channel_sku)
        if resolved is None:
            plan.unmapped.append(listing)
            continue
        plan.mapped += 1
        if len(resolved) == 1:
            # The common case, a plain SKU, without the generator `sellable` needs for bundles.
            ((sku, count),) = resolved.items()
            units = available.get(sku, 0) // count
        else:
            units = sellable(resolved, available)
        target = listing_target(units, share=share, buffer=buffer)
        if target == listing.quantity:
            plan.unchanged += 1
        else:
            plan.changes.append(
                QuantityChange(listing.id, listing.channel_sku, listing.quantity, target)
            )
    # Compared exactly, from the decimal the user wrote: 0.29 × 100 is 28.999… in floats,
    # which would refuse 29 of 100 listings although that is exactly the limit.
    if (
        not force
        and plan.mapped
        and Fraction(plan.zeroing, plan.mapped) > Fraction(str(max_change))
    ):
        plan.refused = (
            f"would set {plan.zeroing} of {plan.mapped} listings to 0, more than max_change "
            f"({max_change:.0%}); nothing was pushed to this channel. If that is right, "
            f"run again with --force"
        )
    return plan


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
