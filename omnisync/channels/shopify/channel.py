"""Shopify through the Admin GraphQL API: orders in, `available` quantities out.

Listings are the variants' inventory items stocked at the configured location (`Listing.id` is
the InventoryItem GID), read as that location's inventory levels. Untracked items are skipped
(logged); an item without a SKU is returned with `channel_sku=""`, so it is reported and never
written. Orders are mapped by `mapping.py` (its docstring holds the status table).

API quirks handled here:
- Throttling is HTTP 200 with `errors[].extensions.code == "THROTTLED"`; every response
  carries `extensions.cost.throttleStatus`, which paces the next query (CostBucket).
- A query may request at most 1,000 points, charged by worst case: `first` multiplies through
  nested connections, so page sizes (`queries.py`) are derived from that limit, and an order
  with more line items or refunds than one page holds is completed by a follow-up query.
- `inventorySetQuantities` takes `changeFromQuantity` (2026-01+; `compareQuantity` before),
  the quantity this run read: Shopify refuses a write when a sale moved it (compare-and-set).
  Whether one refused item sinks the whole call is not documented (the payload has a single
  `inventoryAdjustmentGroup`), so both answers are read as what they say: userErrors with an
  adjustment group mean the other items were written; userErrors without one mean nothing
  was, and the items without an error are sent again in a new call. A stale item is a
  conflict (with the quantity Shopify shows now), never re-sent.
  Each call carries an `@idempotent` key, reused when the same request is retried, and a
  `referenceDocumentUri` naming the omnisync run behind the change
  (`gid://omnisync/SyncRun/<run id>`), so the shop's inventory history says why stock moved.
  Up to 4 calls run at once.
- Without the `read_all_orders` scope only the last 60 days of orders are visible.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError, field_validator

from omnisync.channels.base import (
    ChannelConfig,
    ChannelContext,
    ChannelSettings,
    ChannelType,
    SecretStr,
)
from omnisync.channels.shopify import queries as q
from omnisync.channels.shopify.mapping import map_order, order_search
from omnisync.channels.shopify.payloads import (
    Extensions,
    GraphQLError,
    LevelsData,
    LineItem,
    LineItems,
    ListingsData,
    OrderLinesData,
    OrderNode,
    OrderRefundsData,
    OrdersData,
    PageInfo,
    ProbeData,
    Refund,
    SetData,
    available,
)
from omnisync.errors import ChannelError, ChannelResponseError
from omnisync.httpclient import Budget, ChannelHttp, CostBucket, Kind, RetryPolicy, Verdict, snippet
from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange
from omnisync.payload import Payload, parse

log = logging.getLogger("omnisync.channels.shopify")

DEFAULT_API_VERSION = "2026-10"
P = TypeVar("P", bound=Payload)

_STORE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$|^unstable$")

STALE_CODES = {"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"}
_ERROR_KINDS = {
    "THROTTLED": Kind.THROTTLED,
    "ACCESS_DENIED": Kind.AUTH,
    "INTERNAL_SERVER_ERROR": Kind.TRANSIENT,
    "SERVICE_UNAVAILABLE": Kind.TRANSIENT,
    "MAX_COST_EXCEEDED": Kind.BAD_REQUEST,
}


class ShopifySettings(ChannelSettings):
    store: str
    token: SecretStr
    location: str
    api_version: str = DEFAULT_API_VERSION

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        value = value.strip().lower().removeprefix("https://").rstrip("/")
        if not _STORE.match(value):
            raise ValueError("expected the shop's NAME.myshopify.com domain")
        return value

    @field_validator("location", mode="before")
    @classmethod
    def _location(cls, value: Any) -> str:
        text = str(value).strip() if isinstance(value, int | str) else ""
        if text.isdigit():
            return f"gid://shopify/Location/{text}"
        if re.fullmatch(r"gid://shopify/Location/\d+", text):
            return text
        raise ValueError("expected a location GID (gid://shopify/Location/123) or its number")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("expected a Shopify API version like 2026-10")
        return value


class ShopifyChannel:
    """A Shopify store, at one location."""

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
    ) -> None:
        self.name = name
        self.settings = settings
        self.location = settings.location
        root = base_url or f"https://{settings.store}"
        self.url = f"{root}/admin/api/{settings.api_version}/graphql.json"
        self.budget = budget or Budget(name, timeout)
        self.http = ChannelHttp(
            name,
            budget=self.budget,
            client=client,
            policy=policy,
            credential_hint=f"the Admin API access token in [channels.{name}] token",
            headers={"X-Shopify-Access-Token": settings.token.reveal()},
        )
        self.bucket = CostBucket(self.budget)
        # 2026-01 renamed the compare-and-set field; earlier pinned versions use the old name.
        before_2026 = settings.api_version != "unstable" and settings.api_version < "2026-01"
        self.cas_field = "compareQuantity" if before_2026 else "changeFromQuantity"
        self.idempotent = not before_2026

    # -- GraphQL plumbing ---------------------------------------------------------------

    def _extensions(self, payload: dict[str, Any]) -> Extensions | None:
        try:
            return parse(Extensions, payload.get("extensions") or {})
        except ValidationError:
            return None  # not every proxy passes extensions through; pacing then falls back

    def _classify(self, response: httpx.Response) -> Verdict | None:
        """Shopify's own failure signals inside an HTTP 200."""
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
            )
        if not payload.get("errors"):
            return None
        try:
            errors = parse(list[GraphQLError], payload["errors"])
        except ValidationError:
            return Verdict(Kind.BAD_REQUEST, f"Shopify answered: {snippet(str(payload['errors']))}")
        messages = "; ".join(error.message for error in errors)
        kinds = [_ERROR_KINDS.get(error.code or "", Kind.BAD_REQUEST) for error in errors]
        if Kind.THROTTLED in kinds:
            requested = cost.requestedQueryCost if cost else None
            wait = self.bucket.wait_for(requested) if requested else None
            return Verdict(Kind.THROTTLED, "THROTTLED", wait)
        if Kind.AUTH in kinds:
            return Verdict(Kind.AUTH, f"access denied: {snippet(messages)}")
        if kinds and all(kind is Kind.TRANSIENT for kind in kinds):
            return Verdict(Kind.TRANSIENT, f"Shopify error: {snippet(messages)}")
        return Verdict(Kind.BAD_REQUEST, f"Shopify refused the query: {snippet(messages)}")

    async def _graphql(
        self, query: str, variables: dict[str, Any], model: type[P], *, cost: int, context: str
    ) -> P:
        """Send one operation (paced by its cost) and read its `data` as `model`."""

        async def pace() -> None:
            await self.bucket.reserve(cost)

        response = await self.http.send(
            "POST",
            self.url,
            json_body={"query": query, "variables": variables},
            classify=self._classify,
            before=pace,
            context=context,
        )
        # _classify has seen a JSON object without errors; `data` is what must fit.
        payload = self.http.json(response, "a GraphQL JSON response")
        return self.http.validate(response, model, payload.get("data"), root="data")

    def _cursor(self, info: PageInfo, where: str) -> str:
        if not info.endCursor:
            raise ChannelResponseError(
                self.name, f"{where}.pageInfo: expected an endCursor when hasNextPage is true"
            )
        return info.endCursor

    # -- listings --------------------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        # The location's inventory levels are exactly the items that can be written there
        # (others answer ITEM_NOT_STOCKED_AT_LOCATION), one level per variant.
        listings: list[Listing] = []
        untracked = 0
        after: str | None = None
        while True:
            data = await self._graphql(
                q.LISTINGS_QUERY,
                {"first": q.LISTING_PAGE, "after": after, "location": self.location},
                ListingsData,
                cost=q.LISTINGS_COST,
                context="reading inventory levels",
            )
            if data.location is None:
                raise ChannelResponseError(
                    self.name,
                    f"location {self.location} not found: check [channels.{self.name}] "
                    f"location (run `omnisync check`)",
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
                        id=level.item.id,
                        channel_sku=(level.item.sku or "").strip(),
                        quantity=quantity,
                    )
                )
            if not levels.pageInfo.hasNextPage:
                break
            after = self._cursor(levels.pageInfo, "data.location.inventoryLevels")
        if untracked:
            log.info("%s: skipped %d untracked inventory items", self.name, untracked)
        return listings

    # -- orders ----------------------------------------------------------------------------

    async def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        # Both bounds in the search, sorted by UPDATED_AT with keyset cursors: an order updated
        # while we page leaves this window (the next run's window holds it) and shifts nothing.
        search = order_search(updated_since, updated_until)
        after: str | None = None
        seen: set[str] = set()
        while True:
            data = await self._graphql(
                q.ORDERS_QUERY,
                {
                    "first": q.ORDER_PAGE,
                    "after": after,
                    "query": search,
                    "lines": q.ORDER_LINES,
                    "refunds": q.ORDER_REFUNDS,
                    "refundLines": q.ORDER_REFUND_LINES,
                },
                OrdersData,
                cost=q.ORDERS_COST,
                context="reading orders",
            )
            for node in data.orders.nodes:
                if node.id in seen:
                    continue
                seen.add(node.id)
                order = await self._order(node)
                # The search filter is the channel's; the contract's window is ours to keep.
                if updated_since <= order.updated_at < updated_until:
                    yield order
            if not data.orders.pageInfo.hasNextPage:
                return
            after = self._cursor(data.orders.pageInfo, "data.orders")

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
        return map_order(node, lines, refunds)

    async def _more_lines(self, order_id: str, first: LineItems) -> list[LineItem]:
        lines: list[LineItem] = []
        after = self._cursor(first.pageInfo, f"order {order_id} lineItems")
        while True:
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

    # -- push ------------------------------------------------------------------------------

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        results: list[PushResult] = []
        stale: list[QuantityChange] = []
        slots = asyncio.Semaphore(q.PUSH_CONCURRENCY)

        async def push(
            chunk: list[QuantityChange],
        ) -> tuple[list[PushResult], list[QuantityChange]]:
            async with slots:
                return await self._push_chunk(chunk, run_id)

        # Calls touch disjoint items and each is compare-and-set, so they may overlap.
        size = q.MAX_PAGE
        chunks = [list(changes[i : i + size]) for i in range(0, len(changes), size)]
        for done, conflicts in await asyncio.gather(*(push(chunk) for chunk in chunks)):
            results += done
            stale += conflicts
        if stale:
            current = await self._current(stale)
            for change in stale:
                now = current.get(change.listing_id)
                results.append(
                    PushResult(
                        change.listing_id,
                        "conflict",
                        f"Shopify shows {now if now is not None else 'another quantity'}, "
                        f"this run read {change.expected}: sold or changed meanwhile",
                        current=now,
                    )
                )
        return results

    def _set_variables(self, pending: list[QuantityChange], run_id: int) -> dict[str, Any]:
        variables: dict[str, Any] = {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": f"gid://omnisync/SyncRun/{run_id}",
                "quantities": [
                    {
                        "inventoryItemId": change.listing_id,
                        "locationId": self.location,
                        "quantity": change.target,
                        self.cas_field: change.expected,
                    }
                    for change in pending
                ],
            },
        }
        if self.idempotent:
            # A fresh key per distinct request: Shopify answers a reused key with new
            # variables by IDEMPOTENCY_KEY_PARAMETER_MISMATCH. Network retries of this very
            # request re-send the same body, so they reuse it.
            variables["key"] = str(uuid.uuid4())
        return variables

    async def _push_chunk(
        self, chunk: list[QuantityChange], run_id: int
    ) -> tuple[list[PushResult], list[QuantityChange]]:
        results: list[PushResult] = []
        stale: list[QuantityChange] = []
        pending = chunk
        while pending:
            data = await self._graphql(
                q.SET_MUTATION if self.idempotent else q.SET_MUTATION_UNKEYED,
                self._set_variables(pending, run_id),
                SetData,
                cost=q.MUTATION_COST,
                context="setting quantities",
            )
            answer = data.inventorySetQuantities
            if not answer.userErrors:
                results += [PushResult(change.listing_id, "written") for change in pending]
                break
            failed_at: dict[int, tuple[str | None, str]] = {}
            general: list[str] = []
            for error in answer.userErrors:
                index = error.quantity_index
                if index is not None and index < len(pending):
                    failed_at.setdefault(index, (error.code, error.message))
                else:
                    general.append(f"{error.code}: {error.message}")
            if general or not failed_at:
                # An error about the whole input: nothing was written.
                detail = "; ".join(general) or "rejected"
                results += [
                    PushResult(change.listing_id, "failed", f"Shopify: {detail}")
                    for change in pending
                ]
                break
            for index, (code, message) in failed_at.items():
                change = pending[index]
                if code in STALE_CODES:
                    stale.append(change)
                else:
                    results.append(
                        PushResult(change.listing_id, "failed", f"Shopify: {code}: {message}")
                    )
            rest = [change for index, change in enumerate(pending) if index not in failed_at]
            if answer.inventoryAdjustmentGroup is not None:
                # The call went through for the items without an error.
                results += [PushResult(change.listing_id, "written") for change in rest]
                break
            # The call was refused as a whole: the items without an error were not written.
            pending = rest
        return results, stale

    async def _current(self, changes: Sequence[QuantityChange]) -> dict[str, int]:
        """The `available` quantity Shopify shows now for each listing."""
        current: dict[str, int] = {}
        ids = [change.listing_id for change in changes]
        for start in range(0, len(ids), q.LEVELS_PAGE):
            batch = ids[start : start + q.LEVELS_PAGE]
            data = await self._graphql(
                q.LEVELS_QUERY,
                {"ids": batch, "location": self.location},
                LevelsData,
                cost=q.levels_cost(len(batch)),
                context="re-reading quantities",
            )
            for node in data.nodes:
                if node is None or node.id is None or node.inventoryLevel is None:
                    continue
                quantity = available(node.inventoryLevel.quantities)
                if quantity is not None:
                    current[node.id] = quantity
        return current

    # -- probe -----------------------------------------------------------------------------

    async def probe(self) -> ChannelProbe:
        try:
            data = await self._graphql(
                q.PROBE_QUERY,
                {"location": self.location},
                ProbeData,
                cost=q.PROBE_COST,
                context="checking access",
            )
        except ChannelError as exc:
            return ChannelProbe(ok=False, messages=(exc.message,))
        messages: list[str] = []
        ok = True
        shop = data.shop.name if data.shop else "?"
        messages.append(
            f"token accepted by {self.settings.store} ({shop}), API {self.settings.api_version}"
        )
        if data.location is None:
            ok = False
            messages.append(
                f"location {self.location} not found: check [channels.{self.name}] location "
                f"(Shopify admin → Settings → Locations; the number at the end of its URL)"
            )
        else:
            active = "" if data.location.isActive else " (inactive)"
            messages.append(f"location {data.location.name}{active}")
        installation = data.currentAppInstallation
        scopes = {scope.handle for scope in installation.accessScopes} if installation else set()
        needed = {
            "read_orders": {"read_orders", "write_orders"},
            "write_inventory": {"write_inventory"},
            "read_products": {"read_products", "write_products"},
        }
        missing = [name for name, any_of in needed.items() if not scopes & any_of]
        if missing:
            ok = False
            messages.append(
                f"the token lacks the scopes {', '.join(missing)}: add them to the app "
                f"in the Shopify admin and reinstall it"
            )
        if "read_all_orders" not in scopes:
            messages.append(
                "without the read_all_orders scope Shopify shows only the last 60 days of "
                "orders: a longer --since or outage would miss older updates"
            )
        return ChannelProbe(ok=ok, messages=tuple(messages))

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
    )


CHANNEL_TYPE = ChannelType(settings=ShopifySettings, open=_open)
