"""The sync engine: fetch every channel, reconcile into the ledger, push what changed.

The only module that sequences I/O. Channels are read and written concurrently; the ledger
is written from this one thread, in short transactions that never span a network call:

1. fetch: per channel, listings first, then orders updated in
   `[max(start, cursor − overlap), now)`. Listings are read before the window closes, so any
   sale a listing's quantity already reflects is inside the window too.
2. reconcile: one transaction writes every channel's movements, its orders as last seen, its
   new cursor and the listings read. A crash before the commit leaves the ledger as it was
   and the next run re-reads the same window; a crash after it loses nothing either, since
   pushes are recomputed from the ledger every run.
3. push: only listings whose quantity differs from its target, each with the quantity read
   in step 1 as the expected one. A listing that moved in between (a sale on the channel) is
   a conflict: the engine re-fetches that channel's orders, reconciles them, and pushes the
   recomputed target against the new quantity, a bounded number of times.
4. record: pushed quantities, channel outcomes and the run report, in one transaction.

`--dry-run` runs steps 1–2 inside a transaction that is rolled back and skips 3: the preview
is the same code as the real thing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from omnisync import __version__
from omnisync.channels import Channel, ChannelContext, open_channel
from omnisync.channels.base import ChannelConfig
from omnisync.config import Config
from omnisync.errors import ChannelError, ConfigError
from omnisync.httpclient import Budget
from omnisync.ledger import Ledger
from omnisync.models import Listing, Order, PushResult, QuantityChange, Status
from omnisync.reconcile import (
    Catalog,
    PushPlan,
    desired_effect,
    last_takers,
    plan_pushes,
    reconcile_orders,
)
from omnisync.redact import REDACTOR
from omnisync.report import ChannelReport, ListingChange, Oversold, RunReport, Unmapped
from omnisync.timeparse import utcnow

log = logging.getLogger(__name__)

# How many times a listing that moved between read and write is re-planned in one run.
CONFLICT_ROUNDS = 3

ChannelOpener = Callable[[ChannelConfig, ChannelContext], Channel]
ProgressCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SyncOptions:
    dry_run: bool = False
    channels: Sequence[str] = ()
    since: datetime | None = None
    force: bool = False


@dataclass(slots=True)
class _ChannelRun:
    """One channel's state during a run."""

    config: ChannelConfig
    channel: Channel
    report: ChannelReport
    budget: Budget  # the channel's one time budget, shared with its HTTP layer
    since: datetime | None = None
    start_time: datetime | None = None
    until: datetime | None = None
    listings: list[Listing] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    plan: PushPlan | None = None
    # What each listing shows as far as this run knows: read, then written or re-read.
    shown: dict[str, int] = field(default_factory=dict)
    # The target planned for each listing by the last run (see _plan).
    planned: dict[str, int | None] = field(default_factory=dict)
    # Movements from orders found while resolving conflicts, after other channels were planned.
    late_movements: int = 0

    @property
    def ok(self) -> bool:
        return self.report.status == "ok"

    def fail(self, error: Exception) -> None:
        self.report.status = "failed"
        # The report files errors under the channel's name: "b: b: …" helps nobody.
        text = error.message if isinstance(error, ChannelError) else str(error)
        self.report.errors.append(REDACTOR.scrub(text))


def select_channels(config: Config, names: Sequence[str]) -> list[ChannelConfig]:
    """The channels a run covers: those named (each must exist), else all configured."""
    for name in names:
        if name not in config.channels:
            known = ", ".join(sorted(config.channels)) or "none"
            raise ConfigError(f"--channel {name}: no such channel in {config.path} ({known})")
    return [cfg for name, cfg in config.channels.items() if not names or name in names]


