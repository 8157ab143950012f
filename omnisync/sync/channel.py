"""One channel in a run: its adapter, report and time budget, its order window, and its fetch."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from omnisync.budget import Budget
from omnisync.channels import Channel
from omnisync.channels.base import (
    ChannelConfig,
    ReadProblem,
    ReadsOrdersBesideListings,
    ReadsOrdersWhileListing,
    ReportsReadProblems,
)
from omnisync.errors import ChannelError, LedgerError, UsageError
from omnisync.ledger import Ledger
from omnisync.models import Listing, Order
from omnisync.reconcile import latest_versions
from omnisync.redact import REDACTOR
from omnisync.report import ChannelReport

log = logging.getLogger(__name__)

T = TypeVar("T")


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

    def let_go_of_orders(self) -> set[str]:
        """The ids of the orders read, the orders themselves let go: once applied and planned,
        a run needs only which ones it saw (50,000 orders held through the push: 40 MB)."""
        ids = {order.id for order in self.orders}
        self.orders.clear()
        return ids


async def fetch(run: ChannelRun, window: Window, now: Callable[[], datetime]) -> Fetched | None:
    """Read a channel's listings and its orders updated in `[since, now)`; None if it failed.

    Listings are read before the window closes, so any sale a listing's quantity already
    reflects is inside the window too: one after the other, or side by side where the channel
    can keep its order search open until the listings are read (ReadsOrdersWhileListing), or
    read its window in two parts around them (ReadsOrdersBesideListings).
    """
    fetched = None
    async with run.guarded():
        channel = run.channel
        if isinstance(channel, ReadsOrdersWhileListing):
            listings, until, orders = await _read_alongside(channel, window, now)
            problems = _problems(channel)
        elif isinstance(channel, ReadsOrdersBesideListings):
            listings, until, orders, problems = await _read_beside(channel, window, now)
        else:
            listings = await channel.list_listings()
            until = now()
            orders = [
                order
                async for order in channel.fetch_orders(
                    updated_since=window.since, updated_until=until
                )
            ]
            problems = _problems(channel)
        unreadable: list[ReadProblem] = []
        # What it could not read: the rest applies, and the run ends with exit 1. Orders
        # are kept in the ledger (and reported from there on every run until readable).
        for problem in problems:
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


def _problems(channel: Channel) -> list[ReadProblem]:
    """What the channel's last order read skipped (ReportsReadProblems), else nothing."""
    return list(channel.read_problems()) if isinstance(channel, ReportsReadProblems) else []


async def _both(
    listings: Awaitable[list[Listing]], orders: Awaitable[T]
) -> tuple[list[Listing], T]:
    """The two reads at once; the first failure fails the fetch, the other is not waited for."""
    # The order read starts first: it is usually the longer chain, and says so before the
    # listings' first request (a channel may give it the rate limit's first turn).
    order_task = asyncio.ensure_future(orders)
    listing_task = asyncio.ensure_future(listings)
    try:
        done, _ = await asyncio.wait(
            (listing_task, order_task), return_when=asyncio.FIRST_EXCEPTION
        )
        for task in done:
            if (error := task.exception()) is not None:
                raise error
        return listing_task.result(), order_task.result()
    finally:
        for task in (listing_task, order_task):
            task.cancel()
        await asyncio.gather(listing_task, order_task, return_exceptions=True)


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

    listings, orders = await _both(read_listings(), read_orders())
    return listings, closed[0], latest_versions(orders)


async def _read_beside(
    channel: Channel, window: Window, now: Callable[[], datetime]
) -> tuple[list[Listing], datetime, list[Order], list[ReadProblem]]:
    """The window read in two parts around the listings: `[since, T0)` beside them (T0 when
    the fetch began), then, once they are in, the tail `[T0, T1)` (T1 when they were), usually
    one small page. The window still closes after the listings were read, so it holds every
    sale they reflect; a failed tail fails the channel, so its cursor never passes it."""
    assert isinstance(channel, ReadsOrdersBesideListings)
    listed = asyncio.Event()
    began = now()
    closed: list[datetime] = []

    async def read_listings() -> list[Listing]:
        listings = await channel.list_listings()
        closed.append(now())
        listed.set()  # what the order read maps its lines with is known from here on
        return listings

    async def read_head() -> tuple[list[Order], list[ReadProblem]]:
        head = channel.fetch_orders_beside(
            updated_since=window.since, updated_until=began, listed=listed
        )
        orders = [order async for order in head]
        # Taken now: the tail's read starts a new list of what it skips.
        return orders, _problems(channel)

    listings, (head, head_problems) = await _both(read_listings(), read_head())
    until = closed[0]
    tail = [order async for order in channel.fetch_orders(updated_since=began, updated_until=until)]
    tail_problems = _problems(channel)
    # The tail's reading of an order is the newer one, readable or not.
    later = {order.id for order in tail} | {p.order_id for p in tail_problems if p.order_id}
    orders = latest_versions([*(o for o in head if o.id not in later), *tail])
    problems = [p for p in head_problems if p.order_id not in later] + tail_problems
    return listings, until, orders, problems


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
