"""Lazada through its Open Platform: orders in, sellable quantities out.

Listings are Lazada SKUs (`Listing.id` = "ItemId/SkuId", the two ids a stock update names),
read with GetProducts, their channel SKU the `SellerSku`. Order items carry that SellerSku as
`sku`, and `sku_id`; an item without `sku` is mapped through the SkuId of this run's
listings. Status mapping and line rules: `omnisync.channels.lazada.mapping`.

Calls and their documented limits (lazykern/ecommerce-api-docs@eba059e3:data/raw/lazada/apis):
- `GET /products/get` (product-api/getproducts.json): `filter=all`, `limit` ≤ 50 products,
  `offset` ≤ 10,000 ("Deprecated ... The maximum offset is 10000"), `sku_seller_list` (a JSON
  array of SellerSkus, "A maximum of 100"); answers `data.total_products` (a number or a
  digit string) and `data.products[]` with `item_id` (Long, a string in the sample) and
  `skus[]` (`SkuId`, `SellerSku`, `Status`, and the sellable quantity: see
  `mapping.sellable`, since `quantity` is the total including units held by orders).
- `GET /orders/get` (order-api/getorders.json): `update_after` / `update_before` (ISO 8601
  with offset, both inclusive: "updated after or on"), `sort_by=updated_at`,
  `sort_direction=ASC`, `limit` ≤ 100, `offset` ≤ 4,500: the API page's own parameter
  rule is "Max Size:4500" (getorders.json, `offset.moreLimit`), stricter than the guide's
  "Maximum value: 5000" (get-order.md), so the lower one is kept. A longer history is walked
  in windows that restart at the last `updated_at` read (get-order.md: "set the time ... of
  the last order you fetched and set offset to 0").
- `GET /orders/items/get` (order-api/getmultipleorderitems.json): `order_ids=[1,2]`, "No more
  than 50 at a time".
- `GET /order/reverse/return/detail/list` (return-and-refund-api/getreverseorderdetail.json):
  `reverse_order_id` → `data.request_type`, read for returned items only (refund-only
  returns must not restock).
- `POST /product/stock/sellable/update` (product-api/updatesellablequantity.json; inventory-
  management-api.md): form parameter `payload`, XML `<Request><Product><Skus><Sku><ItemId>
  <SkuId><SellerSku><SellableQuantity>`, "A maximum of 50 SKUs", sets the sellable quantity
  "in an overriding manner" (what omnisync's `available` means; the total-quantity API would
  have to add back units held by open orders). No compare-and-set: the SKUs are re-read just
  before each write and a SKU whose quantity moved since this run read it is a `conflict`.
  Success is `code "0"`; `501` "is an overview error code ... check the detail field ... to
  understand the SKU where the error occurred": the batch is re-read and each SKU is
  `written` if it now shows its target, else `failed` with Lazada's reason.
- `GET /seller/get` (seller-api/getseller.json), for `check`.

Known gaps: only the default `dropshipping` warehouse is read and written (multi-warehouse
sellers' other warehouses are left alone); a shop with more than 10,050 products is refused
(GetProducts' offset cap; date-window scrolling not done yet).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from xml.sax.saxutils import escape

from omnisync.channels.base import LISTED, ChannelContext, ReadProblem, moved
from omnisync.channels.lazada import mapping
from omnisync.channels.lazada.api import ACCESS, QPS, REFRESH, LazadaApi
from omnisync.channels.lazada.settings import LazadaSettings
from omnisync.errors import ChannelError, ChannelResponseError
from omnisync.httpclient import RetryPolicy
from omnisync.models import ChannelProbe, Listing, Order, OrderLine, PushResult, QuantityChange

log = logging.getLogger(__name__)
T = TypeVar("T")
Items = dict[str, list[Mapping[str, Any]]]  # order id -> its items as Lazada sent them

# The APIs, each with its own quota (the Pacer's key) and slots.
PRODUCTS = "/products/get"
ORDERS = "/orders/get"
ITEMS = "/orders/items/get"
RETURNS = "/order/reverse/return/detail/list"
UPDATE = "/product/stock/sellable/update"
PRODUCTS_PAGE = 50
PRODUCTS_MAX_OFFSET = 10_000
ORDERS_PAGE = 100
# getorders.json: offset "Max Size:4500"; get-order.md says 5000. Both are met by 4500.
ORDERS_MAX_OFFSET = 4_500
ITEMS_BATCH = 50
PUSH_BATCH = 50
# Calls of one API in flight at once. Lazada's limit is a rate, 50 calls a second per API and
# seller (documented for the inventory APIs, assumed for the reads: see `api.QPS`), which the
# client's Pacer keeps to per API; so in flight is a second's quota, sent at once when a
# window opens instead of in rounds of one latency each (25 took two rounds a window: 4.3 s →
# 3.8 s at 200 ms, 5,000 SKUs). It was 8, which left the rate unused past 160 ms a call.
PARALLEL = QPS
# The client's connections: two APIs' windows at once, as when the first window of product
# pages goes out beside the order pages (68 calls); at 50 the 18 over it waited a latency for
# a connection, and the later windows, a second behind each call, inherited that spread.
CONNECTIONS = 2 * QPS
# Answers of the stock update that concern some SKUs, or leave unknown what was applied: read
# them, re-read, decide. 501 overview; 4170 campaign lock; 212 "Sellable inventory cannot be
# negative"; 513 "Internal call exception"; 6 / 1000 / ServiceTimeout internal errors
# (updatesellablequantity.json, adjustsellablequantity.json, the API error lists). A write is
# never re-sent blind: the re-read says what Lazada applied.
PUSH_PARTIAL = {"501", "4170", "212", "513", "6", "1000", "ServiceTimeout"}


class LazadaChannel:
    """One Lazada seller in one country."""

    concurrency = PARALLEL  # of each API; the connections carry two APIs' (CONNECTIONS)

    def __init__(
        self,
        name: str,
        settings: LazadaSettings,
        *,
        context: ChannelContext,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.api = LazadaApi(
            name,
            settings,
            context=context,
            base_url=base_url,
            policy=policy,
            connections=CONNECTIONS,
        )
        self.http = self.api.http
        # Slots per API: a call waiting for one API's quota (the second window of product
        # pages) must not hold a slot the calls of another API could use (the order items,
        # which waited a whole window behind it when the slots were shared).
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._sku_by_id: dict[str, str] = {}  # SkuId -> SellerSku, from this run's listings
        self._request_types: dict[str, str] = {}  # reverse order id -> request_type
        self._problems: list[ReadProblem] = []  # orders the last fetch could not read

    async def _limited(self, api: str, work: Awaitable[T]) -> T:
        # A coroutine does nothing until awaited, so it waits here for a slot.
        async with self._slots.setdefault(api, asyncio.Semaphore(self.concurrency)):
            return await work

    def _data(self, body: Mapping[str, Any], what: str) -> Any:
        if "data" not in body:
            raise ChannelResponseError(self.name, f"{what}: expected `data` in Lazada's answer")
        return body["data"]

    # -- listings --------------------------------------------------------------------------

    async def _products(self, params: Mapping[str, str], context: str) -> tuple[int, list[Any]]:
        body = await self.api.call("GET", PRODUCTS, params, context=context)
        data = self._data(body, context)
        try:
            total = int(data.get("total_products") or 0) if isinstance(data, dict) else 0
            products = list((data or {}).get("products") or []) if isinstance(data, dict) else []
        except (TypeError, ValueError):
            raise ChannelResponseError(
                self.name, f"{context}: expected data.total_products and data.products"
            ) from None
        return total, products

    def _listings_of(self, products: list[Any], context: str) -> list[Listing]:
        found: list[Listing] = []
        for product in products:
            try:
                found += mapping.listings(product)
            except (KeyError, TypeError, ValueError, AttributeError):
                shown = json.dumps(product, default=str)[:200]
                raise ChannelResponseError(
                    self.name,
                    f"{context}: expected a product with item_id and skus[] (SkuId, "
                    f"SellerSku, quantity), got {shown}",
                ) from None
        return found

    async def list_listings(self) -> list[Listing]:
        context = "reading products"
        params = {"filter": "all", "limit": str(PRODUCTS_PAGE)}
        total, first = await self._products(params | {"offset": "0"}, context)
        if total > PRODUCTS_MAX_OFFSET + PRODUCTS_PAGE:
            raise ChannelResponseError(
                self.name,
                f"the shop has {total} products; omnisync reads at most "
                f"{PRODUCTS_MAX_OFFSET + PRODUCTS_PAGE} (GetProducts' offset limit)",
            )
        offsets = range(PRODUCTS_PAGE, total, PRODUCTS_PAGE)

        async def page(offset: int) -> list[Any]:
            return (await self._products(params | {"offset": str(offset)}, context))[1]

        # Offsets are known from the first page's total: the other pages go side by side.
        pages = await asyncio.gather(*(self._limited(PRODUCTS, page(offset)) for offset in offsets))
        listings: dict[str, Listing] = {}
        for products in (first, *pages):
            for listing in self._listings_of(products, context):
                listings[listing.id] = listing  # a product that moved pages is read twice
        self._sku_by_id = {
            listing.id.rpartition("/")[2]: listing.channel_sku
            for listing in listings.values()
            if listing.channel_sku
        }
        return list(listings.values())

    # -- orders ----------------------------------------------------------------------------

    def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        return self.fetch_orders_beside(
            updated_since=updated_since, updated_until=updated_until, listed=LISTED
        )

    async def fetch_orders_beside(
        self, *, updated_since: datetime, updated_until: datetime, listed: asyncio.Event
    ) -> AsyncIterator[Order]:
        """The window's orders (ReadsOrdersBesideListings): orders and their items are read
        at once, lines mapped once `listed` says this run's SkuId map is filled."""
        start = updated_since
        yielded: dict[str, datetime] = {}
        self._problems = []
        held: list[tuple[Mapping[str, Mapping[str, Any]], Items]] = []
        while True:
            raws, full = await self._orders_window(start, updated_until)
            fresh: dict[str, Mapping[str, Any]] = {}
            last = start
            for raw in raws:
                order_id = _order_id(raw)
                try:
                    updated = mapping.parse_time(raw["updated_at"])
                except (KeyError, TypeError, ValueError):
                    updated = None
                if order_id is None or updated is None:
                    # One garbled order fails itself (kept as unreadable), never the channel.
                    field = "order_id" if order_id is None else "updated_at"
                    value = json.dumps(raw.get(field), default=str)
                    self._problems.append(
                        ReadProblem(
                            f"order {order_id}",
                            f"orders.{field}: expected "
                            f"{'an id' if order_id is None else 'a time'}, got {value}",
                            order_id,
                            f"orders.{field}",
                            value,
                        )
                    )
                    continue
                last = max(last, updated)
                # No upper bound: an order dated after the window (a clock ahead) still counts.
                if updated < updated_since:
                    continue
                if yielded.get(order_id) == updated:
                    continue  # read again where two windows meet
                fresh[order_id] = raw
                yielded[order_id] = updated
            held.append((fresh, await self._items_of(fresh)))
            if listed.is_set():
                for order in self._mapped(held):
                    yield order
                held = []
            if not full:
                break
            if last <= start:
                raise ChannelResponseError(
                    self.name,
                    f"more than {ORDERS_MAX_OFFSET + ORDERS_PAGE} orders changed at "
                    f"{mapping.iso(start)}: Lazada's offset limit cannot page past them",
                )
            # Lazada's offset stops at 4,500: start a new window at the last time read
            # (inclusive, so orders sharing that second are read again and skipped above).
            start = last
        await listed.wait()
        for order in self._mapped(held):
            yield order

    async def _orders_window(
        self, start: datetime, until: datetime
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """Orders updated in [start, until] by Lazada's filter, as far as its offset reaches;
        and whether there were more than it reaches."""
        context = "reading orders"
        params = {
            "update_after": mapping.iso(start),
            "update_before": mapping.iso(until),
            "sort_by": "updated_at",
            "sort_direction": "ASC",
            "limit": str(ORDERS_PAGE),
        }

        async def page(offset: int) -> tuple[int, list[Mapping[str, Any]]]:
            body = await self.api.call(
                "GET", ORDERS, params | {"offset": str(offset)}, context=context
            )
            data = self._data(body, context)
            try:
                total = int(data.get("countTotal") or 0)
                orders = list(data.get("orders") or [])
            except (AttributeError, TypeError, ValueError):
                raise ChannelResponseError(
                    self.name, f"{context}: expected data.countTotal and data.orders"
                ) from None
            return total, orders

        total, first = await page(0)
        reach = min(total, ORDERS_MAX_OFFSET + ORDERS_PAGE)
        rest = await asyncio.gather(
            *(
                self._limited(ORDERS, page(offset))
                for offset in range(ORDERS_PAGE, reach, ORDERS_PAGE)
            )
        )
        raws = first + [order for _, orders in rest for order in orders]
        self._check_complete(raws, reach)
        return raws, total > reach

    def _check_complete(self, raws: list[Mapping[str, Any]], reach: int) -> None:
        """Fewer orders than Lazada's `countTotal` promised, or one twice (a cache answering
        another page), is a window not read completely: the channel fails this run rather
        than move its cursor past orders never seen."""
        ids = [_order_id(raw) for raw in raws]
        known = [order_id for order_id in ids if order_id is not None]
        if len(raws) < reach or len(set(known)) < len(known):
            raise ChannelResponseError(
                self.name,
                f"reading orders: read {len(set(known))} distinct of the {reach} orders Lazada "
                f"counts (countTotal); not read completely, tried again next run",
            )

    def read_problems(self) -> list[ReadProblem]:
        """Orders the last fetch could not read (ReportsReadProblems)."""
        return list(self._problems)

    async def _items_of(self, raws: Mapping[str, Mapping[str, Any]]) -> Items:
        """The orders' items, read 50 orders a call, and the type of each return among them."""
        ids = list(raws)
        batches = [ids[n : n + ITEMS_BATCH] for n in range(0, len(ids), ITEMS_BATCH)]
        found = await asyncio.gather(
            *(self._limited(ITEMS, self._items(batch)) for batch in batches)
        )
        items: Items = {}
        for part in found:
            items.update(part)
        await self._reverse_types(item for rows in items.values() for item in rows)
        return items

    def _mapped(self, held: list[tuple[Mapping[str, Mapping[str, Any]], Items]]) -> list[Order]:
        """Orders with their items, mapped (the SkuId map must be filled by now)."""
        return [order for raws, items in held for order in self._with_items(raws, items)]

    def _with_items(self, raws: Mapping[str, Mapping[str, Any]], items: Items) -> list[Order]:
        orders = []
        for order_id, raw in raws.items():
            rows = items.get(order_id)
            if not rows:
                raise ChannelResponseError(
                    self.name, f"reading order items: Lazada sent no items for order {order_id}"
                )
            lines: list[OrderLine] = []
            try:
                for item in rows:
                    line, code = mapping.order_line(
                        item, sku_by_id=self._sku_by_id, request_types=self._request_types
                    )
                    if code.strip().lower() not in mapping.STATUSES:
                        log.warning(
                            "%s: order %s item %s has status %r, which omnisync counts as paid",
                            self.name,
                            order_id,
                            line.id,
                            code,
                        )
                    lines.append(line)
                orders.append(mapping.order(raw, lines))
            except (KeyError, TypeError, ValueError):
                raise ChannelResponseError(
                    self.name,
                    f"reading order {order_id}: expected items with order_item_id and status, "
                    f"and an order with created_at and updated_at",
                ) from None
        return orders

    async def _items(self, order_ids: list[str]) -> dict[str, list[Mapping[str, Any]]]:
        context = "reading order items"
        body = await self.api.call(
            "GET",
            ITEMS,
            {"order_ids": "[" + ",".join(order_ids) + "]"},
            context=context,
        )
        data = self._data(body, context)
        found: dict[str, list[Mapping[str, Any]]] = {}
        if not isinstance(data, list):
            raise ChannelResponseError(self.name, f"{context}: expected a list in data")
        for entry in data:
            if not isinstance(entry, dict) or not isinstance(entry.get("order_items"), list):
                raise ChannelResponseError(
                    self.name, f"{context}: expected entries with order_id and order_items"
                )
            found[str(entry.get("order_id"))] = entry["order_items"]
        return found

    async def _reverse_types(self, items: Any) -> None:
        """Learn the type of each reverse order behind a returned item (once per run)."""
        wanted = {
            str(item.get("reverse_order_id"))
            for item in items
            if isinstance(item, dict)
            and str(item.get("status", "")).strip().lower() == "returned"
            and item.get("reverse_order_id") not in (None, "", "0", 0)
        } - set(self._request_types)

        async def one(reverse_id: str) -> None:
            try:
                body = await self.api.call(
                    "GET",
                    RETURNS,
                    {"reverse_order_id": reverse_id},
                    context="reading a return",
                )
                data = body.get("data")
                kind = data.get("request_type") if isinstance(data, dict) else None
            except ChannelError as exc:
                kind = None
                log.warning("%s: could not read return %s: %s", self.name, reverse_id, exc)
            if not isinstance(kind, str):
                # Unknown: counted as refund-only, so stock never comes back by mistake.
                kind = mapping.REFUND_ONLY
            self._request_types[reverse_id] = kind

        await asyncio.gather(*(self._limited(RETURNS, one(rid)) for rid in wanted))

    # -- push ------------------------------------------------------------------------------

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        results: list[PushResult] = []
        valid: list[QuantityChange] = []
        for change in changes:
            item, _, sku = change.listing_id.partition("/")
            if not (item.isdigit() and sku.isdigit()) or not change.channel_sku:
                results.append(PushResult(change.listing_id, "failed", "not a Lazada SKU id"))
            elif change.target < 0:
                results.append(PushResult(change.listing_id, "failed", "negative quantity"))
            else:
                valid.append(change)
        batches = [valid[n : n + PUSH_BATCH] for n in range(0, len(valid), PUSH_BATCH)]
        # Batches touch disjoint SKUs; each re-reads its own SKUs right before writing.
        done = await asyncio.gather(
            *(self._limited(UPDATE, self._push_batch(batch)) for batch in batches)
        )
        for part in done:
            results += part
        return results

    async def _current(self, batch: Sequence[QuantityChange], context: str) -> dict[str, int]:
        """Each SKU's sellable quantity on Lazada now, by listing id."""

        async def read(skus: Sequence[str]) -> dict[str, int]:
            _, products = await self._products(
                {
                    "filter": "all",
                    "limit": str(PRODUCTS_PAGE),
                    "offset": "0",
                    "sku_seller_list": json.dumps(sorted(skus), ensure_ascii=False),
                },
                context,
            )
            listings = self._listings_of(products, context)
            return {listing.id: listing.quantity for listing in listings}

        skus = {change.channel_sku for change in batch}
        found = await read(sorted(skus))
        # "A maximum of 100 SKUs can be returned" (getproducts.json, sku_seller_list): products
        # with many SKUs can cut the answer short, so SKUs missing from it are asked for again
        # before they count as gone.
        missing = {change.channel_sku for change in batch if change.listing_id not in found}
        if missing and missing != skus:
            found |= await read(sorted(missing))
        return found

    async def _push_batch(self, batch: Sequence[QuantityChange]) -> list[PushResult]:
        current = await self._current(batch, "re-reading stock before writing")
        results: list[PushResult] = []
        writes: list[QuantityChange] = []
        for change in batch:
            now = current.get(change.listing_id)
            if now is None:
                results.append(PushResult(change.listing_id, "failed", "no longer on Lazada"))
            elif now != change.expected:
                results.append(moved(change, "Lazada", now))
            else:
                writes.append(change)
        if not writes:
            return results
        body = await self.api.call(
            "POST",
            UPDATE,
            {"payload": payload(writes)},
            context="writing stock",
            accept=PUSH_PARTIAL,
        )
        code = str(body.get("code", "0"))
        if code == "0":
            return results + [PushResult(change.listing_id, "written") for change in writes]
        # Which SKUs failed, and whether the others were applied, Lazada does not say
        # reliably: read them again and believe what the shop shows.
        reasons = _reasons(body, writes)
        after = await self._current(writes, "re-reading stock after a failed write")
        for change in writes:
            if after.get(change.listing_id) == change.target:
                results.append(PushResult(change.listing_id, "written"))
            else:
                results.append(PushResult(change.listing_id, "failed", reasons[change.listing_id]))
        return results

    # -- probe -----------------------------------------------------------------------------

    async def probe(self) -> ChannelProbe:
        messages: list[str] = []
        try:
            body = await self.api.call("GET", "/seller/get", context="reading the seller")
            seller = body.get("data") if isinstance(body.get("data"), dict) else {}
            assert isinstance(seller, dict)
            messages.append(
                f"Lazada {self.settings.country}: the token works for shop "
                f"{seller.get('name') or '?'} (seller {seller.get('seller_id') or '?'}, "
                f"{seller.get('short_code') or '?'})"
            )
            expiry = self.api.tokens.expires_at(ACCESS)
            renew = self.api.tokens.expires_at(REFRESH)
            if expiry is not None:
                text = f"access token valid until {expiry:%Y-%m-%d %H:%M} UTC"
                if renew is not None:
                    text += f", renewable until {renew:%Y-%m-%d} UTC"
                messages.append(text)
            await self._products({"filter": "all", "limit": "1", "offset": "0"}, "reading products")
            messages.append("the token can read products")
            since = self.api.now() - timedelta(days=1)
            await self.api.call(
                "GET",
                ORDERS,
                {"update_after": mapping.iso(since), "limit": "1", "offset": "0"},
                context="reading orders",
            )
            messages.append(
                "the token can read orders (stock writes are not tried by check: Lazada has "
                "no dry-run write)"
            )
        except ChannelError as exc:
            return ChannelProbe(ok=False, messages=(*messages, exc.message))
        return ChannelProbe(ok=True, messages=tuple(messages))

    async def aclose(self) -> None:
        await self.api.aclose()


def payload(changes: Sequence[QuantityChange]) -> str:
    """The `payload` of UpdateSellableQuantity, in the single-warehouse format
    (inventory-management-api.md: "only updates dropshipping warehouse")."""
    skus = "".join(
        "<Sku>"
        f"<ItemId>{change.listing_id.partition('/')[0]}</ItemId>"
        f"<SkuId>{change.listing_id.partition('/')[2]}</SkuId>"
        f"<SellerSku>{escape(change.channel_sku)}</SellerSku>"
        f"<SellableQuantity>{change.target}</SellableQuantity>"
        "</Sku>"
        for change in changes
    )
    return f"<Request><Product><Skus>{skus}</Skus></Product></Request>"


def _reasons(body: Mapping[str, Any], writes: Sequence[QuantityChange]) -> dict[str, str]:
    """Lazada's reason for each SKU of a failed write: its own `detail` entry where one
    names it (by `seller_sku`/`SellerSku` or `sku_id`/`SkuId`; which key Lazada uses is not
    documented), else the answer's overall message."""
    overall = f"Lazada {body.get('code')}: {body.get('message') or 'update failed'}"
    by_key: dict[str, str] = {}
    for entry in body.get("detail") or ():
        if not isinstance(entry, dict):
            continue
        text = str(entry.get("message") or "")
        field = entry.get("field")
        if field:
            text = f"{field}: {text}"
        for key in ("seller_sku", "SellerSku", "sku", "sku_id", "SkuId"):
            if entry.get(key) not in (None, ""):
                by_key[str(entry[key])] = text
    reasons = {}
    for change in writes:
        sku_id = change.listing_id.partition("/")[2]
        reason = by_key.get(change.channel_sku) or by_key.get(sku_id)
        reasons[change.listing_id] = (
            f"{overall} ({reason})" if reason else f"{overall}; not applied"
        )
    return reasons


def _order_id(raw: Mapping[str, Any]) -> str | None:
    """An order's id as text, None when it has none (null would be filed as "None")."""
    value = raw.get("order_id") if isinstance(raw, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        return None
    return str(value).strip()
