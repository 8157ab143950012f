"""The push phase: write a channel's changes, and fold in the sales that race the writes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from omnisync.catalog import Catalog, catalog_of
from omnisync.config import Config
from omnisync.ledger import Ledger
from omnisync.models import Listing, PushResult, QuantityChange
from omnisync.planning import TargetRule, available_by_place, plan_pushes
from omnisync.redact import REDACTOR
from omnisync.report import ListingChange
from omnisync.sync.apply import apply_orders
from omnisync.sync.channel import ChannelRun, Fetched, Window

log = logging.getLogger(__name__)

# How many times a listing that moved between read and write is re-planned in one run.
CONFLICT_ROUNDS = 3


@dataclass(slots=True)
class Pusher:
    """One channel's writes in one run, and what the run knows the channel shows.

    Each change carries the quantity read as its expected one. A listing that moved in between
    (a sale on the channel) is a conflict: its orders are fetched and reconciled, and the
    recomputed target is pushed against the new quantity, a bounded number of times.
    """

    run: ChannelRun
    window: Window
    ledger: Ledger
    config: Config
    run_id: int
    now: Callable[[], datetime]
    listings: list[Listing]
    orders_seen: set[str] = field(default_factory=set)
    # What each listing shows as far as this run knows: read, then written or re-read.
    shown: dict[str, int] = field(default_factory=dict)
    # Movements from orders found while resolving conflicts, after other channels were planned.
    late_movements: int = 0

    @classmethod
    def start(
        cls,
        run: ChannelRun,
        window: Window,
        fetched: Fetched,
        *,
        orders_seen: set[str],
        ledger: Ledger,
        config: Config,
        run_id: int,
        now: Callable[[], datetime],
    ) -> Pusher:
        return cls(
            run,
            window,
            ledger,
            config,
            run_id,
            now,
            listings=fetched.listings,
            orders_seen=orders_seen,
            shown={listing.id: listing.quantity for listing in fetched.listings},
        )

    async def push(self, changes: Sequence[QuantityChange]) -> None:
        """Write `changes`, re-planning conflicts; the outcome of each lands in the report."""
        if not changes:
            return
        report = self.run.report
        by_listing = {entry.listing_id: entry for entry in report.changes}
        for change in changes:
            entry = by_listing.get(change.listing_id)
            if entry is None:
                entry = ListingChange(change.listing_id, change.channel_sku, change.expected, 0)
                report.changes.append(entry)
                by_listing[change.listing_id] = entry
            entry.after, entry.outcome, entry.detail = change.target, "planned", ""
        pending = list(changes)
        async with self.run.guarded():
            for round_number in range(CONFLICT_ROUNDS + 1):
                results = await self.run.channel.push_quantities(pending, run_id=self.run_id)
                # Each round's outcome is committed at once: a write the channel made is
                # remembered even if a later round or the run is cut short.
                with self.ledger.atomic():
                    self.ledger.save_pushed(self.run.name, pending, results, now=self.now())
                conflicts = self._record(pending, results, by_listing)
                if not conflicts or round_number == CONFLICT_ROUNDS:
                    break
                pending = await self._replan(conflicts, by_listing)
                if not pending:
                    break
        for entry in report.changes:
            if entry.outcome == "planned":
                # The channel failed before saying what became of it: not known written, so
                # failed (alerts count these); the next run reads what the channel shows.
                entry.outcome = "failed"
                entry.detail = "not confirmed: the channel failed during the push"
        outcomes = [entry.outcome for entry in report.changes]
        report.listings_pushed = outcomes.count("written")
        report.listings_conflict = outcomes.count("conflict")
        report.listings_failed = outcomes.count("failed")
        log.info(
            "%s: %d listings written, %d conflicts met, %d failed",
            self.run.name,
            report.listings_pushed,
            report.conflicts_seen,
            report.listings_failed,
        )

    def _record(
        self,
        pending: Sequence[QuantityChange],
        results: Sequence[PushResult],
        by_listing: dict[str, ListingChange],
    ) -> list[PushResult]:
        """File each result in the report and in `shown`; return the conflicts."""
        report = self.run.report
        conflicts = []
        answered = set()
        for result in results:
            answered.add(result.listing_id)
            change = by_listing.get(result.listing_id)
            if change is None:
                continue
            change.outcome = result.outcome
            change.detail = REDACTOR.scrub(result.detail)
            if result.outcome == "written":
                self.shown[result.listing_id] = change.after
            elif result.outcome == "conflict" and result.current is not None:
                self.shown[result.listing_id] = result.current
            if result.outcome == "conflict":
                report.conflicts_seen += 1
                conflicts.append(result)
            elif result.outcome == "failed":
                report.errors.append(f"listing {result.listing_id}: {change.detail}")
        for asked in pending:
            if asked.listing_id not in answered:
                # An adapter that says nothing about a listing has not written it.
                by_listing[asked.listing_id].outcome = "failed"
                by_listing[asked.listing_id].detail = "the channel gave no result for it"
                report.errors.append(f"listing {asked.listing_id}: no result from the channel")
        return conflicts

    async def _replan(
        self, conflicts: Sequence[PushResult], entries: dict[str, ListingChange]
    ) -> list[QuantityChange]:
        """Something sold (or was edited) on the channel since it was read: fetch the orders
        behind it, reconcile them, and re-target the conflicted listings against what the
        channel shows now."""
        run, ledger = self.run, self.ledger
        until = self.now()
        orders = [
            order
            async for order in run.channel.fetch_orders(
                updated_since=self.window.since, updated_until=until
            )
        ]
        current = {r.listing_id: r.current for r in conflicts}
        relisted = any(quantity is None for quantity in current.values())
        if relisted:
            self.listings = await run.channel.list_listings()
            fresh = {listing.id: listing.quantity for listing in self.listings}
            self.shown.update(fresh)
            current = {key: fresh.get(key) for key in current}
        with ledger.atomic():
            catalog = catalog_of(ledger, self.config)
            self.late_movements += apply_orders(
                run.name,
                orders,
                ledger=ledger,
                catalog=catalog,
                start_time=self.window.start_time,
                restock_returns=self.config.restock_returns,
                until=until,
                run_id=self.run_id,
                now=self.now(),
                report=run.report,
                location=run.config.location,
                places=run.config.places,
            )
            if relisted:
                ledger.save_listings_read(run.name, self.listings, now=self.now())
            available = ledger.available(run.config.sell_from)
        self.orders_seen.update(order.id for order in orders)
        run.report.orders_fetched = len(self.orders_seen)
        listing_skus = {listing.id: listing.channel_sku for listing in self.listings}
        # Where each listing is: a channel with several locations offers each its own stock.
        places = {listing.id: listing.location for listing in self.listings}
        moved = [
            Listing(
                lid,
                listing_skus.get(lid, entries[lid].channel_sku),
                quantity,
                location=places.get(lid),
            )
            for lid, quantity in current.items()
            if quantity is not None and lid in entries
        ]
        # These writes were already allowed by the max_change brake; only their numbers change.
        rule = TargetRule.for_channel(run.config, self.config, catalog)
        plan = plan_pushes(
            moved,
            rule=rule,
            available=available,
            max_change=self.config.max_change,
            force=True,
            available_at=available_by_place(rule, ledger.available),
        )
        targets = {change.listing_id: change.target for change in plan.changes}
        unmapped = {listing.id for listing in plan.unmapped}
        for listing in moved:
            if listing.id in unmapped:
                continue
            entry = entries[listing.id]
            entry.before, entry.after = listing.quantity, targets.get(listing.id, listing.quantity)
            if listing.id not in targets:
                entry.outcome = "unchanged"
                entry.detail = "the channel already showed the new target"
        return plan.changes

    def settle(
        self,
        *,
        catalog: Catalog,
        available: Callable[[Sequence[str]], Mapping[str, int]],
        force: bool,
    ) -> list[QuantityChange]:
        """The changes that bring every listing to the final stock, once sales that raced
        another channel's writes moved it after this one was planned (none if refused).
        `available` reads the stock over a tuple of locations (the channel's `sell_from`)."""
        listings = [
            Listing(
                item.id,
                item.channel_sku,
                self.shown.get(item.id, item.quantity),
                item.name,
                item.location,
            )
            for item in self.listings
        ]
        rule = TargetRule.for_channel(self.run.config, self.config, catalog)
        plan = plan_pushes(
            listings,
            rule=rule,
            available=available(self.run.config.sell_from),
            max_change=self.config.max_change,
            force=force,
            available_at=available_by_place(rule, available),
        )
        return [] if plan.refused else plan.changes
