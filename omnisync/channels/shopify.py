"""Shopify through the Admin GraphQL API: orders in, `available` quantities out.

Listings are the variants' inventory items stocked at the configured location (`Listing.id` is
the InventoryItem GID), read as that location's inventory levels. Untracked items are skipped
(logged); an item without a SKU is returned with `channel_sku=""`, so it is reported and never
written.

Status mapping (an order's `status`, and a per-line override where a line differs):

    Shopify                                              omnisync
    ---------------------------------------------------  ------------------------------------
    cancelledAt set, or financial VOIDED / EXPIRED       cancelled
    financial PENDING / AUTHORIZED (not cancelled)       pending
    financial PAID / PARTIALLY_PAID / *_REFUNDED         paid
    a line with no unfulfilled units left                shipped (completed once the order is
                                                         closed); the order is shipped when
                                                         every line is
    refunded units, restockType RETURN (or LEGACY_       extra line `<line id>/returned`,
      RESTOCK after fulfilment)                          returned (restock_returns decides)
    refunded units, restockType NO_RESTOCK               extra line `<line id>/kept`: shipped if
                                                         the order had any fulfilment (the goods
                                                         are gone), else cancelled
    refunded units, restockType CANCEL (or LEGACY_       nothing extra: they were never shipped
      RESTOCK before fulfilment)                         and the line's quantity already drops

A line's quantity is Shopify's `currentQuantity` ("units ordered, excluding refunded and
removed units"), so an edited or refunded line corrects itself in the ledger. A partly
fulfilled line stays `paid` until its last unit ships: for `available` (on_hand − committed)
a unit that is committed and one that has left count the same.

API quirks handled here:
- Throttling is HTTP 200 with `errors[].extensions.code == "THROTTLED"`; every response
  carries `extensions.cost.throttleStatus`, which paces the next query (CostBucket).
- A query may request at most 1,000 points, charged by worst case: `first` multiplies through
  nested connections, so page sizes below are derived from that limit, and an order with more
  line items or refunds than one page holds is completed by a follow-up query.
- `inventorySetQuantities` takes `changeFromQuantity` (2026-01+; `compareQuantity` before),
  the quantity this run read: Shopify refuses a write when a sale moved it (compare-and-set).
  The call is all-or-nothing when any item has a userError, so the other items are re-sent.
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from pydantic import field_validator

from omnisync.channels.base import (
    ChannelConfig,
    ChannelContext,
    ChannelSettings,
    ChannelType,
    SecretStr,
)
from omnisync.errors import ChannelError, ChannelResponseError
from omnisync.httpclient import Budget, ChannelHttp, CostBucket, Kind, RetryPolicy, Verdict, snippet
from omnisync.models import (
    ChannelProbe,
    Listing,
    Order,
    OrderLine,
    PushResult,
    QuantityChange,
    Status,
)
from omnisync.timeparse import as_utc, from_iso

log = logging.getLogger(__name__)

DEFAULT_API_VERSION = "2026-10"
MAX_QUERY_COST = 1000  # Shopify refuses a single query that requests more (MAX_COST_EXCEEDED)
MAX_PAGE = 250  # Shopify's cap on `first` and on input arrays
MUTATION_COST = 10
PUSH_CONCURRENCY = 4  # inventorySetQuantities calls in flight at once (10 points each)

# Requested cost of one node, by Shopify's rules: an object costs 1, a connection 2 plus
# `first` times its node, scalars 0.
# location.inventoryLevels node: level + quantities + item = 3 (the item carries the SKU;
# the variant's title would cost a fourth point per listing, a third more, so it is not read).
LISTING_NODE_COST = 3
LISTING_PAGE = min(MAX_PAGE, (MAX_QUERY_COST - 2 - 1) // LISTING_NODE_COST)  # 250
# Order node: the order 1; lineItems 2 + LINES × (line 1 + originalUnitPriceSet 1 +
# shopMoney 1); refunds 2 + REFUNDS × (refund 1 + refundLineItems 2 + REFUND_LINES ×
# (refundLineItem 1 + lineItem 1)). Sized for the common order (a few lines, at most two
# refunds) so a page holds 26 orders; bigger orders get a follow-up query each.
ORDER_LINES = 5
ORDER_REFUNDS = 2
ORDER_REFUND_LINES = 3


def order_node_cost(lines: int, refunds: int, refund_lines: int) -> int:
    return 1 + (2 + lines * 3) + (2 + refunds * (1 + 2 + refund_lines * 2))


ORDER_PAGE = min(
    MAX_PAGE,
    (MAX_QUERY_COST - 2) // order_node_cost(ORDER_LINES, ORDER_REFUNDS, ORDER_REFUND_LINES),
)
# Follow-ups for one big order: `order` 1 + lineItems 2 + 250 × 3 = 753.
FOLLOW_LINES = 250
# order 1 + refunds 2 + 10 × (1 + 2 + 45 × 2) = 933.
FOLLOW_REFUNDS, FOLLOW_REFUND_LINES = 10, 45
# nodes(ids:) on inventory items: item + inventoryLevel + quantities = 3 each.
LEVELS_PAGE = min(MAX_PAGE, (MAX_QUERY_COST - 2) // 3)

_STORE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$|^unstable$")


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


LINE_FIELDS = """
  id sku quantity currentQuantity unfulfilledQuantity
  originalUnitPriceSet { shopMoney { amount currencyCode } }
