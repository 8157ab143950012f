"""Shopify's orders: the search by update time, its pages sized by cost, big orders whole.

The search is sorted by UPDATED_AT and walked with keyset cursors. Read after the listings
(`fetch_orders`) it is bounded at both ends; read beside them (`fetch_orders_until_listed`,
ReadsOrdersWhileListing) it is open at the top and asks for its last page only after the
listings were read.

While the search runs beside the listings it has the cost bucket first (`_orders_need`): a
listings page takes only points the next order page will not need (`_need`), or waits for
the search to end. Shopify charges a query's requested cost up front and refunds the unused
part with the answer: an order page asks about ten times what it spends, a listings page
spends nearly all it asks. Order pages sent while the bucket is high, and the listings after
them, let a run end with the bucket drained; the other way round every order page waits for
its whole requested cost to come back (on the Standard plan, 100 points a second, that
took a 500-listing shop 17 s instead of 9). Where the bucket refills faster than the search
spends (Shopify Plus at a fifth of a second a round trip), the listings go beside the
search once two answers show it, so it need not ask again past its end.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from omnisync.budget import Budget
from omnisync.channels.base import ReadProblem
from omnisync.channels.shopify import queries as q
from omnisync.channels.shopify.mapping import map_order, order_search
from omnisync.channels.shopify.payloads import (
    Cost,
    LineItem,
    LineItems,
    OrderLinesData,
    OrderNode,
    OrderRefundsData,
    Orders,
    OrdersData,
    PageInfo,
    Refund,
)
from omnisync.channels.shopify.push import GraphqlCall
from omnisync.errors import ChannelResponseError
from omnisync.httpclient import CostBucket
from omnisync.models import Order
from omnisync.payload import Payload, parse_each

log = logging.getLogger("omnisync.channels.shopify")

P = TypeVar("P", bound=Payload)


class TooCostlyError(ChannelResponseError):
    """Shopify refused a query as over its single-query cost limit (MAX_COST_EXCEEDED)."""

    def __init__(self, channel: str, message: str, requested: float | None) -> None:
        super().__init__(channel, message, code="MAX_COST_EXCEEDED")
        self.requested = requested


class _Query(Protocol):
    async def __call__(
        self,
        query: str,
        variables: dict[str, Any],
        model: type[P],
        *,
        cost: int,
        context: str,
        leave: Callable[[], float] | None = None,
        sent: list[float] | None = None,
    ) -> tuple[P, Cost | None]: ...


class ShopifyOrders:
    """The order-reading half of ShopifyChannel (which provides these attributes)."""

    name: str
    locations: list[str]
    location: str
    several: bool
    budget: Budget
    bucket: CostBucket
    order_page: int
    _problems: list[ReadProblem]
    _last_updated: datetime
    _orders_need: float
    _orders_next: float
    _query: _Query
    _graphql: GraphqlCall
    _cursor: Callable[[PageInfo, str], str]

    async def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        # Both bounds in the search, sorted by UPDATED_AT with keyset cursors: an order updated
        # while we page leaves this window (the next run's window holds it) and shifts nothing.
        async for order in self._search(updated_since, updated_until, None):
            yield order

    async def fetch_orders_until_listed(
        self, *, updated_since: datetime, listed: asyncio.Event
    ) -> AsyncIterator[Order]:
        """ReadsOrdersWhileListing: the search is open at the top, so an order updated while
        we page moves to its end and comes again, newer; the last page is asked for only
        after the listings were read, so it reaches past them."""
        async for order in self._search(updated_since, None, listed):
            yield order

    async def _search(
        self, updated_since: datetime, updated_until: datetime | None, listed: asyncio.Event | None
    ) -> AsyncIterator[Order]:
        try:
            async for order in self._walk(updated_since, updated_until, listed):
                yield order
        finally:
            if listed is not None:
                self._orders_need = 0.0
                self.bucket.nudge()  # the listings' read may take every point now

    async def _walk(
        self, updated_since: datetime, updated_until: datetime | None, listed: asyncio.Event | None
    ) -> AsyncIterator[Order]:
        start = updated_since
        after: str | None = None
        # Order id -> updatedAt, as shown by this search (not a restarted one).
        in_search: dict[str, str] = {}
        self._problems = []
        served = 0  # objects paged through in this search (Shopify stops at 25,000)
        seen: dict[str, datetime] = {}  # order id -> the newest updatedAt yielded
        closing = False  # the page asked past the end once the listings were read
        # Shopify's own count of the last full page: (first, requested, actual), and the
        # quickest answer to a page once it had left, in seconds, of `answers` so far.
        counted_page: tuple[int, float, float] | None = None
        quickest, answers = math.inf, 0
        while True:
            # After the listings were read, one order is enough to say whether any came.
            first = 1 if closing else self.order_page
            if after is not None and served + first > q.MAX_PAGINATION:
                # Past the limit Shopify refuses to page: go on with a new search from the
                # last update time reached. Orders of that same second come again; `seen`
                # drops them.
                after, served = None, 0
                start = max(start, self._last_updated)
            # Whether this page is asked for after the listings were read (see the protocol).
            past_listings = listed is None or listed.is_set()
            cost = q.ORDERS_COST * first // q.ORDER_PAGE
            if counted_page is not None:
                # Booked as Shopify counts it, should it count dearer than we do.
                cost = max(cost, math.ceil(counted_page[1] * first / counted_page[0]))
            if listed is not None and not closing:
                # The quickest of two answers at least: one slow answer alone (a first page
                # Shopify took long over) must not make a draining bucket look steady.
                round_trip = quickest if answers >= 2 else None
                self._orders_need = self._need(first, counted_page, round_trip)
                self._orders_next = self.budget.clock() + (round_trip or 0.0)
            sent: list[float] = []
            try:
                data, counted = await self._query(
                    q.ORDERS_QUERY,
                    {
                        "first": first,
                        "after": after,
                        "query": order_search(start, updated_until),
                        "lines": q.ORDER_LINES,
                        "refunds": q.ORDER_REFUNDS,
                        "refundLines": q.ORDER_REFUND_LINES,
                        "fulfillments": q.ORDER_FULFILLMENTS,
                    },
                    OrdersData,
                    cost=cost,
                    context="reading orders",
                    sent=sent,
                )
            except TooCostlyError as exc:
                # Shopify counts this query dearer than our estimate: size by its count.
                if first == 1:
                    raise
                self.order_page = self._resized(first, exc.requested, fallback=first // 2)
                continue
            requested = counted.requestedQueryCost if counted else None
            if requested and not closing:
                self.order_page = self._resized(first, requested, fallback=first)
            if counted and requested and counted.actualQueryCost is not None and not closing:
                counted_page = (first, requested, counted.actualQueryCost)
            if sent:
                quickest = min(quickest, self.budget.clock() - sent[-1])
                answers += 1
            page = data.orders
            self._check_page(page, after, in_search if after is not None else {})
            if after is None:
                in_search = {}
            served += len(page.nodes)
            nodes, rejected = parse_each(OrderNode, page.nodes, root="data.orders.nodes")
            self._problems += [
                ReadProblem(f"order {bad.item_id}", bad.message, bad.item_id, bad.field, bad.value)
                for bad in rejected
            ]
            in_search.update(_node_stamps(page.nodes))
            for node in nodes:
                self._last_updated = max(self._last_updated, node.updatedAt)
                if node.id in seen and node.updatedAt <= seen[node.id]:
                    continue
                seen[node.id] = node.updatedAt
                order = await self._order(node)
                # The search's lower bound is in whole seconds; the window's start is ours to
                # keep. Its end is not applied: an order dated after it still counts.
                if updated_since <= order.updated_at:
                    yield order
            closing = False
            if page.pageInfo.hasNextPage:
                after = self._cursor(page.pageInfo, "data.orders")
            elif past_listings:
                return
            else:
                # The search ran out before the listings were read: a sale made since may
                # show in them, so wait for them and ask once more past this page.
                assert listed is not None
                self._orders_need = 0.0
                self.bucket.nudge()
                await listed.wait()
                after = page.pageInfo.endCursor or after
                closing = True

    def _need(
        self, first: int, counted: tuple[int, float, float] | None, round_trip: float | None
    ) -> float:
        """Points a listings page must leave in the bucket while an order page of `first` is out.

        The next order page goes when this one answers and must then find its whole requested
        cost in the bucket again; of this one's, only what Shopify charges stays spent (the
        last full page's `actualQueryCost`, `counted`, per order). Where the bucket refills
        that much while a page is out, it holds steady and a listings page may take the rest
        (less the refill still to come before the next page goes: `_orders_leave`). Where it
        does not (the Standard plan), it drains page after page: every point a listings page
        takes now, an order page waits for later, so it needs them all; so too before two
        answers say how fast pages come back and what they spend.
        """
        rate = self.bucket.rate
        if not rate or counted is None or round_trip is None:
            return math.inf
        counted_first, _, actual = counted
        spend = actual * first / counted_first
        if rate * round_trip < spend:
            return math.inf
        return spend

    def _check_page(self, page: Orders, after: str | None, in_search: dict[str, str]) -> None:
        """A page that cannot be the next one of this search fails the read: the cursor must
        not move past orders never seen (a proxy answering an earlier page again). An order
        shown again with a later updatedAt was updated while we paged: that is no replay."""
        problem = ""
        stamps = _node_stamps(page.nodes)
        if after is not None and page.pageInfo.endCursor == after:
            problem = "ends at the cursor it was asked to start after"
        elif page.pageInfo.hasNextPage and not page.nodes:
            problem = "is empty but says more pages follow"
        elif any(key in in_search and in_search[key] >= stamp for key, stamp in stamps.items()):
            problem = "repeats orders of an earlier page"
        if problem:
            raise ChannelResponseError(
                self.name,
                f"reading orders: a page {problem} (a cache answering an earlier page?); "
                f"not read completely, tried again next run",
            )

    def read_problems(self) -> list[ReadProblem]:
        """Orders the last fetch could not read (ReportsReadProblems)."""
        return list(self._problems)

    @staticmethod
    def _resized(first: int, requested: float | None, *, fallback: int) -> int:
        """The page size that Shopify's own cost for `first` orders says fits its limit."""
        if not requested:
            return max(1, min(fallback, q.MAX_PAGE))
        return q.page_from_count(first, requested)

    async def _order(self, node: OrderNode) -> Order:
        lines = list(node.lineItems.nodes)
        if node.lineItems.pageInfo.hasNextPage:
            lines += await self._more_lines(node.id, node.lineItems)
        refunds = node.refunds
        # A full first page may hide more: read them all in one bigger query.
        if len(refunds) >= q.ORDER_REFUNDS or any(
            refund.refundLineItems.pageInfo.hasNextPage for refund in refunds
        ):
            refunds = await self._all_refunds(node.id)
        if self.several:
            return map_order(node, lines, refunds, locations=self.locations)
        return map_order(node, lines, refunds, location=self.location)

    async def _more_lines(self, order_id: str, first: LineItems) -> list[LineItem]:
        lines: list[LineItem] = []
        after = self._cursor(first.pageInfo, f"order {order_id} lineItems")
        while True:
            if len(lines) >= q.MAX_ORDER_LINES:
                raise ChannelResponseError(
                    self.name, f"order {order_id} has more than {q.MAX_ORDER_LINES:,} lines"
                )
            # Each page of one order's own lines gets its own time, what the cost bucket needs
            # to pay for it: on the Standard plan a 10,000-line order alone takes longer than
            # a run's budget, and would fail the channel on every run while in the window.
            if self.bucket.rate:
                self.budget.extend(q.FOLLOW_LINES_COST / self.bucket.rate)
            data = await self._graphql(
                q.ORDER_LINES_QUERY,
                {"id": order_id, "after": after, "lines": q.FOLLOW_LINES},
                OrderLinesData,
                cost=q.FOLLOW_LINES_COST,
                context=f"reading the lines of {order_id}",
            )
            if data.order is None:
                raise ChannelResponseError(self.name, f"order {order_id} vanished while read")
            lines += data.order.lineItems.nodes
            if not data.order.lineItems.pageInfo.hasNextPage:
                return lines
            after = self._cursor(data.order.lineItems.pageInfo, "data.order.lineItems")

    async def _all_refunds(self, order_id: str) -> list[Refund]:
        data = await self._graphql(
            q.ORDER_REFUNDS_QUERY,
            {"id": order_id, "refunds": q.FOLLOW_REFUNDS, "refundLines": q.FOLLOW_REFUND_LINES},
            OrderRefundsData,
            cost=q.FOLLOW_REFUNDS_COST,
            context=f"reading the refunds of {order_id}",
        )
        if data.order is None:
            raise ChannelResponseError(self.name, f"order {order_id} vanished while read")
        refunds = data.order.refunds
        if len(refunds) >= q.FOLLOW_REFUNDS or any(
            refund.refundLineItems.pageInfo.hasNextPage for refund in refunds
        ):
            # Shopify does not page an order's refunds; this many is beyond any real order.
            log.warning(
                "%s: order %s has more refund lines than omnisync reads", self.name, order_id
            )
        return refunds


def _node_stamps(nodes: list[Any]) -> dict[str, str]:
    """The ids of a page's raw order nodes, those that have one, with their updatedAt as sent
    (Shopify writes every time in one ISO 8601 form, so the text sorts as the time)."""
    return {
        n["id"]: str(n.get("updatedAt"))
        for n in nodes
        if isinstance(n, dict) and isinstance(n.get("id"), str)
    }
