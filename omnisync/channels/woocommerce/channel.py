"""WooCommerce through its REST API v3 (`/wp-json/wc/v3`): orders in, stock quantities out.

Listings are simple products that manage stock (`Listing.id` = product id) and variations
that manage stock (`Listing.id` = "PARENT/VARIATION"); a variable product that manages stock
at the parent level is a listing itself. Products that do not manage stock, grouped and
external products are left alone and logged. Orders and stock are mapped by `mapping.py` (its
docstring holds the status table and the rule for a managed product with no quantity).

API quirks handled here (auth, plain permalinks and write retries: `transport.py`):
- `after`/`before` filter on creation; `modified_after` (GMT with `dates_are_gmt=true`) is the
  incremental filter. Pages are numbered, so a page walk over data that changes can skip an
  order when an earlier one leaves the result set: we sort by id ascending and send no upper
  bound, so an order modified during the walk keeps its place and new orders are appended;
  the window's upper bound is applied here, and the next run picks up what moved past it.
- `status=any` (the default) leaves trashed orders out, which is what omnisync wants:
  trashing is cleanup and keeps the order's last effect (mapping.py).
- Order lines are mapped to listings by `product_id` / `variation_id` through the SKUs read
  with the listings (mapping.py says why the line's own `sku` cannot be trusted).
- No compare-and-set: just before each batch write the listings are re-read, and a listing
  whose quantity moved since this run read it is returned as a conflict, not overwritten.
  A sale in the few milliseconds between that re-read and the write can still be lost; the
  next run's order fetch corrects the quantity. A batch write that fails with a 5xx or a
  timeout is re-read and written again, within the run, only where the listing still shows
  what this run read (or is marked written where the lost write went through).
- Woo documents no rate limit: a collection's pages after the first (their number is in its
  X-WP-TotalPages), variation lists and write batches (independent of each other) are sent
  side by side, as many at once as the host's adaptive limit allows (limit.py: from 8, grown
  while the host answers fast and clean, halved when it refuses); a host's own 429 / 503
  with Retry-After is waited out.
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
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import field_validator

from omnisync.channels.base import (
    ChannelConfig,
    ChannelContext,
    ChannelSettings,
    ChannelType,
    ReadProblem,
    SecretStr,
    moved,
)
from omnisync.channels.woocommerce.limit import CEILING, Ticket
from omnisync.channels.woocommerce.mapping import (
    SKIPPED,
    STATUSES,
    SkuIndex,
    listing,
    map_order,
    own_sku,
    stock_of,
)
from omnisync.channels.woocommerce.payloads import (
    BatchAnswer,
    BatchItem,
    Product,
    StockItem,
    Variation,
    WooOrder,
)
from omnisync.channels.woocommerce.transport import PAGE, WooRest
from omnisync.errors import (
    ChannelError,
    ChannelUnavailableError,
)
from omnisync.httpclient import Budget, RetryPolicy
from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange
from omnisync.netloc import is_secure_url
from omnisync.payload import parse_each
from omnisync.timeparse import as_utc, utcnow

log = logging.getLogger("omnisync.channels.woocommerce")

BATCH = 100  # woocommerce_rest_batch_items_limit's default
# Requests at once at most, and the connection pool's size. WooCommerce core publishes no
# rate limit (research section 2.5): the ceiling is the host's PHP workers, found run by run
# by the adaptive limit (limit.py), which starts at 8.
CONCURRENCY = CEILING

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


def _item_id(change: QuantityChange) -> str:
    """The product or variation id a listing id ends with ("PARENT/VARIATION" or "ID")."""
    return change.listing_id.rpartition("/")[2]


def _shifted(text: str, offset: int) -> str:
    """A path read within one page (`orders[3]…`) as its place in the whole walk."""
    if not offset or not text.startswith("orders["):
        return text
    index, _, rest = text[len("orders[") :].partition("]")
    return f"orders[{int(index) + offset}]{rest}" if index.isdigit() else text


def _gmt(moment: datetime) -> str:
    """Woo's GMT form, without an offset: it is told `dates_are_gmt=true`."""
    return as_utc(moment).replace(tzinfo=None).isoformat(timespec="seconds")