"""
REFUND_FIELDS = """
  id
  refundLineItems(first: $refundLines) {
    pageInfo { hasNextPage }
    nodes { quantity restockType lineItem { id } }
  }
"""
ORDERS_QUERY = f"""
query Orders($first: Int!, $after: String, $query: String!, $lines: Int!, $refunds: Int!,
             $refundLines: Int!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id name createdAt updatedAt cancelledAt closedAt
      displayFinancialStatus displayFulfillmentStatus
      lineItems(first: $lines) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {LINE_FIELDS} }}
      }}
      refunds(first: $refunds) {{ {REFUND_FIELDS} }}
    }}
  }}
}}
"""
ORDER_LINES_QUERY = f"""
query OrderLines($id: ID!, $after: String, $lines: Int!) {{
  order(id: $id) {{
    lineItems(first: $lines, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {LINE_FIELDS} }}
    }}
  }}
}}
"""
ORDER_REFUNDS_QUERY = f"""
query OrderRefunds($id: ID!, $refunds: Int!, $refundLines: Int!) {{
  order(id: $id) {{
    refunds(first: $refunds) {{ {REFUND_FIELDS} }}
  }}
}}
"""
LISTINGS_QUERY = """
query Listings($first: Int!, $after: String, $location: ID!) {
  location(id: $location) {
    inventoryLevels(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        quantities(names: ["available"]) { name quantity }
        item { id sku tracked }
      }
    }
  }
}
"""
LEVELS_QUERY = """
query Levels($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $location) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}
"""
# `@idempotent` exists from 2026-01; a store pinned to an older version cannot take it.
SET_MUTATION = """
mutation SetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""
SET_MUTATION_UNKEYED = """
mutation SetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""
PROBE_QUERY = """
query Probe($location: ID!) {
  shop { name }
  location(id: $location) { id name isActive }
  currentAppInstallation { accessScopes { handle } }
}
"""

STALE_CODES = {"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"}
_ERROR_KINDS = {
    "THROTTLED": Kind.THROTTLED,
    "ACCESS_DENIED": Kind.AUTH,
    "INTERNAL_SERVER_ERROR": Kind.TRANSIENT,
    "SERVICE_UNAVAILABLE": Kind.TRANSIENT,
    "MAX_COST_EXCEEDED": Kind.BAD_REQUEST,
}


@dataclass
class _LineParts:
    """What one Shopify line contributes: itself, and units refunded by restock type."""

    node: dict[str, Any]
    returned: int = 0
    kept: int = 0


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

    def _read_cost(self, payload: Any) -> None:
        try:
            status = payload["extensions"]["cost"]["throttleStatus"]
            self.bucket.update(
                maximum=float(status["maximumAvailable"]),
                available=float(status["currentlyAvailable"]),
                rate=float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            pass  # not every proxy passes extensions through; pacing then falls back

    def _classify(self, response: httpx.Response) -> Verdict | None:
        """Shopify's own failure signals inside an HTTP 200."""
        try:
            payload = response.json()
        except ValueError:
            return Verdict(Kind.MALFORMED, f"expected a JSON body, got {snippet(response.text)}")
        if not isinstance(payload, dict):
            return Verdict(Kind.MALFORMED, f"expected a JSON object, got {snippet(response.text)}")
        self._read_cost(payload)
        errors = payload.get("errors")
        if not errors:
            return None
        if not isinstance(errors, list):
            return Verdict(Kind.BAD_REQUEST, f"Shopify answered: {snippet(str(errors))}")
        codes = [
            (err.get("extensions") or {}).get("code") for err in errors if isinstance(err, dict)
        ]
        messages = "; ".join(
            str(err.get("message", err)) if isinstance(err, dict) else str(err) for err in errors
        )
        kinds = [_ERROR_KINDS.get(code or "", Kind.BAD_REQUEST) for code in codes]
        if Kind.THROTTLED in kinds:
            requested = _cost_requested(payload)
            wait = self.bucket.wait_for(requested) if requested else None
            return Verdict(Kind.THROTTLED, "THROTTLED", wait)
        if Kind.AUTH in kinds:
            return Verdict(Kind.AUTH, f"access denied: {snippet(messages)}")
        if kinds and all(kind is Kind.TRANSIENT for kind in kinds):
            return Verdict(Kind.TRANSIENT, f"Shopify error: {snippet(messages)}")
        return Verdict(Kind.BAD_REQUEST, f"Shopify refused the query: {snippet(messages)}")

    async def _graphql(
        self, query: str, variables: dict[str, Any], *, cost: int, context: str
    ) -> tuple[httpx.Response, dict[str, Any]]:
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
        payload = self.http.json(response, "a GraphQL JSON response")
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise self.http.malformed(response, "an object with `data`", payload)
        return response, data

    # -- listings --------------------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        # The location's inventory levels are exactly the items that can be written there
        # (others answer ITEM_NOT_STOCKED_AT_LOCATION), one level per variant.
        listings: list[Listing] = []
        untracked = 0
        after: str | None = None
        while True:
            response, data = await self._graphql(
                LISTINGS_QUERY,
                {"first": LISTING_PAGE, "after": after, "location": self.location},
                cost=2 + 1 + LISTING_PAGE * LISTING_NODE_COST,
                context="reading inventory levels",
            )
            location = data.get("location")
            if location is None and "location" in data:
                raise ChannelResponseError(
                    self.name,
                    f"location {self.location} not found: check [channels.{self.name}] "
                    f"location (run `omnisync check`)",
                )
            if not isinstance(location, dict):
                raise self.http.malformed(response, "`location` with inventoryLevels", data)
            nodes, info = self._connection(response, location, "inventoryLevels")
            for node in nodes:
                try:
                    item = node["item"]
                    if not item.get("tracked"):
                        untracked += 1
                        continue
                    listings.append(
                        Listing(
                            id=str(item["id"]),
                            channel_sku=(item.get("sku") or "").strip(),
                            quantity=_available(node["quantities"]),
                        )
                    )
                except (KeyError, TypeError, ValueError):
                    raise self.http.malformed(
                        response, "an inventory level with quantities and item { id sku }", node
                    ) from None
            if not info.get("hasNextPage"):
                break
            after = _cursor(self.http, response, info)
        if untracked:
            log.info("%s: skipped %d untracked inventory items", self.name, untracked)
        return listings

    def _connection(
        self, response: httpx.Response, data: dict[str, Any], key: str
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        conn = data.get(key)
        if (
            not isinstance(conn, dict)
            or not isinstance(conn.get("nodes"), list)
            or not isinstance(conn.get("pageInfo"), dict)
        ):
            raise self.http.malformed(response, f"`{key}` with nodes and pageInfo", data)
        return conn["nodes"], conn["pageInfo"]

    # -- orders ----------------------------------------------------------------------------

    async def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        # Both bounds in the search, sorted by UPDATED_AT with keyset cursors: an order updated
        # while we page leaves this window (the next run's window holds it) and shifts nothing.
        # Whole seconds for Shopify's search (floor the start, ceil the end); the exact
        # window is applied to what comes back.
        start = _second(updated_since)
        end = _second(updated_until + timedelta(seconds=1) - timedelta(microseconds=1))
        search = f"updated_at:>='{start}' AND updated_at:<'{end}'"
        after: str | None = None
        seen: set[str] = set()
        cost = 2 + ORDER_PAGE * order_node_cost(ORDER_LINES, ORDER_REFUNDS, ORDER_REFUND_LINES)
        while True:
            response, data = await self._graphql(
                ORDERS_QUERY,
                {
                    "first": ORDER_PAGE,
                    "after": after,
                    "query": search,
                    "lines": ORDER_LINES,
                    "refunds": ORDER_REFUNDS,
                    "refundLines": ORDER_REFUND_LINES,
                },
                cost=cost,
                context="reading orders",
            )
            nodes, info = self._connection(response, data, "orders")
            for node in nodes:
                order = await self._order(response, node)
                if order.id in seen:
                    continue
                seen.add(order.id)
                # The search filter is the channel's; the contract's window is ours to keep.
                if updated_since <= order.updated_at < updated_until:
                    yield order
            if not info.get("hasNextPage"):
                return
            after = _cursor(self.http, response, info)

    async def _order(self, response: httpx.Response, node: dict[str, Any]) -> Order:
        try:
            order_id = str(node["id"])
            lines = list(node["lineItems"]["nodes"])
            if node["lineItems"]["pageInfo"].get("hasNextPage"):
                lines += await self._more_lines(
                    order_id, node["lineItems"]["pageInfo"].get("endCursor")
                )
            refunds = list(node["refunds"])
            if len(refunds) >= ORDER_REFUNDS or any(
                refund["refundLineItems"]["pageInfo"].get("hasNextPage") for refund in refunds
            ):
                refunds = await self._all_refunds(order_id)
            return _map_order(node, lines, refunds)
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise self.http.malformed(
                response, "an order with id, dates, statuses, lineItems and refunds", node
            ) from None

    async def _more_lines(self, order_id: str, after: str | None) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        while True:
            response, data = await self._graphql(
                ORDER_LINES_QUERY,
                {"id": order_id, "after": after, "lines": FOLLOW_LINES},
                cost=1 + 2 + FOLLOW_LINES * 3,
                context=f"reading the lines of {order_id}",
            )
            order = data.get("order")
            if not isinstance(order, dict):
                raise self.http.malformed(response, f"order {order_id}", data)
            nodes, info = self._connection(response, order, "lineItems")
            lines += nodes
            if not info.get("hasNextPage"):
                return lines
            after = _cursor(self.http, response, info)

    async def _all_refunds(self, order_id: str) -> list[dict[str, Any]]:
        response, data = await self._graphql(
            ORDER_REFUNDS_QUERY,
            {"id": order_id, "refunds": FOLLOW_REFUNDS, "refundLines": FOLLOW_REFUND_LINES},
            cost=1 + 2 + FOLLOW_REFUNDS * (1 + 2 + FOLLOW_REFUND_LINES * 2),
            context=f"reading the refunds of {order_id}",
        )
        order = data.get("order")
        if not isinstance(order, dict) or not isinstance(order.get("refunds"), list):
            raise self.http.malformed(response, f"order {order_id} with refunds", data)
        refunds: list[dict[str, Any]] = order["refunds"]
        if len(refunds) >= FOLLOW_REFUNDS or any(
            refund["refundLineItems"]["pageInfo"].get("hasNextPage") for refund in refunds
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
        slots = asyncio.Semaphore(PUSH_CONCURRENCY)

        async def push(
            chunk: list[QuantityChange],
        ) -> tuple[list[PushResult], list[QuantityChange]]:
            async with slots:
                return await self._push_chunk(chunk, run_id)

        # Calls touch disjoint items and each is compare-and-set, so they may overlap.
        chunks = [list(changes[i : i + MAX_PAGE]) for i in range(0, len(changes), MAX_PAGE)]
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

    async def _push_chunk(
        self, chunk: list[QuantityChange], run_id: int
    ) -> tuple[list[PushResult], list[QuantityChange]]:
        results: list[PushResult] = []
        stale: list[QuantityChange] = []
        pending = chunk
        while pending:
            variables: dict[str, Any] = {
                # A fresh key per distinct request: Shopify answers a reused key with new
                # variables by IDEMPOTENCY_KEY_PARAMETER_MISMATCH. Network retries of this
                # very request re-send the same body, so they reuse it.
                "key": str(uuid.uuid4()),
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
            if not self.idempotent:
                del variables["key"]
            response, data = await self._graphql(
                SET_MUTATION if self.idempotent else SET_MUTATION_UNKEYED,
                variables,
                cost=MUTATION_COST,
                context="setting quantities",
            )
            payload = data.get("inventorySetQuantities")
            if not isinstance(payload, dict) or not isinstance(payload.get("userErrors"), list):
                raise self.http.malformed(response, "inventorySetQuantities with userErrors", data)
            errors = payload["userErrors"]
            if not errors:
                results += [PushResult(change.listing_id, "written") for change in pending]
                break
            failed_at: dict[int, dict[str, Any]] = {}
            general: list[str] = []
            for error in errors:
                index = _quantity_index(error.get("field"))
                if index is not None and index < len(pending):
                    failed_at.setdefault(index, error)
                else:
                    general.append(f"{error.get('code')}: {error.get('message')}")
            if general or not failed_at:
                # An error about the whole input: nothing was written.
                detail = "; ".join(general) or "rejected"
                results += [
                    PushResult(change.listing_id, "failed", f"Shopify: {detail}")
                    for change in pending
                ]
                break
            for index, error in failed_at.items():
                change = pending[index]
                if error.get("code") in STALE_CODES:
                    stale.append(change)
                else:
                    results.append(
                        PushResult(
                            change.listing_id,
                            "failed",
                            f"Shopify: {error.get('code')}: {error.get('message')}",
                        )
                    )
            rest = [change for index, change in enumerate(pending) if index not in failed_at]
            if payload.get("inventoryAdjustmentGroup") is not None:
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
        for start in range(0, len(ids), LEVELS_PAGE):
            batch = ids[start : start + LEVELS_PAGE]
            response, data = await self._graphql(
                LEVELS_QUERY,
                {"ids": batch, "location": self.location},
                cost=2 + len(batch) * 3,
                context="re-reading quantities",
            )
            nodes = data.get("nodes")
            if not isinstance(nodes, list):
                raise self.http.malformed(response, "`nodes`", data)
            for node in nodes:
                if isinstance(node, dict) and isinstance(node.get("inventoryLevel"), dict):
                    try:
                        current[str(node["id"])] = _available(node["inventoryLevel"]["quantities"])
                    except (KeyError, TypeError, ValueError):
                        raise self.http.malformed(response, "quantities", node) from None
        return current

    # -- probe -----------------------------------------------------------------------------

    async def probe(self) -> ChannelProbe:
        try:
            _, data = await self._graphql(
                PROBE_QUERY, {"location": self.location}, cost=5, context="checking access"
            )
        except ChannelError as exc:
            return ChannelProbe(ok=False, messages=(exc.message,))
        messages: list[str] = []
        ok = True
        shop = (data.get("shop") or {}).get("name", "?")
        messages.append(
            f"token accepted by {self.settings.store} ({shop}), API {self.settings.api_version}"
        )
        location = data.get("location")
        if not isinstance(location, dict):
            ok = False
            messages.append(
                f"location {self.location} not found: check [channels.{self.name}] location "
                f"(Shopify admin → Settings → Locations; the number at the end of its URL)"
            )
        else:
            active = "" if location.get("isActive", True) else " (inactive)"
            messages.append(f"location {location.get('name')}{active}")
        scopes = {
            scope.get("handle")
            for scope in ((data.get("currentAppInstallation") or {}).get("accessScopes") or [])
            if isinstance(scope, dict)
        }
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


# -- mapping ------------------------------------------------------------------------------


def _second(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cost_requested(payload: dict[str, Any]) -> float | None:
    try:
        return float(payload["extensions"]["cost"]["requestedQueryCost"])
    except (KeyError, TypeError, ValueError):
        return None


def _cursor(http: ChannelHttp, response: httpx.Response, info: dict[str, Any]) -> str:
    cursor = info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise http.malformed(response, "pageInfo.endCursor when hasNextPage is true", info)
    return cursor


def _available(quantities: list[dict[str, Any]]) -> int:
    for quantity in quantities:
        if quantity["name"] == "available":
            return int(quantity["quantity"])
    raise ValueError("no `available` quantity")


def _quantity_index(field: Any) -> int | None:
    """The item a userError is about: field ["input", "quantities", "3", ...] → 3."""
    if isinstance(field, list) and len(field) >= 3 and field[1] == "quantities":
        try:
            return int(field[2])
        except (TypeError, ValueError):
            return None
    return None


def _map_order(
    node: dict[str, Any], lines: list[dict[str, Any]], refunds: list[dict[str, Any]]
) -> Order:
    financial = node.get("displayFinancialStatus") or ""
    fulfilment = node.get("displayFulfillmentStatus") or ""
    cancelled = node.get("cancelledAt") is not None or financial in ("VOIDED", "EXPIRED")
    closed = node.get("closedAt") is not None
    base = Status.PENDING if financial in ("PENDING", "AUTHORIZED") else Status.PAID
    shipped = Status.COMPLETED if closed else Status.SHIPPED
    any_fulfilment = fulfilment in ("FULFILLED", "PARTIALLY_FULFILLED", "RESTOCKED")

    parts: dict[str, _LineParts] = {str(line["id"]): _LineParts(line) for line in lines}
    for refund in refunds:
        for item in refund["refundLineItems"]["nodes"]:
            part = parts.get(str((item.get("lineItem") or {}).get("id")))
            if part is None:
                continue
            restock = item.get("restockType")
            quantity = int(item["quantity"])
            if restock == "RETURN" or (restock == "LEGACY_RESTOCK" and any_fulfilment):
                part.returned += quantity
            elif restock == "NO_RESTOCK":
                part.kept += quantity

    out: list[OrderLine] = []
    line_statuses: list[Status] = []
    for line_id, part in parts.items():
        line = part.node
        sku = (line.get("sku") or "").strip()
        price, currency = _price(line)
        current = int(line["currentQuantity"])
        if cancelled:
            status = Status.CANCELLED
        elif int(line["unfulfilledQuantity"]) == 0 and current > 0:
            status = shipped
        else:
            status = base
        line_statuses.append(status)
        out.append(OrderLine(line_id, sku, current, status, price, currency))
        if part.returned:
            out.append(
                OrderLine(
                    f"{line_id}/returned", sku, part.returned, Status.RETURNED, price, currency
                )
            )
        if part.kept:
            kept_status = shipped if any_fulfilment else Status.CANCELLED
            out.append(OrderLine(f"{line_id}/kept", sku, part.kept, kept_status, price, currency))

    if cancelled:
        status = Status.CANCELLED
    elif line_statuses and all(s in (Status.SHIPPED, Status.COMPLETED) for s in line_statuses):
        status = shipped
    elif fulfilment == "FULFILLED":
        status = shipped
    else:
        status = base
    # Lines that match the order's status carry no override.
    lines_out = tuple(
        OrderLine(li.id, li.channel_sku, li.quantity, None, li.unit_price, li.currency)
        if li.status == status
        else li
        for li in out
    )
    return Order(
        id=str(node["id"]),
        status=status,
        created_at=from_iso(node["createdAt"]),
        updated_at=from_iso(node["updatedAt"]),
        lines=lines_out,
    )


def _price(line: dict[str, Any]) -> tuple[Decimal | None, str | None]:
    money = (line.get("originalUnitPriceSet") or {}).get("shopMoney")
    if not isinstance(money, dict) or money.get("amount") is None:
        return None, None
    return Decimal(str(money["amount"])), money.get("currencyCode")


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
