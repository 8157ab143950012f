"""One channel in a run: its adapter, report and time budget, its order window, and its fetch."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from omnisync.budget import Budget
from omnisync.channels import Channel
from omnisync.channels.base import (
    ChannelConfig,
    ReadProblem,
    ReadsOrdersWhileListing,
    ReportsReadProblems,
)
from omnisync.errors import ChannelError, LedgerError, UsageError
from omnisync.ledger import Ledger
from omnisync.models import Listing, Order
from omnisync.redact import REDACTOR
from omnisync.report import ChannelReport

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ChannelRun:
    """A channel taking part in a run: what it is, and how it is doing (its report)."""

    config: ChannelConfig
    channel: Channel
    report: ChannelReport
    budget: Budget  # the channel's one time budget, shared with its HTTP layer

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def ok(self) -> bool:
        return self.report.status == "ok"

    def fail(self, error: Exception) -> None:
        self.report.status = "failed"
        # The report files errors under the channel's name: "b: b: …" helps nobody.
        text = error.message if isinstance(error, ChannelError) else str(error)
        self.report.errors.append(REDACTOR.scrub(text))

    @asynccontextmanager
    async def guarded(self) -> AsyncIterator[None]:
        """Talk to the channel within its time budget; a failure fails this channel only.

        An adapter raising anything but a ChannelError is a bug, most likely a payload shape
        it did not expect: the channel fails, the others are still kept right, and the
        traceback is logged (scrubbed) so the bug can be reported.
        """
        try:
            async with asyncio.timeout(max(0.0, self.budget.remaining())) as timeout:
                loop = asyncio.get_running_loop()
                # An adapter may extend the budget for one order that needs more on its own.
                self.budget.on_extend = lambda: timeout.reschedule(
                    loop.time() + max(0.0, self.budget.remaining())
                )
                yield
        except ChannelError as exc:
            self.fail(exc)
        except (LedgerError, sqlite3.Error):
            raise  # the ledger, not the channel: the whole run stops (exit 3), nothing half-done
        except TimeoutError:
            self.fail(self.budget.exhausted("out of time"))
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.error(
                "%s: unexpected error in the %s adapter:\n%s",
                self.name,
                self.config.type,
                REDACTOR.scrub(traceback.format_exc()),
            )
            self.fail(
                ChannelError(
                    self.name,
                    f"unexpected error in the {self.config.type} adapter "
                    f"({type(exc).__name__}: {REDACTOR.scrub(str(exc))}); run with -v for "
                    f"details and please report it",
                )
            )


@dataclass(frozen=True, slots=True)
class Window:
    """Where a channel's orders are read from, and the start time it is held to."""

    start_time: datetime  # orders created before it are ignored (already in the counted stock)
    since: datetime  # the fetch window opens here


def window_for(
    ledger: Ledger,
    channel: str,
    *,
    overlap: timedelta,
    since: datetime | None,
    started: datetime,
) -> Window:
    """The window of a channel's fetch, from its stored start time and cursor."""
    state = ledger.channel_state(channel)
    if state is not None and state.start_time is not None:
        start_time = state.start_time
    else:
        # First sync: orders from now on (or from --since) count; older ones are already
        # inside the counted stock. Channels stamp orders in whole seconds: an order placed
        # in the same second as this run began, after it, would otherwise read as earlier
        # than a start time with microseconds and be ignored for good.
        start_time = since or started.replace(microsecond=0)
    if state is not None and state.cursor is not None:
        opens = max(start_time, state.cursor - overlap)
    else:
        opens = start_time
    if since is not None:
        # --since re-reads from WHEN: it widens the window, never narrows it, or orders
        # updated between the cursor and WHEN would be skipped for good once the cursor moves.
        opens = min(opens, since)
    return Window(start_time=start_time, since=opens)


def shown(moment: datetime) -> str:
    """A time as a person reads it in a message: to the second, UTC."""
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def refuse_future(since: datetime | None, now: datetime) -> None:
    """A start time in the future is refused: every sale until then would be ignored for good."""
    if since is not None and since > now:
        raise UsageError(
            f"--since {shown(since)} is in the future (now is {shown(now)}): orders before it "
            f"would be ignored for good. Give a time in the past"
        )


def reset_start_time(
    ledger: Ledger, config: ChannelConfig, *, since: datetime, now: datetime
) -> datetime | None:
    """Correct a channel's start time to `since` and re-read its orders from there; return the
    start time it had (None before its first sync). Nothing recorded is rewritten.

    A start later than an order already applied is refused: that order's later changes would
    then be ignored, leaving it half counted.
    """
    refuse_future(since, now)
    with ledger.atomic():
        state = ledger.channel_state(config.name)
        first = ledger.first_order_created(config.name)
        if first is not None and since > first:
            raise UsageError(
                f"--since {shown(since)}: {config.name} has orders applied from "
                f"{shown(first)} on; a later start time would stop following them. "
                f"Give {shown(first)} or earlier"
            )
        ledger.reset_start_time(config.name, config.type, start_time=since)
    return state.start_time if state else None


