"""The ledger side of a channel's run: apply its orders, then plan its push from the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from omnisync.catalog import Catalog
from omnisync.config import Config
from omnisync.ledger import Ledger
from omnisync.models import Listing, Order
from omnisync.planning import PushPlan, TargetRule, plan_pushes, skus_behind, split_settled
from omnisync.reconcile import reconcile_orders
from omnisync.report import ChannelReport, ListingChange


def catalog_of(ledger: Ledger, config: Config) -> Catalog:
    """The catalog as it stands now: the ledger's SKUs, the config's mapping and bundles."""
    return Catalog(skus=ledger.known_skus(), mapping=config.mapping, bundles=config.bundles)


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
) -> int:
    """Apply fetched orders (and stored ones still waiting for a mapping) to the ledger and
    move the channel's cursor; return how many movements that wrote."""
    # Stored first: a fetched version of the same order wins (it is at least as new).
    candidates = ledger.orders_with_unmapped_lines(channel) + list(orders)
    # Sorted: lookups and writes then walk the ledger's B-trees in key order, page by page.
    ids = sorted({order.id for order in candidates})
    known_updated_at = ledger.known_updated_at(channel, ids)
    outcome = reconcile_orders(
        channel,
        candidates,
        recorded=ledger.recorded_effects(channel, ids),
        known_updated_at=known_updated_at,
        catalog=catalog,
        start_time=start_time,
        restock_returns=restock_returns,
    )
    ledger.write_line_movements(channel, outcome.movements, run_id=run_id, now=now)
    ledger.save_orders(
        channel,
        sorted(outcome.applied, key=lambda order: order.id),
        unmapped={(line.order_id, line.line_id) for line in outcome.unmapped},
        run_id=run_id,
        known=known_updated_at.keys(),
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
) -> PushPlan:
    """Plan one channel's push, computing targets only where something could have changed.

    `planned` is the target each listing was planned last time, valid while the rule's `key`
    is the one stored with it; listings settled by it (see `split_settled`) cost nothing. The
    targets planned now, and the key, are stored for the next run.
    """
    channel = rule.channel
    old_key, planned_through = ledger.plan_marks(channel)
    through = ledger.last_movement_id()
    if old_key == key and planned_through is not None:
        candidates, settled = split_settled(
            listings, rule=rule, planned=planned, moved=ledger.skus_moved_since(planned_through)
        )
        available = ledger.available_for(skus_behind(candidates, rule))
    else:
        candidates, settled, planned = list(listings), 0, {}
        available = ledger.available()
    plan = plan_pushes(
        candidates,
        rule=rule,
        available=available,
        max_change=max_change,
        force=force,
        settled=settled,
        sold=ledger.skus_sold_down,
    )
    ledger.save_targets(
        channel,
        [
            (listing_id, target)
            for listing_id, target in plan.targets.items()
            if listing_id not in planned or planned[listing_id] != target
        ],
    )
    ledger.set_plan_marks(channel, key, through)

    report.listings_unchanged = plan.unchanged
    report.listings_unmapped = len(plan.unmapped)
    outcome = "refused" if plan.refused else "planned"
    report.changes = [
        ListingChange(c.listing_id, c.channel_sku, c.expected, c.target, outcome)
        for c in plan.changes
    ]
    if plan.refused:
        report.errors.append(plan.refused)
    return plan
