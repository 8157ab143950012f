"""One sync run, phase by phase: open, fetch, reconcile and plan, push, record."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial

from omnisync.budget import Budget
from omnisync.catalog import Catalog, catalog_of
from omnisync.channels import Channel, ChannelContext, open_channel
from omnisync.channels.base import ChannelConfig
from omnisync.config import Config
from omnisync.errors import UsageError
from omnisync.gcpause import SetAside, young_collections_only
from omnisync.ledger import Ledger
from omnisync.models import Status
from omnisync.planning import PushPlan, TargetRule, plan_keys
from omnisync.reconcile import desired_effect, last_takers
from omnisync.redact import REDACTOR
from omnisync.report import ChannelReport, Oversold, RunReport, Unmapped
from omnisync.skus import normal_sku
from omnisync.sync.apply import apply_orders, plan_channel
from omnisync.sync.channel import (
    ChannelRun,
    Fetched,
    Window,
    fetch,
    refuse_future,
    shown,
    window_for,
)
from omnisync.sync.push import Pusher
from omnisync.timeparse import utcnow

ChannelOpener = Callable[[ChannelConfig, ChannelContext], Channel]
ProgressCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SyncOptions:
    dry_run: bool = False
    channels: Sequence[str] = ()
    since: datetime | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class _Session:
    """What every phase of one run reads: its inputs, the ledger, the clock, and the report."""

    config: Config
    ledger: Ledger
    options: SyncOptions
    now: Callable[[], datetime]
    report: RunReport


def select_channels(config: Config, names: Sequence[str]) -> list[ChannelConfig]:
    """The channels a run covers: those named (each must exist), else all configured."""
    for name in names:
        if name not in config.channels:
            known = ", ".join(sorted(config.channels)) or "none"
            raise UsageError(f"--channel {name}: no such channel in {config.path} ({known})")
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
    with young_collections_only():
        return await _run(config, ledger, options, now=now, opener=opener, progress=progress)


async def _run(
    config: Config,
    ledger: Ledger,
    options: SyncOptions,
    *,
    now: Callable[[], datetime],
    opener: ChannelOpener,
    progress: ProgressCallback | None,
) -> RunReport:
    say = progress or (lambda message: None)
    report = RunReport(started_at=now(), dry_run=options.dry_run)
    refuse_future(options.since, report.started_at)
    session = _Session(config, ledger, options, now, report)
    runs = _open(session, opener)
    aside = SetAside()
    try:
        windows = {
            run.name: window_for(
                ledger,
                run.name,
                overlap=config.overlap,
                since=options.since,
                started=report.started_at,
            )
            for run in runs
        }
        _begin(session, runs, windows)
        say(f"fetching {len(runs)} channel(s)")
        with _timed(report, "fetch"):
            answers = await asyncio.gather(*(fetch(run, windows[run.name], now) for run in runs))
        fetched = {run.name: got for run, got in zip(runs, answers, strict=True) if got}
        with _timed(report, "reconcile", cpu=True), aside:
            plans = _reconcile_and_plan(session, runs, windows, fetched)
        if options.dry_run:
            report.run_id = None
            report.finished_at = now()
            return report
        assert report.run_id is not None
        seen = {name: got.let_go_of_orders() for name, got in fetched.items()}
        say("pushing quantities")
        with _timed(report, "push"):
            await _push(session, runs, windows, fetched, seen, plans, report.run_id, say)
        _record(session, runs)
        return report
    finally:
        aside.release()
        await asyncio.gather(*(run.channel.aclose() for run in runs), return_exceptions=True)


def _open(session: _Session, opener: ChannelOpener) -> list[ChannelRun]:
    """Open every enabled channel the run covers; a disabled one is reported as skipped."""
    report, ledger, now = session.report, session.ledger, session.now
    runs = []
    for cfg in select_channels(session.config, session.options.channels):
        channel_report = ChannelReport()
        report.channels[cfg.name] = channel_report
        if not cfg.enabled:
            channel_report.status = "skipped"
            channel_report.errors.append("disabled in the config (enabled = false)")
            continue
        budget = Budget(cfg.name, cfg.timeout)
        # The ledger is the token store: tokens a channel rotates are committed at once.
        # A channel that lists what it is told to sell offers the SKUs at its `sell_from`.
        skus = partial(ledger.skus_at, cfg.sell_from)
        context = ChannelContext(budget=budget, tokens=ledger, now=now, skus=skus)
        runs.append(ChannelRun(cfg, opener(cfg, context), channel_report, budget))
    return runs


def _begin(session: _Session, runs: Sequence[ChannelRun], windows: dict[str, Window]) -> None:
    """Record the run as started, and each new channel's start time, before any fetch.

    Committed at once: a run killed before its main transaction then shows as interrupted in
    `runs`, and a first `sync --since` keeps its start time for the next run instead of
    starting the channel "now" and ignoring the orders between. A dry run writes nothing.
    """
    report, ledger = session.report, session.ledger
    for run in runs:
        start_time = windows[run.name].start_time
        if start_time > report.started_at:
            # Stored by an older omnisync, which let a future --since through: every sale
            # until then is ignored. Said on every run until corrected.
            run.report.errors.append(
                f"start time {shown(start_time)} is in the future: orders until then are "
                f"ignored. Correct it with `omnisync channels reset {run.name} --since WHEN`"
            )
    if session.options.dry_run:
        return
    with ledger.atomic():
        report.run_id = ledger.start_run(started_at=report.started_at, dry_run=False)
        for run in runs:
            ledger.ensure_channel(
                run.name, run.config.type, start_time=windows[run.name].start_time
            )


def _reconcile_and_plan(
    session: _Session,
    runs: Sequence[ChannelRun],
    windows: dict[str, Window],
    fetched: dict[str, Fetched],
) -> dict[str, PushPlan]:
    """In one transaction (rolled back on a dry run): apply every channel's orders, then plan
    every channel's push against the stock they left."""
    config, ledger, options = session.config, session.ledger, session.options
    report = session.report
    plans: dict[str, PushPlan] = {}
    with ledger.atomic(rollback=options.dry_run):
        if report.run_id is None:  # a dry run: recorded inside the transaction it undoes
            report.run_id = ledger.start_run(started_at=report.started_at, dry_run=True)
        catalog = catalog_of(ledger, config)
        planned: dict[str, dict[str, int | None]] = {}
        # Every channel's movements go in as one batch in SKU order, before anything reads
        # stock: the by-SKU index is then walked once, not once per channel.
        with ledger.movements_together():
            for run in runs:
                _apply_channel(session, run, windows[run.name], fetched, catalog, planned)
        # Every channel's orders are in before any is planned: a sale on one moves the others.
        # Channels planned by the same earlier run ask the same question: read it once.
        moved_since = cache(ledger.skus_moved_since)
        # Planning writes no movement: the stock over the same locations is read once too.
        available = cache(ledger.available)
        rules = [TargetRule.for_channel(run.config, config, catalog) for run in runs if run.ok]
        for rule, key in zip(rules, plan_keys(rules), strict=True):
            plans[rule.channel] = plan = plan_channel(
                fetched[rule.channel].listings,
                rule=rule,
                key=key,
                planned=planned[rule.channel],
                ledger=ledger,
                max_change=config.max_change,
                force=options.force,
                report=report.channels[rule.channel],
                moved_since=moved_since,
                available_of=available,
            )
            _unmapped_listings(report, rule.channel, plan)
        _collect_problems(report, ledger, config)
    return plans


