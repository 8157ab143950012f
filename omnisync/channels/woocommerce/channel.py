"""WooCommerce through its REST API v3 (`/wp-json/wc/v3`): orders in, stock quantities out.

Listings are simple products that manage stock (`Listing.id` = product id) and variations
that manage stock (`Listing.id` = "PARENT/VARIATION"); a variable product that manages stock
at the parent level is a listing itself. Products that do not manage stock, grouped and
external products are left alone and logged. Orders and stock are mapped by `mapping.py` (its
docstring holds the status table and the rule for a managed product with no quantity).

API quirks handled here:
- Auth is HTTP Basic with the consumer key and secret over HTTPS. Some servers drop the
  Authorization header; Woo then answers 401 as if no credentials came, and the adapter
  switches to Woo's documented query-string fallback for the rest of the run.
- `after`/`before` filter on creation; `modified_after` (GMT with `dates_are_gmt=true`) is the
  incremental filter. Pages are numbered, so a page walk over data that changes can skip an
  order when an earlier one leaves the result set: we sort by id ascending and send no upper
  bound, so an order modified during the walk keeps its place and new orders are appended;
  the window's upper bound is applied here, and the next run picks up what moved past it.
- `status=any` (the default) leaves trashed orders out, so they are fetched by a second walk
  with `status=trash` (that `any` excludes trash is read from Woo's code, not its docs).
- No compare-and-set: just before each batch write the listings are re-read, and a listing
  whose quantity moved since this run read it is returned as a conflict, not overwritten.
  A sale in the few milliseconds between that re-read and the write can still be lost; the
  next run's order fetch corrects the quantity.
- Woo documents no rate limit: collections are paged in order, while variation lists and
  write batches (independent of each other) go up to 8 at once; a host's own 429 / 503 with
  Retry-After is waited out.
- Batch writes take at most 100 objects and answer HTTP 200 with a per-item `error` object
  for the items that failed. An item answered with another quantity than the one sent (a
  plugin that rounds or caps stock, or a product that stopped managing stock, which Woo
  answers with `stock_quantity: null`) was not set as asked: it is `failed`, not `written`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import field_validator

from omnisync.channels.base import (
    ChannelConfig,
    ChannelContext,
    ChannelSettings,
    ChannelType,
    SecretStr,
)
from omnisync.channels.woocommerce.mapping import STATUSES, listing, map_order, stock_of
from omnisync.channels.woocommerce.payloads import (
    BatchAnswer,
    BatchItem,
    Product,
    StockItem,
    Variation,
    WooOrder,
)
from omnisync.errors import ChannelAuthError, ChannelError
from omnisync.httpclient import Budget, ChannelHttp, RetryPolicy
from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange
from omnisync.netloc import is_secure_url
from omnisync.payload import Payload
from omnisync.timeparse import as_utc, utcnow

log = logging.getLogger("omnisync.channels.woocommerce")

PAGE = 100  # WordPress's maximum per_page
BATCH = 100  # woocommerce_rest_batch_items_limit's default
CONCURRENCY = 8  # requests at once where order does not matter (variations, batches)

P = TypeVar("P", bound=Payload)

# Woo's answers to a request that arrived without credentials (the header was dropped).
_NO_CREDENTIALS = (
    "woocommerce_rest_cannot_view",
    "woocommerce_rest_cannot_create",
    "woocommerce_rest_cannot_edit",
    "woocommerce_rest_cannot_batch",
    "woocommerce_rest_authentication_missing",
)
PRODUCT_FIELDS = "id,sku,name,type,manage_stock,stock_quantity,variations"
VARIATION_FIELDS = "id,sku,name,manage_stock,stock_quantity"
STOCK_FIELDS = "id,manage_stock,stock_quantity"


class WooCommerceSettings(ChannelSettings):
    url: str
    key: SecretStr
    secret: SecretStr

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not is_secure_url(value):
            raise ValueError(
                "expected the shop's https:// address (http:// only for a loopback host)"
            )
        return value.strip().rstrip("/")


def _gmt(moment: datetime) -> str:
    """Woo's GMT form, without an offset: it is told `dates_are_gmt=true`."""
    return as_utc(moment).replace(tzinfo=None).isoformat(timespec="seconds")