class WooCommerceChannel:
    """A WooCommerce shop."""

    concurrency = CONCURRENCY

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
        self.budget = budget or Budget(name, timeout)
        self.rest = WooRest(
            name,
            settings,
            root,
            budget=self.budget,
            client=client,
            policy=policy,
            connections=self.concurrency,
        )
        self.http = self.rest.http
        self.skus: SkuIndex | None = None  # filled by list_listings
        self._problems: list[ReadProblem] = []  # orders the last fetch could not read

    # -- listings --------------------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        listings: list[Listing] = []
        variable: list[tuple[int, str]] = []
        left_alone: list[str] = []
        skus = SkuIndex()
        async for products in self.rest.pages(
            "/products",
            {"_fields": PRODUCT_FIELDS, "orderby": "id", "order": "asc"},
            Product,
            root="products",
            context="reading products",
        ):
            for product in products:
                skus.products[str(product.id)] = (product.sku or "").strip()
                if product.type == "variable" and product.variations:
                    variable.append((product.id, product.sku or ""))
                if product.manage_stock is True:
                    listings.append(
                        listing(str(product.id), product, sku=product.sku, name=product.name)
                    )
                elif product.type != "variable":
                    left_alone.append(product.sku or str(product.id))

        # Each variable product's variations are their own collection; all are asked for at
        # once, each request waiting for its place in the host's limit (transport.py).
        walks = (self._variations(parent, sku, skus) for parent, sku in variable)
        for found, skipped in await asyncio.gather(*walks):
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
        self.skus = skus
        return listings

    async def _variations(
        self, parent: int, parent_sku: str, skus: SkuIndex
    ) -> tuple[list[Listing], list[str]]:
        listings: list[Listing] = []
        left_alone: list[str] = []
        async for variations in self.rest.pages(
            f"/products/{parent}/variations",
            {"_fields": VARIATION_FIELDS, "orderby": "id", "order": "asc"},
            Variation,
            root="variations",
            context=f"reading the variations of product {parent}",
        ):
            for variation in variations:
                # REST shows the parent's SKU for a variation without one of its own.
                sku = own_sku(variation.sku, parent_sku)
                key = (str(parent), str(variation.id))
                if variation.manage_stock == "parent":
                    # Sells from the parent's stock: its sales count against the parent.
                    skus.variations[key] = parent_sku.strip()
                    continue
                skus.variations[key] = sku
                if variation.manage_stock is True:
                    listings.append(
                        listing(f"{parent}/{variation.id}", variation, sku=sku, name=variation.name)
                    )
                else:
                    left_alone.append(sku or f"{parent}/{variation.id}")
        return listings, left_alone

    # -- orders ----------------------------------------------------------------------------

    def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        return self._orders(updated_since, None)

    def fetch_orders_beside(
        self, *, updated_since: datetime, updated_until: datetime, listed: asyncio.Event
    ) -> AsyncIterator[Order]:
        """The window's orders (ReadsOrdersBesideListings): pages are read at once, lines
        mapped once `listed` says the listings' SkuIndex is filled."""
        return self._orders(updated_since, listed)

    async def _orders(
        self, updated_since: datetime, listed: asyncio.Event | None
    ) -> AsyncIterator[Order]:
        if listed is None and self.skus is None:
            # Lines are mapped to listings by product and variation id (mapping.py).
            await self.list_listings()
        seen: set[str] = set()
        self._problems = []
        params: dict[str, str | int] = {
            "modified_after": _gmt(updated_since - timedelta(seconds=1)),  # Woo's is exclusive
            "dates_are_gmt": "true",
            "orderby": "id",
            "order": "asc",
        }
        # Woo's default `status=any` leaves out trashed orders, as omnisync wants: trashing is
        # cleanup and keeps the order's last effect (mapping.py).
        held: list[WooOrder] = []  # read before the listings were: mapped once they are
        async for raw in self._walk_orders(params, seen):
            # Woo's `modified_after` is the window; no upper bound, none applied here either:
            # an order dated after `updated_until` (a clock ahead of ours) still counts, and
            # re-reading it next run is free (applying is idempotent).
            held.append(raw)
            if listed is None or listed.is_set():
                for order in held:
                    yield map_order(order, self.skus)
                held = []
        if listed is not None:
            await listed.wait()
        for order in held:
            yield map_order(order, self.skus)

    def read_problems(self) -> list[ReadProblem]:
        """Orders the last fetch could not read (ReportsReadProblems)."""
        return list(self._problems)

    async def _walk_orders(
        self, params: dict[str, str | int], seen: set[str]
    ) -> AsyncIterator[WooOrder]:
        offset = 0  # index of the page's first order in the walk, for the field paths
        async for _, rows in self.rest.raw_pages(
            "/orders", params, root="orders", context="reading orders"
        ):
            # Order by order: one the shop garbled is reported and the others go on.
            orders, rejected = parse_each(WooOrder, rows, root="orders")
            self._problems += [
                ReadProblem(
                    f"order {bad.item_id}",
                    _shifted(bad.message, offset),
                    bad.item_id,
                    _shifted(bad.field, offset),
                    bad.value,
                )
                for bad in rejected
            ]
            offset += len(rows)
            for raw in orders:
                if raw.id in seen or raw.status in SKIPPED:
                    continue
                seen.add(raw.id)
                if raw.status not in STATUSES:
                    log.warning(
                        "%s: order %s has status %r, which omnisync counts as paid",
                        self.name,
                        raw.id,
                        raw.status,
                    )
                yield raw

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
            # One place in the host's limit for the re-read and the write: the write goes out
            # as soon as the re-read is in, never queued behind other batches' re-reads.
            async with self.rest.limit.slot() as ticket:
                return await self._push_batch(collection, batch, ticket)

        # Batches touch disjoint listings, so they may run side by side; each still re-reads
        # its own listings right before writing them.
        for done in await asyncio.gather(*(push(*batch) for batch in batches)):
            results += done
        return results

    async def _push_batch(
        self, collection: str, batch: list[QuantityChange], ticket: Ticket
    ) -> list[PushResult]:
        """Write one batch, re-reading first; after a 5xx or a timeout (the write may or may
        not have happened: a batch of 100 on a slow host outlives a read timeout), re-read
        and write again only the listings that still show what this run read."""
        results: list[PushResult] = []
        pending = batch
        unsure: set[str] = set()  # listings whose last write's answer was lost
        tries = max(1, self.http.policy.attempts)
        for attempt in range(1, tries + 1):
            writes = await self._still_expected(collection, pending, unsure, results, ticket)
            if not writes:
                return results
            try:
                response = await self.rest.send(
                    "POST",
                    f"{collection}/batch",
                    json_body={
                        "update": [
                            {"id": int(_item_id(change)), "stock_quantity": change.target}
                            for change in writes
                        ]
                    },
                    context="writing stock",
                    write=True,
                    ticket=ticket,
                )
            except ChannelUnavailableError as exc:
                if attempt == tries:
                    return results + [
                        PushResult(change.listing_id, "failed", exc.message) for change in writes
                    ]
                # As long as the host asked (Retry-After on a 429 or 503), at least the backoff.
                wait = max(self.http.policy.backoff(attempt, self.http.rng), exc.retry_after or 0)
                log.info("%s: %s; re-reading before writing again", self.name, exc.message)
                await self.budget.sleep(wait, exc.message)
                # Back in the host's queue: a refusal cut its limit, which holds for this too.
                await self.rest.limit.retry(ticket)
                pending = writes
                unsure |= {change.listing_id for change in writes}
                continue
            return results + self._written(response, writes)
        return results  # pragma: no cover - the loop returns

    async def _still_expected(
        self,
        collection: str,
        batch: list[QuantityChange],
        unsure: set[str],
        results: list[PushResult],
        ticket: Ticket,
    ) -> list[QuantityChange]:
        """The changes whose listing still shows `expected` now; the others' results."""
        # Re-read just before writing: Woo cannot refuse a stale write itself.
        response = await self.rest.send(
            "GET",
            collection,
            params={
                "include": ",".join(_item_id(change) for change in batch),
                "per_page": PAGE,
                "_fields": STOCK_FIELDS,
            },
            context="re-reading stock before writing",
            ticket=ticket,
        )
        rows = self.http.parse(response, list[StockItem], root="products")
        current = {str(row.id): row for row in rows}
        writes: list[QuantityChange] = []
        for change in batch:
            row = current.get(_item_id(change))
            now = stock_of(row) if row is not None else None
            if row is None:
                results.append(PushResult(change.listing_id, "failed", "no longer on the shop"))
            elif now is None:
                results.append(
                    PushResult(change.listing_id, "failed", "no longer manages stock on the shop")
                )
            elif now == change.target and change.listing_id in unsure:
                # The write whose answer was lost went through.
                results.append(PushResult(change.listing_id, "written"))
            elif now != change.expected:
                results.append(moved(change, "WooCommerce", now))
            else:
                writes.append(change)
        return writes

    def _written(self, response: httpx.Response, writes: list[QuantityChange]) -> list[PushResult]:
        """Each write's outcome as the batch answer tells it."""
        results: list[PushResult] = []
        answer = self.http.parse(response, BatchAnswer, root="batch")
        answers: dict[str, BatchItem] = {}
        for position, answered in enumerate(answer.update):
            # A failed item may carry id 0; it stands in the request's position then.
            key = str(answered.id) if answered.id else ""
            if not key and position < len(writes):
                key = _item_id(writes[position])
            answers[key] = answered
        for change in writes:
            item = answers.get(_item_id(change))
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
            await self.rest.send(
                "GET",
                "/products",
                params={"per_page": 1, "_fields": "id"},
                context="reading products",
            )
            messages.append(f"{self.settings.url}: the key can read products")
            # An empty batch changes nothing but needs write permission.
            await self.rest.send(
                "POST", "/products/batch", json_body={"update": []}, context="checking write access"
            )
            messages.append("the key can write products")
            tomorrow = _gmt(utcnow() + timedelta(days=1))
            response = await self.rest.send(
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
            if self.rest.query_auth:
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