# How far ahead of our clock a channel's order may be dated before it is worth a word: more
# than clocks drift, less than any time-zone mistake.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one channel showed at the start of the run."""

    listings: list[Listing]
    orders: list[Order]
    until: datetime  # the fetch window closed here (exclusive)
    # Orders the channel sent that could not be read: kept as unreadable by the apply step.
    unreadable: list[ReadProblem] = field(default_factory=list)


async def fetch(run: ChannelRun, window: Window, now: Callable[[], datetime]) -> Fetched | None:
    """Read a channel's listings and its orders updated in `[since, now)`; None if it failed.

    Listings are read before the window closes, so any sale a listing's quantity already
    reflects is inside the window too: one after the other, or side by side where the channel
    can keep its order search open until the listings are read (ReadsOrdersWhileListing).
    """
    fetched = None
    async with run.guarded():
        if isinstance(run.channel, ReadsOrdersWhileListing):
            listings, until, orders = await _read_alongside(run.channel, window, now)
        else:
            listings = await run.channel.list_listings()
            until = now()
            orders = [
                order
                async for order in run.channel.fetch_orders(
                    updated_since=window.since, updated_until=until
                )
            ]
        unreadable: list[ReadProblem] = []
        if isinstance(run.channel, ReportsReadProblems):
            # What it could not read: the rest applies, and the run ends with exit 1. Orders
            # are kept in the ledger (and reported from there on every run until readable).
            for problem in run.channel.read_problems():
                if problem.order_id is not None:
                    unreadable.append(problem)
                else:
                    run.report.errors.append(REDACTOR.scrub(str(problem)))
        fetched = Fetched(listings, orders, until, unreadable)
        _report_skew(run, orders, until)
        run.report.orders_fetched = len({order.id for order in orders})
        log.info(
            "%s: %d listings; %d orders updated in [%s, %s)",
            run.name,
            len(listings),
            run.report.orders_fetched,
            window.since,
            until,
        )
    return fetched


async def _read_alongside(
    channel: Channel, window: Window, now: Callable[[], datetime]
) -> tuple[list[Listing], datetime, list[Order]]:
    """Listings and orders read at once: the two are independent chains of pages, and the
    order search ends after the listings were read (the protocol's promise), so `until`,
    taken when they were, still closes a window holding every sale they reflect."""
    assert isinstance(channel, ReadsOrdersWhileListing)
    listed = asyncio.Event()
    closed: list[datetime] = []

    async def read_listings() -> list[Listing]:
        listings = await channel.list_listings()
        closed.append(now())
        listed.set()
        return listings

    async def read_orders() -> list[Order]:
        search = channel.fetch_orders_until_listed(updated_since=window.since, listed=listed)
        return [order async for order in search]

    # The order search starts first: it is the longer chain, and says so before the listings'
    # first request (a channel may give it the rate limit's first turn).
    order_task = asyncio.create_task(read_orders())
    listing_task = asyncio.create_task(read_listings())
    try:
        # The first failure fails the channel at once; the other read is not waited for.
        done, _ = await asyncio.wait(
            (listing_task, order_task), return_when=asyncio.FIRST_EXCEPTION
        )
        for task in done:
            if (error := task.exception()) is not None:
                raise error
        listings, orders = listing_task.result(), order_task.result()
    finally:
        for task in (listing_task, order_task):
            task.cancel()
        await asyncio.gather(listing_task, order_task, return_exceptions=True)
    # An order updated during the walk comes again, later: its newest version is the one.
    newest: dict[str, Order] = {}
    for order in orders:
        if order.id not in newest or order.updated_at >= newest[order.id].updated_at:
            newest[order.id] = order
    return listings, closed[0], list(newest.values())


def _report_skew(run: ChannelRun, orders: list[Order], until: datetime) -> None:
    """A warning when the channel dates orders after our now: they are applied all the same
    (skipping them would lose their sales), but one of the two clocks is wrong."""
    ahead = [order for order in orders if order.updated_at > until + CLOCK_SKEW]
    if not ahead:
        return
    latest = max(ahead, key=lambda order: order.updated_at)
    run.report.warnings.append(
        f"{len(ahead)} order(s) dated in the future (latest {latest.id} at "
        f"{shown(latest.updated_at)}, now is {shown(until)}): applied; check the clock of "
        f"this machine and the channel's time zone settings"
    )
