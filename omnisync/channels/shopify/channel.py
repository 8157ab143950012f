"""Shopify through the Admin GraphQL API: orders in, `available` quantities out.

Listings are the variants' inventory items stocked at the configured location (`Listing.id` is
the InventoryItem GID), read as that location's inventory levels. Untracked items are skipped
(logged); an item without a SKU is returned with `channel_sku=""`, so it is reported and never
written. Orders are mapped by `mapping.py` (its docstring holds the status table).

API quirks handled here (credentials and scopes: `auth.py`; the order search, read beside
the listings: `orders.py`; writes: `push.py`; `check`: `probe.py`; the GraphQL and its page
sizes: `queries.py`):
- Throttling is HTTP 200 with `errors[].extensions.code == "THROTTLED"`; every response
  carries `extensions.cost.throttleStatus`, which paces the next query (CostBucket).
- A query may request at most 1,000 points, charged by worst case: `first` multiplies through
  nested connections, so page sizes are derived from that limit with a margin, and an order
  with more line items or refunds than one page holds is completed by a follow-up query.
  Shopify's own count (`extensions.cost.requestedQueryCost`) can differ from one made by
  hand: each orders page is sized from the previous answer's count, and a MAX_COST_EXCEEDED
  refusal is re-sent smaller (research section 8).
- Shopify refuses to page a search past 25,000 objects: a longer history is walked as new
  searches from the last `updatedAt` reached.
- Orders from every location come back; one sold (POS `retailLocation`) or fulfilled at
  another location than the configured one counts as cancelled here (mapping.py).
- A pinned API version Shopify no longer supports is served as the oldest supported one,
  silently: the `X-Shopify-API-Version` answer header is compared with the one asked for, and
  a difference is logged once and shown by `check`.
- A missing access scope answers ACCESS_DENIED for its field: the channel fails naming the
  scope, in the same words as `check`.
- Without the `read_all_orders` scope only the last 60 days of orders are visible.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from omnisync.channels.base import (
    ChannelConfig,
    ChannelContext,
    ChannelType,
    ReadProblem,
    TokenStore,
)
from omnisync.channels.shopify import queries as q
from omnisync.channels.shopify.auth import (
    AccessToken,
    ShopifySettings,
    scope_in,
    scopes_message,
)
from omnisync.channels.shopify.orders import ShopifyOrders, TooCostlyError
from omnisync.channels.shopify.payloads import (
    Cost,
    Extensions,
    GraphQLError,
    ListingsData,
    PageInfo,
    available,
)
from omnisync.channels.shopify.probe import probe
from omnisync.channels.shopify.push import ShopifyPush, listing_id
from omnisync.channels.tokens import StoredTokens
from omnisync.errors import ChannelAuthError, ChannelResponseError
from omnisync.httpclient import Budget, ChannelHttp, CostBucket, Kind, RetryPolicy, Verdict, snippet
from omnisync.models import ChannelProbe, Listing
from omnisync.payload import Payload, parse
from omnisync.timeparse import utcnow

log = logging.getLogger("omnisync.channels.shopify")

P = TypeVar("P", bound=Payload)

_TOKEN_HEADER = "X-Shopify-Access-Token"
_ERROR_KINDS = {
    "THROTTLED": Kind.THROTTLED,
    "ACCESS_DENIED": Kind.AUTH,
    "INTERNAL_SERVER_ERROR": Kind.TRANSIENT,
    "SERVICE_UNAVAILABLE": Kind.TRANSIENT,
    "MAX_COST_EXCEEDED": Kind.BAD_REQUEST,
}


class ShopifyChannel(ShopifyOrders, ShopifyPush):
    """A Shopify store, at one location."""

    concurrency = q.PUSH_CONCURRENCY

    def __init__(
        self,
        name: str,
        settings: ShopifySettings,
        *,
        base_url: str | None = None,
        timeout: float = 180.0,
        client: httpx.AsyncClient | None = None,
        policy: RetryPolicy | None = None,
        budget: Budget | None = None,
        tokens: TokenStore | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.name = name
        self.settings = settings
        # Several locations (`locations`): each listing is an item at one of them, and each
        # order line is placed at the location that fulfils it (mapping.py).
        self.locations = settings.shopify_locations()
        self.location = self.locations[0]
        self.several = len(self.locations) > 1
        self._problems: list[ReadProblem] = []  # orders the last fetch could not read
        root = base_url or f"https://{settings.store}"
        self.url = f"{root}/admin/api/{settings.api_version}/graphql.json"
        self.budget = budget or Budget(name, timeout)
        self.now = now
        self.token = AccessToken(
            name, settings, StoredTokens(name, tokens), url=f"{root}/admin/oauth/access_token"
        )
        hint = (
            f"the app's client_id and client_secret in [channels.{name}]"
            if self.token.granted
            else f"the Admin API access token in [channels.{name}] token"
        )
        self.http = ChannelHttp(
            name,
            budget=self.budget,
            client=client,
            policy=policy,
            credential_hint=hint,
            connections=self.concurrency,
        )
        self._token_lock = asyncio.Lock()
        self._token_ready = False
        self.bucket = CostBucket(self.budget)
        # 2026-01 renamed the compare-and-set field; earlier pinned versions use the old name.
        before_2026 = settings.api_version != "unstable" and settings.api_version < "2026-01"
        self.cas_field = "compareQuantity" if before_2026 else "changeFromQuantity"
        self.idempotent = not before_2026
        self.served_version: str | None = None  # X-Shopify-API-Version of the answers
        self.order_page = q.ORDER_PAGE  # resized from Shopify's own cost of the first page
        self._last_updated = datetime.min.replace(tzinfo=UTC)
        # Points a listings page leaves in the cost bucket for the order search running beside
        # it (orders.py, `_need`), and when the search's next page is expected to go.
        self._orders_need = 0.0
        self._orders_next = 0.0

    # -- GraphQL plumbing ---------------------------------------------------------------

    async def _ensure_token(self, *, refused: str | None = None) -> None:
        """Set the token header; `refused` (a token Shopify refused) obtains a new one, once
        for all the requests that were refused with it."""
        async with self._token_lock:
            current = self.http.headers.get(_TOKEN_HEADER)
            if self._token_ready and (refused is None or refused != current):
                return
            token = None if refused else self.token.cached(self.now())
            if token is None:
                token = await self.token.obtain(self.http, self.now())
            self.http.headers[_TOKEN_HEADER] = token
            self._token_ready = True

    def _extensions(self, payload: dict[str, Any]) -> Extensions | None:
        try:
            return parse(Extensions, payload.get("extensions") or {})
        except ValidationError:
            return None  # not every proxy passes extensions through; pacing then falls back

    def _check_version(self, response: httpx.Response) -> None:
        # Shopify serves a pinned version it no longer supports as the oldest supported one,
        # silently: only this header tells (research section 8).
        served = response.headers.get("X-Shopify-API-Version")
        if not served or served == self.served_version:
            return
        self.served_version = served
        if served != self.settings.api_version:
            log.warning("%s: %s", self.name, self.version_warning())

    def version_warning(self) -> str:
        return (
            f"asked for Admin API {self.settings.api_version}, Shopify answered as "
            f"{self.served_version}: the pinned version is no longer supported; set "
            f"[channels.{self.name}] api_version to a supported one"
        )

    def _classify(self, response: httpx.Response, booking: int | None = None) -> Verdict | None:
        """Shopify's own failure signals inside an HTTP 200 (`booking`: the answered query's
        points booked in the cost bucket)."""
        self._check_version(response)
        try:
            payload = response.json()
        except ValueError:
            return Verdict(Kind.MALFORMED, f"expected a JSON body, got {snippet(response.text)}")
        if not isinstance(payload, dict):
            return Verdict(Kind.MALFORMED, f"expected a JSON object, got {snippet(response.text)}")
        extensions = self._extensions(payload)
        cost = extensions.cost if extensions else None
        if cost and cost.throttleStatus:
            status = cost.throttleStatus
            self.bucket.update(
                maximum=status.maximumAvailable,
                available=status.currentlyAvailable,
                rate=status.restoreRate,
                answered=booking,
            )
        if not payload.get("errors"):
            return None
        try:
            errors = parse(list[GraphQLError], payload["errors"])
        except ValidationError:
            return Verdict(Kind.BAD_REQUEST, f"Shopify answered: {snippet(str(payload['errors']))}")
        messages = "; ".join(error.message for error in errors)
        codes = [error.code for error in errors]
        kinds = [_ERROR_KINDS.get(code or "", Kind.BAD_REQUEST) for code in codes]
        if Kind.THROTTLED in kinds:
            requested = cost.requestedQueryCost if cost else None
            wait = self.bucket.wait_for(requested) if requested else None
            return Verdict(Kind.THROTTLED, "THROTTLED", wait)
        if Kind.AUTH in kinds:
            scopes = sorted({s for e in errors if (s := scope_in(e.message))})
            if scopes:
                # The same words as `check`: which scope, and where to tick it.
                return Verdict(Kind.AUTH, scopes_message(self.name, scopes))
            return Verdict(Kind.AUTH, f"access denied: {snippet(messages)}")
        if kinds and all(kind is Kind.TRANSIENT for kind in kinds):
            return Verdict(Kind.TRANSIENT, f"Shopify error: {snippet(messages)}")
        if "MAX_COST_EXCEEDED" in codes:
            return None  # the caller resizes its page (see _query)
        return Verdict(Kind.BAD_REQUEST, f"Shopify refused the query: {snippet(messages)}")

    async def _query(
        self,
        query: str,
        variables: dict[str, Any],
        model: type[P],
        *,
        cost: int,
        context: str,
        leave: Callable[[], float] | None = None,
        sent: list[float] | None = None,
    ) -> tuple[P, Cost | None]:
        """Send one operation (paced by its cost, leaving `leave()` points for others): its
        `data` as `model`, and what Shopify itself counted for it (`extensions.cost`).

        `sent` gets the clock each time the query leaves: once paced, and again once written
        when the transport says so (a new connection's handshakes come between)."""
        await self._ensure_token()
        booked: list[int] = []  # this query's booking in the cost bucket, while it is out

        async def pace() -> Callable[[], None] | None:
            if booked:  # sent again: the last try is over
                self.bucket.release(booked.pop())
            booked.append(await self.bucket.reserve(cost, leave=leave))
            if sent is None:
                return None
            sent.append(self.budget.clock())
            return lambda: sent.append(self.budget.clock())

        def classify(response: httpx.Response) -> Verdict | None:
            return self._classify(response, booked[-1] if booked else None)

        async def send() -> httpx.Response:
            return await self.http.send(
                "POST",
                self.url,
                json_body={"query": query, "variables": variables},
                classify=classify,
                before=pace,
                context=context,
            )

        used = self.http.headers.get(_TOKEN_HEADER)
        try:
            response = await send()
        except ChannelAuthError as exc:
            # A granted token can be revoked (the app reinstalled) before its expiry: get a
            # new one, once.
            if not self.token.granted or exc.http_status != 401 or used is None:
                raise
            await self._ensure_token(refused=used)
            response = await send()
        finally:
            for booking in booked:
                self.bucket.release(booking)
        # _classify has seen a JSON object; `data` is what must fit.
        payload = self.http.json(response, "a GraphQL JSON response")
        extensions = self._extensions(payload)
        requested = extensions.cost.requestedQueryCost if extensions and extensions.cost else None
        if payload.get("errors"):
            errors = parse(list[GraphQLError], payload["errors"])
            too_costly = next(e for e in errors if e.code == "MAX_COST_EXCEEDED")
            extra = too_costly.extensions
            raise TooCostlyError(
                self.name,
                f"{context}: Shopify refused the query: {snippet(too_costly.message)}",
                extra.cost if extra and extra.cost is not None else requested,
            )
        data = self.http.validate(response, model, payload.get("data"), root="data")
        return data, extensions.cost if extensions else None

    async def _graphql(
        self,
        query: str,
        variables: dict[str, Any],
        model: type[P],
        *,
        cost: int,
        context: str,
        leave: Callable[[], float] | None = None,
    ) -> P:
        """Send one operation (paced by its cost) and read its `data` as `model`."""
        data, _ = await self._query(
            query, variables, model, cost=cost, context=context, leave=leave
        )
        return data

    def _orders_leave(self) -> float:
        """Points a listings page leaves for the order search beside it now: what its next page
        needs (`_need`) less what the bucket refills before that page goes."""
        need = self._orders_need
        if need <= 0.0 or need == math.inf or not self.bucket.rate:
            return need
        coming = max(0.0, self._orders_next - self.budget.clock()) * self.bucket.rate
        return max(0.0, need - coming)

    def _cursor(self, info: PageInfo, where: str) -> str:
        if not info.endCursor:
            raise ChannelResponseError(
                self.name, f"{where}.pageInfo: expected an endCursor when hasNextPage is true"
            )
        return info.endCursor

    # -- listings --------------------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        listings: list[Listing] = []
        for location in self.locations:
            listings += await self._listings_at(location)
        return listings

    async def _listings_at(self, location: str) -> list[Listing]:
        # The location's inventory levels are exactly the items that can be written there
        # (others answer ITEM_NOT_STOCKED_AT_LOCATION), one level per variant.
        listings: list[Listing] = []
        untracked = 0
        after: str | None = None
        cost = q.LISTINGS_COST
        while True:
            data, counted = await self._query(
                q.LISTINGS_QUERY,
                {"first": q.LISTING_PAGE, "after": after, "location": location},
                ListingsData,
                cost=cost,
                context="reading inventory levels",
                # Off the critical path while an order search runs beside: see _search.
                leave=self._orders_leave,
            )
            if counted is not None and counted.requestedQueryCost:
                # The next page is booked as Shopify counts it, should it count dearer.
                cost = max(q.LISTINGS_COST, math.ceil(counted.requestedQueryCost))
            if data.location is None:
                key = "locations" if self.several else "location"
                raise ChannelResponseError(
                    self.name,
                    f"location {location} not found: check [channels.{self.name}] "
                    f"{key} (run `omnisync check`)",
                )
            levels = data.location.inventoryLevels
            for index, level in enumerate(levels.nodes):
                if not level.item.tracked:
                    untracked += 1
                    continue
                quantity = available(level.quantities)
                if quantity is None:
                    raise ChannelResponseError(
                        self.name,
                        f"data.location.inventoryLevels.nodes[{index}].quantities: "
                        f"expected an `available` quantity",
                    )
                listings.append(
                    Listing(
                        id=listing_id(level.item.id, location) if self.several else level.item.id,
                        channel_sku=(level.item.sku or "").strip(),
                        quantity=quantity,
                        location=location if self.several else None,
                    )
                )
            if not levels.pageInfo.hasNextPage:
                break
            after = self._cursor(levels.pageInfo, "data.location.inventoryLevels")
        if untracked:
            log.info("%s: skipped %d untracked inventory items", self.name, untracked)
        return listings

    # -- probe -----------------------------------------------------------------------------

    async def probe(self) -> ChannelProbe:
        return await probe(self)

    async def aclose(self) -> None:
        await self.http.aclose()


def _open(config: ChannelConfig, context: ChannelContext) -> ShopifyChannel:
    settings = config.settings
    assert isinstance(settings, ShopifySettings)
    return ShopifyChannel(
        config.name,
        settings,
        base_url=config.base_url,
        client=context.http,
        budget=context.budget,
        tokens=context.tokens,
        now=context.now,
    )


CHANNEL_TYPE = ChannelType(settings=ShopifySettings, open=_open)