class WooCommerceChannel:
    """A WooCommerce shop."""

    def __init__(
        self,
        name: str,
        settings: WooCommerceSettings,
        *,
        base_url: str | None = None,
        timeout: float = 180.0,
        client: httpx.AsyncClient | None = None,
        policy: RetryPolicy | None = None,
        budget: Budget | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        site = urlsplit(settings.url)
        # base_url replaces scheme and host; a WordPress in a subfolder keeps its path.
        root = base_url.rstrip("/") + site.path if base_url else settings.url
        self.api = f"{root}/wp-json/wc/v3"
        self.budget = budget or Budget(name, timeout)
        self.http = ChannelHttp(
            name,
            budget=self.budget,
            client=client,
            policy=policy,
            credential_hint=f"the REST API consumer key and secret in [channels.{name}] key "
            f"and secret (WooCommerce → Settings → Advanced → REST API)",
            auth=httpx.BasicAuth(settings.key.reveal(), settings.secret.reveal()),
        )
        self.query_auth = False
        self.header_works = False
        self._slots = asyncio.Semaphore(CONCURRENCY)

    # -- plumbing --------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json_body: Any = None,
        context: str,
    ) -> httpx.Response:
        params = dict(params or {})
        in_query = self.query_auth
        if in_query:
            params |= self._auth_params()
        try:
            response = await self.http.send(
                method, f"{self.api}{path}", params=params, json_body=json_body, context=context
            )
        except ChannelAuthError as exc:
            # Once the header has worked, a refusal is about permissions, not a lost header.
            credentials_missing = exc.http_status == 401 and exc.code in _NO_CREDENTIALS
            if in_query or self.header_works or not credentials_missing:
                raise
        else:
            self.header_works = self.header_works or not in_query
            return response
        # The server dropped the Authorization header: Woo's documented fallback.
        log.info(
            "%s: Basic auth header not received by the shop; using query parameters", self.name
        )
        self.query_auth = True
        return await self.http.send(
            method,
            f"{self.api}{path}",
            params=params | self._auth_params(),
            json_body=json_body,
            context=context,
        )

    def _auth_params(self) -> dict[str, str | int]:
        return {
            "consumer_key": self.settings.key.reveal(),
            "consumer_secret": self.settings.secret.reveal(),
        }

    async def _pages(
        self, path: str, params: dict[str, str | int], item: type[P], *, root: str, context: str
    ) -> AsyncIterator[list[P]]:
        """Every page of a collection, following Woo's Link / X-WP-TotalPages headers."""
        page = 1
        while True:
            response = await self._send(
                "GET", path, params=params | {"per_page": PAGE, "page": page}, context=context
            )
            items = self.http.parse(response, list[item], root=root)  # type: ignore[valid-type]
            yield items
            if not items or not self._has_next(response, page):
                return
            page += 1

    @staticmethod
    def _has_next(response: httpx.Response, page: int) -> bool:
        if "next" in response.links:
            return True
        total = response.headers.get("X-WP-TotalPages")
        return total is not None and total.isdigit() and int(total) > page

    # -- listings --------------------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        listings: list[Listing] = []
        variable: list[int] = []
        left_alone: list[str] = []
        async for products in self._pages(
            "/products",
            {"_fields": PRODUCT_FIELDS, "orderby": "id", "order": "asc"},
            Product,
            root="products",
            context="reading products",
        ):
            for product in products:
                if product.type == "variable" and product.variations:
                    variable.append(product.id)
                if product.manage_stock is True:
                    listings.append(
                        listing(str(product.id), product, sku=product.sku, name=product.name)
                    )
                elif product.type != "variable":
                    left_alone.append(product.sku or str(product.id))

        # Each variable product's variations are their own collection; read several at once
        # (Woo documents no rate limit, and a handful of connections is what a browser uses).
        async def read(parent: int) -> tuple[list[Listing], list[str]]:
            async with self._slots:
                return await self._variations(parent)

        for found, skipped in await asyncio.gather(*(read(parent) for parent in variable)):
            listings += found
            left_alone += skipped
        if left_alone:
            log.warning(
                "%s: %d products do not manage stock and are left alone (%s%s)",
                self.name,
                len(left_alone),
                ", ".join(left_alone[:5]),
                ", …" if len(left_alone) > 5 else "",
            )
        return listings

    async def _variations(self, parent: int) -> tuple[list[Listing], list[str]]:
        listings: list[Listing] = []
        left_alone: list[str] = []
        async for variations in self._pages(
            f"/products/{parent}/variations",
            {"_fields": VARIATION_FIELDS, "orderby": "id", "order": "asc"},
            Variation,
            root="variations",
            context=f"reading the variations of product {parent}",
        ):
            for variation in variations:
                if variation.manage_stock is True:
                    listings.append(
                        listing(
                            f"{parent}/{variation.id}",
                            variation,
                            sku=variation.sku,
                            name=variation.name,
                        )
                    )
                elif variation.manage_stock != "parent":  # "parent": the parent is the listing
                    left_alone.append(variation.sku or str(variation.id))
        return listings, left_alone

    # -- orders ----------------------------------------------------------------------------

    async def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        seen: set[str] = set()
        params: dict[str, str | int] = {
            "modified_after": _gmt(updated_since - timedelta(seconds=1)),  # Woo's is exclusive
            "dates_are_gmt": "true",
            "orderby": "id",
            "order": "asc",
        }
        # Woo's default `status=any` leaves out trashed orders, whose stock must come back:
        # they are read by a second walk, normally one short page.
        walks = (params, params | {"status": "trash"})
        for walk in walks:
            async for order in self._walk_orders(walk, seen):
                # No upper bound went to Woo (see the module docstring): it is applied here.
                if updated_since <= order.updated_at < updated_until:
                    yield order

    async def _walk_orders(
        self, params: dict[str, str | int], seen: set[str]
    ) -> AsyncIterator[Order]:
        async for orders in self._pages(
            "/orders", params, WooOrder, root="orders", context="reading orders"
        ):
            for raw in orders:
                if raw.id in seen:
                    continue
                seen.add(raw.id)
                if raw.status not in STATUSES:
                    log.warning(
                        "%s: order %s has status %r, which omnisync counts as paid",
                        self.name,
                        raw.id,
                        raw.status,
                    )
                yield map_order(raw)

    # -- push ------------------------------------------------------------------------------

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        groups: dict[str | None, list[QuantityChange]] = defaultdict(list)
        results: list[PushResult] = []
        for change in changes:
            parent, _, variation = change.listing_id.partition("/")
            if not parent.isdigit() or (variation and not variation.isdigit()):
                results.append(PushResult(change.listing_id, "failed", "not a WooCommerce id"))
                continue
            groups[parent if variation else None].append(change)
        batches = [
            (
                f"/products/{parent}/variations" if parent else "/products",
                group[start : start + BATCH],
            )
            for parent, group in groups.items()
            for start in range(0, len(group), BATCH)
        ]

        async def push(collection: str, batch: list[QuantityChange]) -> list[PushResult]:
            async with self._slots:
                return await self._push_batch(collection, batch)

        # Batches touch disjoint listings, so they may run side by side; each still re-reads
        # its own listings right before writing them.
        for done in await asyncio.gather(*(push(*batch) for batch in batches)):
            results += done
        return results

    async def _push_batch(self, collection: str, batch: list[QuantityChange]) -> list[PushResult]:
        def item_id(change: QuantityChange) -> str:
            return change.listing_id.rpartition("/")[2]

        # Re-read just before writing: Woo cannot refuse a stale write itself.
        response = await self._send(
            "GET",
            collection,
            params={
                "include": ",".join(item_id(change) for change in batch),
                "per_page": PAGE,
                "_fields": STOCK_FIELDS,
            },
            context="re-reading stock before writing",
        )
        rows = self.http.parse(response, list[StockItem], root="products")
        current = {str(row.id): row for row in rows}
        results: list[PushResult] = []
        writes: list[QuantityChange] = []
        for change in batch:
            row = current.get(item_id(change))
            now = stock_of(row) if row is not None else None
            if row is None:
                results.append(PushResult(change.listing_id, "failed", "no longer on the shop"))
            elif now is None:
                results.append(
                    PushResult(change.listing_id, "failed", "no longer manages stock on the shop")
                )
            elif now != change.expected:
                results.append(
                    PushResult(
                        change.listing_id,
                        "conflict",
                        f"WooCommerce shows {now}, this run read {change.expected}: "
                        f"sold or changed meanwhile",
                        current=now,
                    )
                )
            else:
                writes.append(change)
        if not writes:
            return results
        response = await self._send(
            "POST",
            f"{collection}/batch",
            json_body={
                "update": [
                    {"id": int(item_id(change)), "stock_quantity": change.target}
                    for change in writes
                ]
            },
            context="writing stock",
        )
        answer = self.http.parse(response, BatchAnswer, root="batch")
        answers: dict[str, BatchItem] = {}
        for position, answered in enumerate(answer.update):
            # A failed item may carry id 0; it stands in the request's position then.
            key = str(answered.id) if answered.id else ""
            if not key and position < len(writes):
                key = item_id(writes[position])
            answers[key] = answered
        for change in writes:
            item = answers.get(item_id(change))
            if item is None:
                results.append(PushResult(change.listing_id, "failed", "missing from the answer"))
            elif item.error is not None:
                results.append(
                    PushResult(
                        change.listing_id,
                        "failed",
                        f"WooCommerce: {item.error.code}: {item.error.message}",
                    )
                )
            elif item.stock_quantity != change.target:
                kept = "no quantity" if item.stock_quantity is None else item.stock_quantity
                results.append(
                    PushResult(
                        change.listing_id,
                        "failed",
                        f"WooCommerce kept {kept}, not {change.target}",
                    )
                )
            else:
                results.append(PushResult(change.listing_id, "written"))
        return results

    # -- probe -----------------------------------------------------------------------------

    async def probe(self) -> ChannelProbe:
        messages: list[str] = []
        ok = True
        try:
            await self._send(
                "GET",
                "/products",
                params={"per_page": 1, "_fields": "id"},
                context="reading products",
            )
            messages.append(f"{self.settings.url}: the key can read products")
            # An empty batch changes nothing but needs write permission.
            await self._send(
                "POST", "/products/batch", json_body={"update": []}, context="checking write access"
            )
            messages.append("the key can write products")
            tomorrow = _gmt(utcnow() + timedelta(days=1))
            response = await self._send(
                "GET",
                "/orders",
                params={"per_page": 1, "modified_after": tomorrow, "dates_are_gmt": "true"},
                context="reading orders",
            )
            if self.http.parse(response, list[dict[str, Any]], root="orders"):
                ok = False
                messages.append(
                    "the shop ignores `modified_after` (WooCommerce older than 5.x?): "
                    "omnisync cannot fetch only changed orders; update WooCommerce"
                )
            else:
                messages.append("the key can read orders, filtered by modification time")
            if self.query_auth:
                messages.append(
                    "the server drops the Authorization header; credentials go in the query "
                    "string (fix the server's header passing if you can)"
                )
        except ChannelError as exc:
            return ChannelProbe(ok=False, messages=(*messages, exc.message))
        return ChannelProbe(ok=ok, messages=tuple(messages))

    async def aclose(self) -> None:
        await self.http.aclose()


def _open(config: ChannelConfig, context: ChannelContext) -> WooCommerceChannel:
    settings = config.settings
    assert isinstance(settings, WooCommerceSettings)
    return WooCommerceChannel(
        config.name,
        settings,
        base_url=config.base_url,
        client=context.http,
        budget=context.budget,
    )


CHANNEL_TYPE = ChannelType(settings=WooCommerceSettings, open=_open)