def _apply_channel(
    session: _Session,
    run: ChannelRun,
    window: Window,
    fetched: dict[str, Fetched],
    catalog: Catalog,
    planned: dict[str, dict[str, int | None]],
) -> None:
    """Apply one channel's fetched orders and record the listings it read."""
    config, ledger, now = session.config, session.ledger, session.now
    run_id = session.report.run_id
    assert run_id is not None
    # A first sync that fails still fixes the start time: the stock was counted before it,
    # and orders from then on must count once the channel answers.
    ledger.ensure_channel(run.name, run.config.type, start_time=window.start_time)
    got = fetched.get(run.name)
    if got is None:
        return
    apply_orders(
        run.name,
        got.orders,
        ledger=ledger,
        catalog=catalog,
        start_time=window.start_time,
        restock_returns=config.restock_returns,
        until=got.until,
        run_id=run_id,
        now=now(),
        report=run.report,
        location=run.config.location,
        places=run.config.places,
        unreadable=got.unreadable,
    )
    planned[run.name] = ledger.save_listings_read(run.name, got.listings, now=now())


async def _push(
    session: _Session,
    runs: Sequence[ChannelRun],
    windows: dict[str, Window],
    fetched: dict[str, Fetched],
    seen: dict[str, set[str]],
    plans: dict[str, PushPlan],
    run_id: int,
    say: ProgressCallback,
) -> None:
    """Push every planned channel at once; then, if sales raced the writes, settle."""
    config, ledger, now = session.config, session.ledger, session.now
    pushers = [
        Pusher.start(
            run,
            windows[run.name],
            fetched[run.name],
            orders_seen=seen[run.name],
            ledger=ledger,
            config=config,
            run_id=run_id,
            now=now,
        )
        for run in runs
        if run.name in plans and not plans[run.name].refused
    ]
    await asyncio.gather(*(p.push(plans[p.run.name].changes) for p in pushers if p.run.ok))
    if any(pusher.late_movements for pusher in pushers):
        # Sales that raced a write moved stock after the other channels were planned:
        # one more pass brings every listing to the final numbers in this same run.
        say("pushing the quantities that changed during the run")
        catalog = catalog_of(ledger, config)
        # Every channel is settled before any writes: channels offering the same locations
        # read their stock once.
        available = cache(ledger.available)
        await asyncio.gather(
            *(
                pusher.push(
                    pusher.settle(catalog=catalog, available=available, force=session.options.force)
                )
                for pusher in pushers
                if pusher.run.ok
            )
        )


