"""TikTok Shop order reads: a window's orders with their returns, and its tail read early."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omnisync.channels.base import LISTED, ReadProblem
from omnisync.channels.tiktok import payloads
from omnisync.channels.tiktok.client import TikTokApi
from omnisync.channels.tiktok.mapping import SHIPPED_STATUSES, map_order, returned_lines
from omnisync.channels.tiktok.search import (
    DETAIL_IDS,
    ORDER_DETAIL_PATH,
    ORDER_PAGE,
    ORDERS_PATH,
    RETURN_PAGE,
    RETURNS_PATH,
    ahead,
    pages,
    stopped,
)
from omnisync.errors import ChannelResponseError
from omnisync.models import Order
from omnisync.payload import parse_each

Returned = dict[str, datetime]  # order id -> when its goods came back
# Returns of goods: a refund alone puts nothing back in stock.
RETURNS_ONLY = {"return_types": ["RETURN_AND_REFUND"]}


def _seconds(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()


async def _together(calls: list[Coroutine[Any, Any, None]]) -> None:
    """Run `calls` side by side. The first failure (or a cancellation) stops the others, and
    they are waited for: none goes on paging once the read has failed."""
    # Not a TaskGroup: its ExceptionGroup would reach the engine as an unexpected error,
    # where the first ChannelError fails the channel as a read failure.
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        await asyncio.gather(*tasks)
    finally:
        await stopped(*tasks)


def _taken_later(task: asyncio.Task[Any]) -> None:
    """An early tail's outcome is taken by `fetch` or dropped unasked: not an error to log
    when the task is collected."""
    if not task.cancelled():
        task.exception()


@dataclass
class _Read:
    """One read of a window: what it found returned, and the orders it could not read."""

    since: datetime
    returned: set[str] = field(default_factory=set)
    returned_at: Returned = field(default_factory=dict)
    problems: list[ReadProblem] = field(default_factory=list)


@dataclass(frozen=True)
class _TailRead:
    """What an early tail read found: `[since, until)`, `until` taken when it began."""

    until: datetime
    orders: list[Order]
    problems: list[ReadProblem]


@dataclass(frozen=True)
class _Tail:
    """The window's tail from `since`, read as soon as `listed` is set."""

    since: datetime
    listed: asyncio.Event
    task: asyncio.Task[_TailRead]


