"""The ledger side of a channel's run: apply its orders, then plan its push from the ledger."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from omnisync.catalog import Catalog
from omnisync.channels.base import ReadProblem
from omnisync.ledger import Ledger
from omnisync.ledger.orders import recorded_of
from omnisync.models import Listing, Order
from omnisync.payload import MAX_CHANNEL_QUANTITY
from omnisync.planning import (
    PushPlan,
    TargetRule,
    available_by_place,
    plan_pushes,
    skus_behind,
    split_settled,
)
from omnisync.reconcile import reconcile_orders
from omnisync.report import ChannelReport, ListingChange

# What `plan_channel` compares a listing's new target with when none was stored for it.
_UNPLANNED = object()


def readable_orders(orders: Sequence[Order]) -> tuple[list[Order], list[ReadProblem]]:
    """The orders the engine can apply, and a problem for each other one.

    The last guard behind every adapter's payload models: an order with an empty id, a line
    quantity out of bounds or two lines under one id would be counted wrong (or stop the run
    at the ledger's keys); it is refused on its own and the channel's other orders go on.
    """
    readable: list[Order] = []
    refused: list[ReadProblem] = []
    for order in orders:
        problem = _order_problem(order)
        if problem is None:
            readable.append(order)
        else:
            field, value, message = problem
            order_id = order.id if isinstance(order.id, str) and order.id.strip() else None
            refused.append(ReadProblem(f"order {order_id}", message, order_id, field, value))
    return readable, refused


def _order_problem(order: Order) -> tuple[str, str, str] | None:
    """(field, value, message) for the first thing about `order` the ledger cannot take."""
    if not isinstance(order.id, str) or not order.id.strip():
        return "id", json.dumps(order.id, default=str), "id: expected an id"
    seen: set[str] = set()
    for index, line in enumerate(order.lines):
        if line.id in seen:
            shown = json.dumps(line.id)
            return f"lines[{index}].id", shown, f"lines[{index}].id: {shown} is on two lines"
        seen.add(line.id)
        quantity = line.quantity
        if (
            not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or not 0 <= quantity <= MAX_CHANNEL_QUANTITY
        ):
            shown = json.dumps(quantity, default=str)
            return (
                f"lines[{index}].quantity",
                shown,
                f"lines[{index}].quantity: expected a quantity from 0 to "
                f"{MAX_CHANNEL_QUANTITY:,}, got {shown}",
            )
    return None


def keep_unreadable(
    channel: str,
    readable: Sequence[Order],
    unreadable: Sequence[ReadProblem],
    *,
    ledger: Ledger,
    run_id: int,
    report: ChannelReport,
) -> None:
    """File this fetch's unreadable orders in the ledger, forget those now read, and report
    every one still unreadable (exit 1) until the channel sends a readable version."""
    ledger.clear_unreadable(channel, (order.id for order in readable))
    ledger.save_unreadable(
        channel,
        [(p.order_id, p.field, p.value, p.message) for p in unreadable if p.order_id],
        run_id=run_id,
    )
    said = [
        f"an order without a readable id was skipped ({problem.message})"
        for problem in unreadable
        # Without an id it cannot be matched to a later version: said for this run.
        if not problem.order_id
    ]
    said += [
        f"order {stored.order_id} cannot be read ({stored.message}); it is held back "
        f"until {channel} sends a readable version"
        for stored in ledger.unreadable_orders(channel)
    ]
    # A conflict re-fetches and comes through here again: say each problem once per run.
    report.errors.extend(text for text in said if text not in report.errors)


def apply_orders(
    channel: str,
    orders: Sequence[Order],
    *,
    ledger: Ledger,
    catalog: Catalog,
    start_time: datetime,
    restock_returns: bool,
    until: datetime,
    run_id: int,
    now: datetime,
    report: ChannelReport,
    location: str,
    places: Mapping[str, str],
    unreadable: Sequence[ReadProblem] = (),
) -> int:
    """Apply fetched orders (and stored ones still waiting for a mapping) to the ledger and
    move the channel's cursor; return how many movements that wrote.

    Orders the channel sent unreadable (`unreadable`, and any the engine itself refuses) are
    kept as such in the ledger and reported; the others apply.
    """
    orders, refused = readable_orders(orders)
    keep_unreadable(
        channel,
        orders,
        [*unreadable, *refused],
        ledger=ledger,
        run_id=run_id,
        report=report,
    )
    # Stored first: a fetched version of the same order wins (it is at least as new).
    candidates = ledger.orders_with_unmapped_lines(channel) + list(orders)
    catalog.expect(channel, [line.channel_sku for order in candidates for line in order.lines])
    # Sorted: lookups and writes then walk the ledger's B-trees in key order, page by page.
    ids = sorted({order.id for order in candidates})
    known_updated_at, effects = ledger.order_state(channel, ids)
    outcome = reconcile_orders(
        channel,
        candidates,
        recorded=recorded_of(effects),
        known_updated_at=known_updated_at,
        catalog=catalog,
        start_time=start_time,
        restock_returns=restock_returns,
    )
    # Orders take stock from the channel's location (config `location`); a line the channel
    # places at one of its own locations (`places`, Shopify `locations`) from the ledger
    # location that one maps to.
    moved = ledger.write_line_movements(
        channel,
        outcome.movements,
        run_id=run_id,
        now=now,
        location=location,
        line_locations={
            (order.id, line.id): places.get(line.location, location)
            for order in outcome.applied
            for line in order.lines
            if line.location is not None
        },
        effects=effects,
        save_effects=False,
    )
    applied = sorted(outcome.applied, key=lambda order: order.id)
    # Reconciling moves only orders it applies: every line effect changed is saved here.
    assert moved <= {order.id for order in applied}, "movements for an order not applied"
    ledger.save_orders(
        channel,
        applied,
        unmapped={(line.order_id, line.line_id) for line in outcome.unmapped},
        run_id=run_id,
        known=known_updated_at.keys(),
        effects={order_id: effects[order_id] for order_id in moved},
    )
    report.movements += len(outcome.movements)
    report.orders_applied.extend(dict.fromkeys(movement.order_id for movement in outcome.movements))
    if orders:
        # Cursor = the newest update seen, never past the moment the window closed. The next
        # window starts `overlap` before it: channels accept only >= filters and let late
        # writes land behind the newest one; re-reading them is free, as applying is
        # idempotent.
        latest = max(order.updated_at for order in orders)
        ledger.set_cursor(channel, min(latest, until))
    return len(outcome.movements)


def plan_channel(
    listings: Sequence[Listing],
    *,
    rule: TargetRule,
    key: str,
    planned: dict[str, int | None],
    ledger: Ledger,
    max_change: float,
    force: bool,
    report: ChannelReport,
    moved_since: Callable[[int], set[str]] | None = None,
    available_of: Callable[[Sequence[str]], Mapping[str, int]] | None = None,
) -> PushPlan:
    """Plan one channel's push, computing targets only where something could have changed.

    `planned` is the target each listing was planned last time, valid while the rule's `key`
    is the one stored with it; listings settled by it (see `split_settled`) cost nothing. The
    targets planned now, and the key, are stored for the next run. `moved_since`, when given,
    answers "which SKUs moved after movement N" for every channel of a run at once, and
    `available_of` "what is available over these locations" (default: `ledger.available`).
    """
    read_available = available_of or ledger.available
    channel = rule.channel
    old_key, planned_through = ledger.plan_marks(channel)
    through = ledger.last_movement_id()
    # A listing at one of several mapped channel locations reads that location's stock
    # alone: the settle shortcut, which reads stock summed over `sell_from`, is not for it.
    if old_key == key and planned_through is not None and not rule.places:
        candidates, settled = split_settled(
            listings,
            rule=rule,
            planned=planned,
            moved=(moved_since or ledger.skus_moved_since)(planned_through),
        )
        available: Mapping[str, int] = ledger.available_for(
            skus_behind(candidates, rule), rule.sell_from
        )
    else:
        candidates, settled, planned = list(listings), 0, {}
        available = read_available(rule.sell_from)
    plan = plan_pushes(
        candidates,
        rule=rule,
        available=available,
        max_change=max_change,
        force=force,
        settled=settled,
        sold=ledger.skus_sold_down,
        available_at=available_by_place(rule, read_available),
    )
    stored = planned.get
    ledger.save_targets(
        channel,
        [
            (listing_id, target)
            for listing_id, target in plan.targets.items()
            # One lookup: a listing with no stored target gets _UNPLANNED, never a target.
            if stored(listing_id, _UNPLANNED) != target
        ],
    )
    ledger.set_plan_marks(channel, key, through)

    report.listings_unchanged = plan.unchanged
    outcome = "refused" if plan.refused else "planned"
    report.changes = [
        ListingChange(c.listing_id, c.channel_sku, c.expected, c.target, outcome)
        for c in plan.changes
    ]
    if plan.refused:
        report.errors.append(plan.refused)
    return plan