def _record(session: _Session, runs: Sequence[ChannelRun]) -> None:
    """The run's last transaction: the problems as they stand now, each channel's outcome, and
    the report itself."""
    report, ledger = session.report, session.ledger
    assert report.run_id is not None
    with ledger.atomic():
        report.oversold, report.unmapped = [], []
        _collect_problems(report, ledger, session.config)
        report.finished_at = session.now()
        for run in runs:
            ledger.set_channel_outcome(
                run.name,
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


def _unmapped_listings(report: RunReport, channel: str, plan: PushPlan) -> None:
    """Listings that map to no SKU need a person (exit 1, on stderr every run); listings with
    no SKU at all are "not managed": counted, never written, never a reason for exit 1."""
    channel_report = report.channels[channel]
    channel_report.listings_not_managed = 0
    for listing in plan.unmapped:
        channel_sku = normal_sku(listing.channel_sku)
        if not channel_sku:
            channel_report.listings_not_managed += 1
        else:
            report.unmapped_listings.setdefault((channel, channel_sku), []).append(listing.id)
    channel_report.listings_unmapped = len(plan.unmapped) - channel_report.listings_not_managed


def _collect_problems(report: RunReport, ledger: Ledger, config: Config) -> None:
    """Oversold SKUs with the orders that took their last units, unmapped lines and listings."""
    for sku, units in ledger.oversold().items():
        report.oversold.append(
            Oversold(sku=sku, available=units, orders=last_takers(ledger.order_takes(sku), -units))
        )
    grouped: dict[tuple[str, str], list[str]] = {}
    for channel, channel_sku, order_id, status, quantity in ledger.unmapped_lines():
        effect = desired_effect(Status(status), quantity, restock_returns=config.restock_returns)
        if effect:  # a cancelled line that maps nowhere changes nothing either way
            grouped.setdefault((channel, channel_sku), []).append(order_id)
    for key in report.unmapped_listings:
        grouped.setdefault(key, [])
    report.unmapped = [
        Unmapped(
            channel,
            channel_sku,
            sorted(set(orders)),
            sorted(report.unmapped_listings.get((channel, channel_sku), [])),
        )
        for (channel, channel_sku), orders in sorted(grouped.items())
    ]


@contextmanager
def _timed(report: RunReport, phase: str, *, cpu: bool = False) -> Iterator[None]:
    """Seconds the phase took, in `report.timings` (and its CPU seconds, `PHASE_cpu`)."""
    clock, cpu_clock = time.perf_counter(), time.process_time()
    yield
    report.timings[phase] = time.perf_counter() - clock
    if cpu:
        report.timings[f"{phase}_cpu"] = time.process_time() - cpu_clock