class OrderReads:
    """The window reads of one channel; `sku_by_ids` is filled by the listings' read."""

    def __init__(
        self,
        name: str,
        api: TikTokApi,
        sku_by_ids: dict[tuple[str, str], str],
        now: Callable[[], datetime],
    ) -> None:
        self.name = name
        self.api = api
        self.sku_by_ids = sku_by_ids
        self.now = now
        self.problems: list[ReadProblem] = []  # orders the last fetch could not read
        self._tail: _Tail | None = None

    async def fetch(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncGenerator[Order, None]:
        """The window's orders; the tail the head's read began early, if it is this window."""
        tail, self._tail = self._tail, None
        if tail is not None:
            # Not listed: its read has not begun (the listings are not read), so it cannot
            # serve. Listed: it has, its end taken as it began, after the engine took this
            # window's end (when the listings were read); so it is waited for (its failure
            # fails this read), and serves unless the window asked ends later still.
            if tail.since == updated_since and tail.listed.is_set():
                early = await tail.task
                if early.until >= updated_until:
                    # Up to at least this window's end: it holds every order this read would
                    # (a wider end only brings orders the next window brings again, as a
                    # clock ahead does).
                    self.problems = early.problems
                    for order in early.orders:
                        yield order
                    return
            else:
                await stopped(tail.task)  # before the fresh read, not beside it
        read = _Read(updated_since)
        self.problems = read.problems
        async with aclosing(self._window(updated_until, read, LISTED)) as orders:
            async for order in orders:
                yield order

    async def fetch_beside(
        self, *, updated_since: datetime, updated_until: datetime, listed: asyncio.Event
    ) -> AsyncGenerator[Order, None]:
        """The window's orders (ReadsOrdersBesideListings): pages are read at once, lines
        mapped once `listed` says the SKU-by-id map of this run's listings is filled.

        The engine reads the tail `[updated_until, listings read)` next: its read starts as
        soon as `listed` is set, beside this one's last pages, and `fetch` hands it over.
        """
        await self._discard_tail()
        if not listed.is_set():
            task = asyncio.get_running_loop().create_task(self._early_tail(updated_until, listed))
            task.add_done_callback(_taken_later)
            self._tail = _Tail(updated_until, listed, task)
        read = _Read(updated_since)
        self.problems = read.problems
        finished = False
        try:
            async with aclosing(self._window(updated_until, read, listed)) as orders:
                async for order in orders:
                    yield order
            finished = True
        finally:
            if not finished:
                await self._discard_tail()  # this read failed or was let go: no tail asked

    async def _early_tail(self, since: datetime, listed: asyncio.Event) -> _TailRead:
        await listed.wait()
        # Taken after the listings were read, as the engine's end of the tail is: the page
        # asked from here holds every sale they reflect.
        until = self.now()
        read = _Read(since)
        async with aclosing(self._window(until, read, LISTED)) as orders:
            found = [order async for order in orders]
        return _TailRead(until, found, read.problems)

    async def _discard_tail(self) -> None:
        tail, self._tail = self._tail, None
        if tail is not None:
            await stopped(tail.task)

    async def aclose(self) -> None:
        await self._discard_tail()

    async def _window(
        self, updated_until: datetime, read: _Read, listed: asyncio.Event
    ) -> AsyncGenerator[Order, None]:
        window = {
            # ge inclusive, lt exclusive, whole seconds: widen, then filter exactly below.
            "update_time_ge": math.floor(_seconds(read.since)),
            "update_time_lt": math.ceil(_seconds(updated_until)),
        }
        # The window's returns are read while the first order page comes in: only mapping
        # that page's orders needs them.
        window_returns = asyncio.create_task(self._returns(window | RETURNS_ONLY, read))
        try:
            async with aclosing(self._orders(window, read, window_returns, listed)) as orders:
                async for order in orders:
                    yield order
        finally:
            await stopped(window_returns)

    async def _orders(
        self,
        window: dict[str, Any],
        read: _Read,
        window_returns: asyncio.Task[None],
        listed: asyncio.Event,
    ) -> AsyncGenerator[Order, None]:
        seen: set[str] = set()
        held: list[payloads.Order] = []  # read before the listings were: mapped once they are
        search = pages(
            self.api,
            ORDERS_PATH,
            window,
            ORDER_PAGE,
            payloads.Orders,
            context="reading orders",
            sort=True,
        )
        # The next page is asked for while this one's returns are: a page of shipped orders
        # would otherwise hold up the chain of pages by a round trip or two.
        async with aclosing(ahead(search)) as walk:
            async for data in walk:
                await window_returns
                held += await self._page(data, read, seen)
                if listed.is_set():  # else the next page is asked now; these wait for the map
                    for order in self._mapped(held, read):
                        yield order
                    held = []
        await window_returns  # a window with no order page still has its returns
        # Orders whose return changed in the window while the order itself did not.
        missing = [order_id for order_id in read.returned_at if order_id not in seen]
        for start in range(0, len(missing), DETAIL_IDS):
            ids = missing[start : start + DETAIL_IDS]
            detail = await self.api.call(
                "GET",
                ORDER_DETAIL_PATH,
                payloads.Orders,
                query={"ids": ",".join(ids)},  # comma-separated (get-order-detail's example)
                context="reading orders",
            )
            held += self._readable(detail.orders, read)
        await listed.wait()
        for order in self._mapped(held, read):
            yield order

    async def _page(
        self, data: payloads.Orders, read: _Read, seen: set[str]
    ) -> list[payloads.Order]:
        """A page's readable orders, once the returns of those that may have shipped are in;
        `seen` gets their ids."""
        orders = self._readable(data.orders, read)
        shipped = [raw.id for raw in orders if raw.status in SHIPPED_STATUSES]
        await _together(
            [
                self._returns(
                    {"order_ids": shipped[start : start + RETURN_PAGE], **RETURNS_ONLY}, read
                )
                for start in range(0, len(shipped), RETURN_PAGE)
            ]
        )
        repeated = seen.intersection(raw.id for raw in orders)
        if repeated:
            # A page answered again in place of the next (a cache): orders were skipped.
            raise ChannelResponseError(
                self.name,
                f"reading orders: a page repeats {len(repeated)} order(s) already read; "
                f"not read completely, tried again next run",
            )
        seen.update(raw.id for raw in orders)
        return orders

    def _mapped(self, raws: list[payloads.Order], read: _Read) -> list[Order]:
        """The orders of `raws` updated since the window opened, mapped."""
        orders = [self._order(raw, read) for raw in raws]
        # No upper bound: an order dated after the window (a clock ahead) still counts.
        return [order for order in orders if read.since <= order.updated_at]

    def _readable(self, raws: list[Any], read: _Read) -> list[payloads.Order]:
        """The orders of a page that fit; each other one is kept as a read problem."""
        orders, rejected = parse_each(payloads.Order, raws, root="orders")
        read.problems += [
            ReadProblem(f"order {bad.item_id}", bad.message, bad.item_id, bad.field, bad.value)
            for bad in rejected
        ]
        return orders

    async def _returns(self, body: dict[str, Any], read: _Read) -> None:
        async for data in pages(
            self.api,
            RETURNS_PATH,
            body,
            RETURN_PAGE,
            payloads.Returns,
            context="reading returns",
            sort=True,
        ):
            for record in data.return_orders:
                lines = returned_lines([record])
                if not lines:
                    continue  # money only, still open, or refused: no stock comes back
                read.returned |= lines
                # When the goods came back: the latest change to the order's effect on stock.
                moment = datetime.fromtimestamp(record.update_time, UTC)
                order_id = record.order_id
                read.returned_at[order_id] = max(moment, read.returned_at.get(order_id, moment))

    def _order(self, raw: payloads.Order, read: _Read) -> Order:
        order = map_order(raw, returned=read.returned, sku_by_ids=self.sku_by_ids)
        when = read.returned_at.get(order.id)
        if when is not None and when > order.updated_at:
            # The return is the latest change to this order's effect on stock.
            order = Order(order.id, order.status, order.created_at, when, order.lines)
        return order