async def run_sync(
    config: Config,
    ledger: Ledger,
    options: SyncOptions,
    *,
    now: Callable[[], datetime] = utcnow,
    opener: ChannelOpener = open_channel,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """One whole sync run; returns its report (the caller turns it into an exit code)."""
    say = progress or (lambda message: None)
    report = RunReport(started_at=now(), dry_run=options.dry_run)
    runs: list[_ChannelRun] = []
    for cfg in select_channels(config, options.channels):
        channel_report = ChannelReport()
        report.channels[cfg.name] = channel_report
        if not cfg.enabled:
            channel_report.status = "skipped"
            channel_report.errors.append("disabled in the config (enabled = false)")
            continue
        budget = Budget(cfg.name, cfg.timeout)
        # The ledger is the token store: tokens a channel rotates are committed at once.
        context = ChannelContext(budget=budget, tokens=ledger, now=now)
        runs.append(_ChannelRun(cfg, opener(cfg, context), channel_report, budget))
    try:
        for run in runs:
            _plan_window(run, ledger, config, options, report.started_at)
        say(f"fetching {len(runs)} channel(s)")
        clock = time.perf_counter()
        await asyncio.gather(*(_fetch(run, now) for run in runs))
        report.timings["fetch"] = time.perf_counter() - clock

        clock, cpu = time.perf_counter(), time.process_time()
        with ledger.atomic(rollback=options.dry_run):
            report.run_id = ledger.start_run(started_at=report.started_at, dry_run=options.dry_run)
            catalog = _catalog(ledger, config)
            for run in runs:
                # A first sync that fails still fixes the start time: the stock was counted
                # before it, and orders from then on must count once the channel answers.
                assert run.start_time is not None
                ledger.ensure_channel(run.config.name, run.config.type, start_time=run.start_time)
                if run.ok:
                    _reconcile(run, run.orders, ledger, config, catalog, report.run_id, now())
                    run.planned = ledger.save_listings_read(
                        run.config.name, run.listings, now=now()
                    )
            for run in runs:
                if run.ok:
                    run.plan = _plan(run, ledger, catalog, config, options)
            _collect_problems(report, ledger, config)
        report.timings["reconcile"] = time.perf_counter() - clock
        report.timings["reconcile_cpu"] = time.process_time() - cpu
        if options.dry_run:
            report.run_id = None
            report.finished_at = now()
            return report

        say("pushing quantities")
        clock = time.perf_counter()
        await asyncio.gather(
            *(
                _push(run, run.plan.changes, ledger, config, report.run_id, now)
                for run in runs
                if run.ok and run.plan and not run.plan.refused
            )
        )
        if any(run.late_movements for run in runs):
            # Sales that raced a write moved stock after the other channels were planned:
            # one more pass brings every listing to the final numbers in this same run.
            say("pushing the quantities that changed during the run")
            settle = _settle_plans(runs, ledger, config, options)
            await asyncio.gather(
                *(
                    _push(run, changes, ledger, config, report.run_id, now)
                    for run, changes in settle
                    if changes
                )
            )
        report.timings["push"] = time.perf_counter() - clock
        with ledger.atomic():
            report.oversold, report.unmapped = [], []
            _collect_problems(report, ledger, config)
            report.finished_at = now()
            for run in runs:
                ledger.set_channel_outcome(
                    run.config.name,
                    run_id=report.run_id,
                    status=run.report.status,
                    error="; ".join(run.report.errors) or None,
                )
            ledger.finish_run(
                report.run_id,
                finished_at=report.finished_at,
                exit_code=int(report.exit_code),
                report=json.dumps(REDACTOR.scrub_any(report.to_dict())),
            )
        return report
    finally:
        await asyncio.gather(*(run.channel.aclose() for run in runs), return_exceptions=True)


def _plan_window(
    run: _ChannelRun, ledger: Ledger, config: Config, options: SyncOptions, started: datetime
) -> None:
    """Where this channel's fetch window starts, and the start time it is held to."""
    state = ledger.channel_state(run.config.name)
    if state is not None and state.start_time is not None:
        run.start_time = state.start_time
    else:
        # First sync: orders from now on (or from --since) count; older ones are already
        # inside the counted stock.
        run.start_time = options.since or started
    if state is not None and state.cursor is not None:
        run.since = max(run.start_time, state.cursor - config.overlap)
    else:
        run.since = run.start_time
    if options.since is not None:
        # --since re-reads from WHEN: it widens the window, never narrows it, or orders
        # updated between the cursor and WHEN would be skipped for good once the cursor moves.
        run.since = min(run.since, options.since)


async def _fetch(run: _ChannelRun, now: Callable[[], datetime]) -> None:
    try:
        async with asyncio.timeout(max(0.0, run.budget.remaining())):
            # Listings before orders: see the module docstring, step 1.
            run.listings = await run.channel.list_listings()
            run.shown = {listing.id: listing.quantity for listing in run.listings}
            run.until = now()
            assert run.since is not None
            run.orders = [
                order
                async for order in run.channel.fetch_orders(
                    updated_since=run.since, updated_until=run.until
                )
            ]
        run.report.orders_fetched = len({order.id for order in run.orders})
        log.info(
            "%s: %d listings; %d orders updated in [%s, %s)",
            run.config.name,
            len(run.listings),
            run.report.orders_fetched,
            run.since,
            run.until,
        )
    except ChannelError as exc:
        run.fail(exc)
    except TimeoutError:
        run.fail(_budget_error(run))
    except Exception as exc:  # noqa: BLE001 - see _adapter_bug
        run.fail(_adapter_bug(run, exc))


def _adapter_bug(run: _ChannelRun, exc: Exception) -> ChannelError:
    """An adapter raised something other than a ChannelError: a bug, most likely a payload
    shape it did not expect. Fail that channel, not the whole run, so the other channels
    are still kept right; log the traceback (scrubbed) so the bug can be reported."""
    log.error(
        "%s: unexpected error in the %s adapter:\n%s",
        run.config.name,
        run.config.type,
        REDACTOR.scrub(traceback.format_exc()),
    )
    return ChannelError(
        run.config.name,
        f"unexpected error in the {run.config.type} adapter ({type(exc).__name__}: "
        f"{REDACTOR.scrub(str(exc))}); run with -v for details and please report it",
    )


def _budget_error(run: _ChannelRun) -> ChannelError:
    return run.budget.exhausted("out of time")


def _catalog(ledger: Ledger, config: Config) -> Catalog:
    return Catalog(skus=ledger.known_skus(), mapping=config.mapping, bundles=config.bundles)


def _reconcile(
    run: _ChannelRun,
    orders: Sequence[Order],
    ledger: Ledger,
    config: Config,
    catalog: Catalog,
    run_id: int,
    moment: datetime,
) -> int:
    """Apply fetched orders (and stored ones still waiting for a mapping) to the ledger;
    return how many movements that wrote."""
    name = run.config.name
    assert run.start_time is not None
    # Stored first: a fetched version of the same order wins (it is at least as new).
    candidates = ledger.orders_with_unmapped_lines(name) + list(orders)
    # Sorted: lookups and writes then walk the ledger's B-trees in key order, page by page.
    ids = sorted({order.id for order in candidates})
    ledger.ensure_channel(name, run.config.type, start_time=run.start_time)
    known_updated_at = ledger.known_updated_at(name, ids)
    outcome = reconcile_orders(
        name,
        candidates,
        recorded=ledger.recorded_effects(name, ids),
        known_updated_at=known_updated_at,
        catalog=catalog,
        start_time=run.start_time,
        restock_returns=config.restock_returns,
    )
    ledger.write_line_movements(name, outcome.movements, run_id=run_id, now=moment)
    ledger.save_orders(
        name,
        sorted(outcome.applied, key=lambda order: order.id),
        unmapped={(line.order_id, line.line_id) for line in outcome.unmapped},
        run_id=run_id,
        known=known_updated_at.keys(),
    )
    run.report.movements += len(outcome.movements)
    run.report.orders_applied.extend(
        dict.fromkeys(movement.order_id for movement in outcome.movements)
    )
    if orders and run.until is not None:
        # Cursor = the newest update seen, never past the moment the window closed. The next
        # window starts `overlap` before it: channels accept only >= filters and let late
        # writes land behind the newest one; re-reading them is free, as applying is
        # idempotent.
        latest = max(order.updated_at for order in orders)
        ledger.set_cursor(name, min(latest, run.until))
    return len(outcome.movements)


def _plan(
    run: _ChannelRun,
    ledger: Ledger,
    catalog: Catalog,
    config: Config,
    options: SyncOptions,
) -> PushPlan:
    """Plan one channel's push, computing targets only where something could have changed.

    A listing that shows the target planned for it last time, whose SKUs have not moved since
    (no movement with a higher id) and whose channel's settings, mapping and bundles are the
    same (the plan key), still has that target: it is settled without arithmetic. On a shop
    of 100,000 listings a run then costs what its orders touched, not what the shop holds.
    """
    name = run.config.name
    key = _plan_key(run.config, config, catalog)
    old_key, planned_through = ledger.plan_marks(name)
    through = ledger.last_movement_id()
    candidates: list[Listing] = run.listings
    settled = 0
    stored: dict[str, int | None] = {}
    if old_key == key and planned_through is not None:
        moved = ledger.skus_moved_since(planned_through)
        stored = run.planned
        mapping = config.mapping.get(name, {})
        candidates = []
        for listing in run.listings:
            target = stored.get(listing.id)
            if target is not None and target == listing.quantity:
                sku = mapping.get(listing.channel_sku, listing.channel_sku)
                components = config.bundles.get(sku)
                if sku not in moved if components is None else moved.isdisjoint(components):
                    settled += 1
                    continue
            candidates.append(listing)
        needed: set[str] = set()
        for listing in candidates:
            resolved = catalog.resolve(name, listing.channel_sku)
            if resolved:
                needed.update(resolved)
        available = ledger.available_for(needed)
    else:
        available = ledger.available()
    plan = plan_pushes(
        name,
        candidates,
        catalog=catalog,
        available=available,
        share=run.config.share,
        buffer=run.config.buffer,
        max_change=config.max_change,
        force=options.force,
        settled=settled,
    )
    targets: dict[str, int | None] = {listing.id: listing.quantity for listing in candidates}
    targets.update((change.listing_id, change.target) for change in plan.changes)
    targets.update((listing.id, None) for listing in plan.unmapped)
    ledger.save_targets(
        name,
        [
            (listing_id, target)
            for listing_id, target in targets.items()
            if listing_id not in stored or stored[listing_id] != target
        ],
    )
    ledger.set_plan_marks(name, key, through)

    run.report.listings_unchanged = plan.unchanged
    run.report.listings_unmapped = len(plan.unmapped)
    outcome = "refused" if plan.refused else "planned"
    run.report.changes = [
        ListingChange(c.listing_id, c.channel_sku, c.expected, c.target, outcome)
        for c in plan.changes
    ]
    if plan.refused:
        run.report.errors.append(plan.refused)
    return plan


def _plan_key(channel: ChannelConfig, config: Config, catalog: Catalog) -> str:
    """Everything a listing's target depends on besides stock, as one string."""
    return json.dumps(
        [
            __version__,  # a new omnisync may compute targets differently
            str(channel.share),
            channel.buffer,
            sorted(config.mapping.get(channel.name, {}).items()),
            sorted((bundle, sorted(parts.items())) for bundle, parts in config.bundles.items()),
            len(catalog.skus),  # a new SKU can map a listing that mapped nowhere
        ]
    )


async def _push(
    run: _ChannelRun,
    changes: Sequence[QuantityChange],
    ledger: Ledger,
    config: Config,
    run_id: int | None,
    now: Callable[[], datetime],
) -> None:
    assert run_id is not None
    if not changes:
        return
    by_listing = {entry.listing_id: entry for entry in run.report.changes}
    for change in changes:
        entry = by_listing.get(change.listing_id)
        if entry is None:
            entry = ListingChange(change.listing_id, change.channel_sku, change.expected, 0)
            run.report.changes.append(entry)
            by_listing[change.listing_id] = entry
        entry.after, entry.outcome, entry.detail = change.target, "planned", ""
    pending = list(changes)
    try:
        async with asyncio.timeout(max(0.0, run.budget.remaining())):
            for round_number in range(CONFLICT_ROUNDS + 1):
                results = await run.channel.push_quantities(pending, run_id=run_id)
                with ledger.atomic():
                    ledger.save_pushed(run.config.name, pending, results, now=now())
                conflicts = _record_results(run, pending, results, by_listing)
                if not conflicts or round_number == CONFLICT_ROUNDS:
                    break
                pending = await _replan_conflicts(run, conflicts, ledger, config, run_id, now)
                if not pending:
                    break
    except ChannelError as exc:
        run.fail(exc)
    except TimeoutError:
        run.fail(_budget_error(run))
    except Exception as exc:  # noqa: BLE001 - see _adapter_bug
        run.fail(_adapter_bug(run, exc))
    outcomes = [entry.outcome for entry in run.report.changes]
    run.report.listings_pushed = outcomes.count("written")
    run.report.listings_conflict = outcomes.count("conflict")
    run.report.listings_failed = outcomes.count("failed")
    log.info(
        "%s: %d listings written, %d conflicts met, %d failed",
        run.config.name,
        run.report.listings_pushed,
        run.report.conflicts_seen,
        run.report.listings_failed,
    )


def _settle_plans(
    runs: Sequence[_ChannelRun], ledger: Ledger, config: Config, options: SyncOptions
) -> list[tuple[_ChannelRun, list[QuantityChange]]]:
    """Re-plan every channel still in good standing against what its listings show now."""
    catalog = _catalog(ledger, config)
    available = ledger.available()
    settle = []
    for run in runs:
        if not run.ok or run.plan is None or run.plan.refused:
            continue
        listings = [
            Listing(item.id, item.channel_sku, run.shown.get(item.id, item.quantity), item.name)
            for item in run.listings
        ]
        plan = plan_pushes(
            run.config.name,
            listings,
            catalog=catalog,
            available=available,
            share=run.config.share,
            buffer=run.config.buffer,
            max_change=config.max_change,
            force=options.force,
        )
        if not plan.refused:
            settle.append((run, plan.changes))
    return settle


def _record_results(
    run: _ChannelRun,
    pending: Sequence[QuantityChange],
    results: Sequence[PushResult],
    by_listing: dict[str, ListingChange],
) -> list[PushResult]:
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
            run.shown[result.listing_id] = change.after
        elif result.outcome == "conflict" and result.current is not None:
            run.shown[result.listing_id] = result.current
        if result.outcome == "conflict":
            run.report.conflicts_seen += 1
            conflicts.append(result)
        elif result.outcome == "failed":
            run.report.errors.append(f"listing {result.listing_id}: {change.detail}")
    for asked in pending:
        if asked.listing_id not in answered:
            # An adapter that says nothing about a listing has not written it.
            by_listing[asked.listing_id].outcome = "failed"
            by_listing[asked.listing_id].detail = "the channel gave no result for it"
            run.report.errors.append(f"listing {asked.listing_id}: no result from the channel")
    return conflicts


async def _replan_conflicts(
    run: _ChannelRun,
    conflicts: Sequence[PushResult],
    ledger: Ledger,
    config: Config,
    run_id: int,
    now: Callable[[], datetime],
) -> list[QuantityChange]:
    """Something sold (or was edited) on the channel since it was read: fetch the orders
    behind it, reconcile them, and re-target the conflicted listings against what the
    channel shows now."""
    assert run.since is not None
    until = now()
    orders = [
        order
        async for order in run.channel.fetch_orders(updated_since=run.since, updated_until=until)
    ]
    current = {r.listing_id: r.current for r in conflicts}
    relisted = any(quantity is None for quantity in current.values())
    if relisted:
        run.listings = await run.channel.list_listings()
        fresh = {listing.id: listing.quantity for listing in run.listings}
        run.shown.update(fresh)
        current = {key: fresh.get(key) for key in current}
    run.until = until
    with ledger.atomic():
        catalog = _catalog(ledger, config)
        run.late_movements += _reconcile(run, orders, ledger, config, catalog, run_id, now())
        if relisted:
            ledger.save_listings_read(run.config.name, run.listings, now=now())
        available = ledger.available()
    run.report.orders_fetched = len({order.id for order in run.orders + orders})
    run.orders = run.orders + orders
    listing_skus = {listing.id: listing.channel_sku for listing in run.listings}
    entries = {entry.listing_id: entry for entry in run.report.changes}
    moved = [
        Listing(listing_id, listing_skus.get(listing_id, entries[listing_id].channel_sku), quantity)
        for listing_id, quantity in current.items()
        if quantity is not None and listing_id in entries
    ]
    # These writes were already allowed by the max_change brake; only their numbers change.
    plan = plan_pushes(
        run.config.name,
        moved,
        catalog=catalog,
        available=available,
        share=run.config.share,
        buffer=run.config.buffer,
        max_change=config.max_change,
        force=True,
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


def _collect_problems(report: RunReport, ledger: Ledger, config: Config) -> None:
    for sku, units in ledger.oversold().items():
        report.oversold.append(
            Oversold(sku=sku, available=units, orders=last_takers(ledger.order_takes(sku), -units))
        )
    grouped: dict[tuple[str, str], list[str]] = {}
    for channel, channel_sku, order_id, status, quantity in ledger.unmapped_lines():
        effect = desired_effect(Status(status), quantity, restock_returns=config.restock_returns)
        if effect:  # a cancelled line that maps nowhere changes nothing either way
            grouped.setdefault((channel, channel_sku), []).append(order_id)
    report.unmapped = [
        Unmapped(channel, channel_sku, sorted(set(orders)))
        for (channel, channel_sku), orders in sorted(grouped.items())
    ]


def last_pushed_by_sku(ledger: Ledger, config: Config | None) -> dict[str, dict[str, int]]:
    """Per SKU, the quantity each channel was last pushed (through `[mapping]`)."""
    mapping = config.mapping if config else {}
    pushed: dict[str, dict[str, int]] = {}
    for channel, channel_sku, quantity in ledger.last_pushed():
        sku = mapping.get(channel, {}).get(channel_sku, channel_sku)
        pushed.setdefault(sku, {})[channel] = quantity
    return pushed
