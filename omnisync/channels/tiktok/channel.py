"""TikTok Shop (also Tokopedia) through the Partner API 202309+: orders in, stock out.

Listings are the SKUs of the shop's `ACTIVATE` products (`Listing.id` = "PRODUCT_ID/SKU_ID";
channel SKU = `seller_sku`, "" when the SKU has none, so it is never written). A listing's
quantity is the sum over the SKU's warehouses, or one warehouse's with `warehouse_id`.

Endpoints (partner.tiktokshop.com, scraped in lazykern/ecommerce-api-docs@eba059e3 under
data/raw/tiktok/api-reference/):

    what                 call                                              limits
    -------------------  ------------------------------------------------  ------------------
    listings             POST /product/202502/products/search              page_size ≤ 100,
                           body {"status": "ACTIVATE"}                     page_token; at most
                                                                           10,000 results
    orders               POST /order/202309/orders/search, body            page_size ≤ 100,
                           update_time_ge / update_time_lt (s), sorted     page_token
                           by update_time ASC
    order details        GET /order/202507/orders?ids=…                    ≤ 50 ids
    returns              POST /return_refund/202309/returns/search          page_size 10–50
    stock re-read        POST /product/202309/inventory/search {sku_ids}   ≤ 600 SKUs
    stock write          POST /product/202309/products/{id}/inventory/     one product, ≤ 100
                           update {"skus": [{id, inventory: [{warehouse_id,  SKUs, every
                           quantity}]}]}                                   warehouse of each,
                                                                           ≤ 99,999 in one

Answers are read through the models of `payloads.py` (the specs' response tables).

Statuses and lines: see `mapping.py`. Returns are read twice over: those updated in the
run's window (a return can complete without the order changing), and, for each page of
orders that may have shipped, those of its orders (so an order updated after its return
keeps the returned line returned).

No compare-and-set: right before writing, the SKUs are re-read (Inventory Search) and a
listing whose quantity moved since this run read it is a conflict, not overwritten. The
write answers HTTP 200 with `data.errors[]` for the SKUs it refused; those fail alone. A write
that failed without an answer (timeout, 5xx) may still have been applied: its SKUs are
re-read and count as written only if TikTok now shows the target.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from omnisync.channels.base import ChannelConfig, ChannelContext, ReadProblem, TokenStore, moved
from omnisync.channels.tiktok import payloads
from omnisync.channels.tiktok.auth import stored_tokens
from omnisync.channels.tiktok.client import QPS, TikTokApi
from omnisync.channels.tiktok.mapping import (
    SHIPPED_STATUSES,
    SkuStock,
    listing_quantity,
    map_order,
    returned_lines,
    sku_stock,
    split_listing_id,
    spread,
    to_listing,
)
from omnisync.channels.tiktok.settings import TikTokSettings
from omnisync.channels.tokens import StoredTokens
from omnisync.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelResponseError,
    ChannelUnavailableError,
)
from omnisync.httpclient import Budget, RetryPolicy
from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange
from omnisync.payload import parse_each
from omnisync.timeparse import utcnow

log = logging.getLogger(__name__)

P = TypeVar("P", bound=payloads.Page)

PRODUCTS_PATH = "/product/202502/products/search"
ORDERS_PATH = "/order/202309/orders/search"
ORDER_DETAIL_PATH = "/order/202507/orders"
RETURNS_PATH = "/return_refund/202309/returns/search"
INVENTORY_PATH = "/product/202309/inventory/search"
UPDATE_PATH = "/product/202309/products/{product_id}/inventory/update"

PRODUCT_PAGE = 100  # search-products: page_size [1-100]
ORDER_PAGE = 100  # get-order-list: page_size [1-100]
RETURN_PAGE = 50  # search-returns: page_size [10-50]
DETAIL_IDS = 50  # get-order-detail: ids, max 50
INVENTORY_SKUS = 600  # inventory-search: sku_ids, max 600
UPDATE_SKUS = 100  # update-inventory: 12052050, at most 100 SKUs of one product
# update-inventory: `quantity` "Valid range: [1, 99,999]" per warehouse; above it 12052055.
# 0 is written to sell out (the doc's lower bound is UNVERIFIED in practice, see the docs).
MAX_QUANTITY = 99_999
# Writes in flight at once, and the client's connection pool. TikTok's limit is a rate, 50 QPS
# per API, app and shop (research section 5.5), which the client's Pacer enforces per API, so
# in flight only has to be what that rate fills while calls are answered. Half the quota:
# the Pacer counts sends and TikTok counts arrivals, and a burst of all 50 at once arrives
# spread out enough to be answered 429 (measured: 24 of 459 requests at 50 ms); 25 got none
# and fills the quota whenever a call takes up to half a second. (It was 8, which left the
# quota unused past 160 ms a call: 5.05 s → 3.88 s at 200 ms, 2,000 listings.)
CONCURRENCY = QPS // 2


# Set for good: a read without listings beside it maps with what was last listed.
_LISTED = asyncio.Event()
_LISTED.set()
Returned = dict[str, datetime]  # order id -> when its goods came back


def _seconds(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()


class TikTokChannel:
    """A TikTok Shop (or Tokopedia) shop."""

    concurrency = CONCURRENCY

    def __init__(
        self,
        name: str,
        settings: TikTokSettings,
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
        self.warehouse = settings.warehouse_id
        context = ChannelContext(budget=budget or Budget(name, timeout), tokens=tokens, now=now)
        self.tokens: StoredTokens = stored_tokens(name, settings, context)
        self.api = TikTokApi(
            name,
            settings,
            budget=context.budget,
            base_url=base_url,
            client=client,
            policy=policy,
            tokens=self.tokens,
            now=now,
            connections=self.concurrency,
        )
        # What this run read: seller SKU by (product, sku) id for order lines without one.
        self.sku_by_ids: dict[tuple[str, str], str] = {}
        self._slots = asyncio.Semaphore(self.concurrency)
        self._problems: list[ReadProblem] = []  # orders the last fetch could not read

    @property
    def requests(self) -> int:
        return self.api.requests

    # -- listings --------------------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        listings: list[Listing] = []
        outside = 0
        async for data in self._pages(
            PRODUCTS_PATH,
            {"status": "ACTIVATE"},
            PRODUCT_PAGE,
            payloads.Products,
            context="reading products",
        ):
            for product in data.products:
                for raw in product.skus:
                    stock = sku_stock(product.id, raw)
                    self.sku_by_ids[(stock.product_id, stock.sku_id)] = stock.seller_sku
                    listing = to_listing(stock, product.title, self.warehouse)
                    if self.warehouse is not None and self.warehouse not in stock.warehouses:
                        # Adding a warehouse to a SKU is refused (12052533): not ours to write.
                        outside += 1
                        listing = Listing(listing.id, "", listing.quantity, listing.name)
                    listings.append(listing)
        if outside:
            log.warning(
                "%s: %d SKUs are not stocked in warehouse %s and are left alone",
                self.name,
                outside,
                self.warehouse,
            )
        return listings

    async def _pages(
        self,
        path: str,
        body: dict[str, Any],
        size: int,
        model: type[P],
        *,
        context: str,
        sort: bool = False,
    ) -> AsyncIterator[P]:
        """Every page of a search, following `next_page_token` until it comes back empty."""
        token = ""
        while True:
            query: dict[str, str | int] = {"page_size": size}
            if sort:
                query |= {"sort_field": "update_time", "sort_order": "ASC"}
            if token:
                query["page_token"] = token
            data = await self.api.call("POST", path, model, query=query, body=body, context=context)
            yield data
            asked, token = token, data.next_page_token or ""
            if token and token == asked:
                # The same page again: following it would loop or skip what comes after.
                raise ChannelResponseError(
                    self.name,
                    f"{context}: the next page token is the one just asked; not read "
                    f"completely, tried again next run",
                )
            if not token:
                return

    # -- orders ----------------------------------------------------------------------------

    def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        return self.fetch_orders_beside(
            updated_since=updated_since, updated_until=updated_until, listed=_LISTED
        )

    async def fetch_orders_beside(
        self, *, updated_since: datetime, updated_until: datetime, listed: asyncio.Event
    ) -> AsyncIterator[Order]:
        """The window's orders (ReadsOrdersBesideListings): pages are read at once, lines
        mapped once `listed` says the SKU-by-id map of this run's listings is filled."""
        window = {
            # ge inclusive, lt exclusive, whole seconds: widen, then filter exactly below.
            "update_time_ge": math.floor(_seconds(updated_since)),
            "update_time_lt": math.ceil(_seconds(updated_until)),
        }
        returned: set[str] = set()
        returned_at: dict[str, datetime] = {}
        # The window's returns are read while the first order page comes in: only mapping
        # that page's orders needs them.
        window_returns = asyncio.create_task(
            self._returns({**window, "return_types": ["RETURN_AND_REFUND"]}, returned, returned_at)
        )
        try:
            async for order in self._orders(
                window, updated_since, returned, returned_at, window_returns, listed
            ):
                yield order
        finally:
            window_returns.cancel()

    async def _orders(
        self,
        window: dict[str, Any],
        updated_since: datetime,
        returned: set[str],
        returned_at: dict[str, datetime],
        window_returns: asyncio.Task[None],
        listed: asyncio.Event,
    ) -> AsyncIterator[Order]:
        seen: set[str] = set()
        self._problems = []
        held: list[payloads.Order] = []  # read before the listings were: mapped once they are
        async for data in self._pages(
            ORDERS_PATH, window, ORDER_PAGE, payloads.Orders, context="reading orders", sort=True
        ):
            await window_returns
            orders = self._readable(data.orders)
            shipped = [raw.id for raw in orders if raw.status in SHIPPED_STATUSES]
            for start in range(0, len(shipped), RETURN_PAGE):
                ids = shipped[start : start + RETURN_PAGE]
                body = {"order_ids": ids, "return_types": ["RETURN_AND_REFUND"]}
                await self._returns(body, returned, returned_at)
            repeated = seen.intersection(raw.id for raw in orders)
            if repeated:
                # A page answered again in place of the next (a cache): orders were skipped.
                raise ChannelResponseError(
                    self.name,
                    f"reading orders: a page repeats {len(repeated)} order(s) already read; "
                    f"not read completely, tried again next run",
                )
            seen.update(raw.id for raw in orders)
            held += orders
            if listed.is_set():  # else the next page is asked now; these wait for the SKU map
                for order in self._mapped(held, updated_since, returned, returned_at):
                    yield order
                held = []
        await window_returns  # a window with no order page still has its returns
        # Orders whose return changed in the window while the order itself did not.
        missing = [order_id for order_id in returned_at if order_id not in seen]
        for start in range(0, len(missing), DETAIL_IDS):
            ids = missing[start : start + DETAIL_IDS]
            detail = await self.api.call(
                "GET",
                ORDER_DETAIL_PATH,
                payloads.Orders,
                query={"ids": ",".join(ids)},  # comma-separated (get-order-detail's example)
                context="reading orders",
            )
            held += self._readable(detail.orders)
        await listed.wait()
        for order in self._mapped(held, updated_since, returned, returned_at):
            yield order

    def _mapped(
        self, raws: list[payloads.Order], since: datetime, returned: set[str], at: Returned
    ) -> list[Order]:
        """The orders of `raws` updated since the window opened, mapped."""
        orders = [self._order(raw, returned, at) for raw in raws]
        # No upper bound: an order dated after the window (a clock ahead) still counts.
        return [order for order in orders if since <= order.updated_at]

    def _readable(self, raws: list[Any]) -> list[payloads.Order]:
        """The orders of a page that fit; each other one is kept as a read problem."""
        orders, rejected = parse_each(payloads.Order, raws, root="orders")
        self._problems += [
            ReadProblem(f"order {bad.item_id}", bad.message, bad.item_id, bad.field, bad.value)
            for bad in rejected
        ]
        return orders

    def read_problems(self) -> list[ReadProblem]:
        """Orders the last fetch could not read (ReportsReadProblems)."""
        return list(self._problems)

    async def _returns(
        self, body: dict[str, Any], returned: set[str], returned_at: dict[str, datetime]
    ) -> None:
        async for data in self._pages(
            RETURNS_PATH, body, RETURN_PAGE, payloads.Returns, context="reading returns", sort=True
        ):
            for record in data.return_orders:
                lines = returned_lines([record])
                if not lines:
                    continue  # money only, still open, or refused: no stock comes back
                returned |= lines
                # When the goods came back: the latest change to the order's effect on stock.
                moment = datetime.fromtimestamp(record.update_time, UTC)
                order_id = record.order_id
                returned_at[order_id] = max(moment, returned_at.get(order_id, moment))

    def _order(
        self, raw: payloads.Order, returned: set[str], returned_at: dict[str, datetime]
    ) -> Order:
        order = map_order(raw, returned=returned, sku_by_ids=self.sku_by_ids)
        when = returned_at.get(order.id)
        if when is not None and when > order.updated_at:
            # The return is the latest change to this order's effect on stock.
            order = Order(order.id, order.status, order.created_at, when, order.lines)
        return order

    # -- push ------------------------------------------------------------------------------

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        results: list[PushResult] = []
        valid: list[tuple[QuantityChange, str, str]] = []
        for change in changes:
            ids = split_listing_id(change.listing_id)
            if ids is None:
                results.append(PushResult(change.listing_id, "failed", "not a TikTok Shop id"))
            else:
                valid.append((change, *ids))
        # Re-read just before writing: TikTok cannot refuse a stale write itself.
        current = await self._stock([sku for _, _, sku in valid])
        groups: dict[str, list[tuple[QuantityChange, SkuStock]]] = defaultdict(list)
        for change, product, sku in valid:
            stock = current.get(sku)
            if stock is None:
                results.append(
                    PushResult(change.listing_id, "failed", "no longer on the shop (deleted?)")
                )
                continue
            now = listing_quantity(stock, self.warehouse)
            if now != change.expected:
                results.append(moved(change, "TikTok Shop", now))
                continue
            groups[product].append((change, stock))
        calls = [
            (product, group[start : start + UPDATE_SKUS])
            for product, group in groups.items()
            for start in range(0, len(group), UPDATE_SKUS)
        ]

        async def write(
            product: str, batch: list[tuple[QuantityChange, SkuStock]]
        ) -> list[PushResult]:
            async with self._slots:
                return await self._write(product, batch)

        for done in await asyncio.gather(*(write(*call) for call in calls)):
            results += done
        return results

    async def _stock(self, sku_ids: Sequence[str]) -> dict[str, SkuStock]:
        """Inventory Search by SKU ids: each SKU's quantity per warehouse, now."""
        found: dict[str, SkuStock] = {}
        # The batches are independent: side by side, so the re-read costs one round trip.
        answers = await asyncio.gather(
            *(
                self.api.call(
                    "POST",
                    INVENTORY_PATH,
                    payloads.Inventory,
                    body={"sku_ids": list(sku_ids[start : start + INVENTORY_SKUS])},
                    context="re-reading stock before writing",
                )
                for start in range(0, len(sku_ids), INVENTORY_SKUS)
            )
        )
        for data in answers:
            for product in data.inventory:
                for raw in product.skus:
                    stock = sku_stock(product.product_id, raw)
                    found[stock.sku_id] = stock
        return found

    async def _write(
        self, product: str, batch: list[tuple[QuantityChange, SkuStock]]
    ) -> list[PushResult]:
        """Write one product's SKUs, every warehouse of each; a SKU whose target would put
        more in a warehouse than TikTok takes fails alone, before anything is sent."""
        skus = []
        too_big: list[PushResult] = []
        sendable = []
        for change, stock in batch:
            inventory = []
            quantities = spread(stock, change.target, self.warehouse)
            if max(quantities.values(), default=0) > MAX_QUANTITY:
                too_big.append(
                    PushResult(
                        change.listing_id,
                        "failed",
                        f"TikTok Shop takes at most {MAX_QUANTITY:,} units per warehouse",
                    )
                )
                continue
            for warehouse, quantity in quantities.items():
                entry: dict[str, Any] = {"quantity": quantity}
                if warehouse:  # optional only for a SKU with a single warehouse
                    entry = {"warehouse_id": warehouse, "quantity": quantity}
                inventory.append(entry)
            skus.append({"id": stock.sku_id, "inventory": inventory})
            sendable.append((change, stock))
        if not sendable:
            return too_big
        return too_big + await self._send(product, sendable, skus)

    async def _send(
        self,
        product: str,
        batch: list[tuple[QuantityChange, SkuStock]],
        skus: list[dict[str, Any]],
    ) -> list[PushResult]:
        """One Update Inventory call; its answer read per SKU."""
        try:
            data = await self.api.call(
                "POST",
                UPDATE_PATH.format(product_id=product),
                payloads.UpdateResult,
                body={"skus": skus},
                api_name=UPDATE_PATH,
                context=f"writing stock of product {product}",
            )
        except ChannelAuthError:
            raise
        except ChannelUnavailableError as exc:
            return await self._settle(batch, exc.message)
        except ChannelError as exc:
            return [PushResult(c.listing_id, "failed", exc.message) for c, _ in batch]
        refused: dict[str, str] = {}
        unattributed: list[str] = []
        for error in data.errors:
            reason = f"TikTok Shop {error.code}: {error.message}"
            detail = error.detail or payloads.ErrorDetail()
            extra = "; ".join(
                f"warehouse {e.warehouse_id}: {e.code} {e.message}" for e in detail.extra_errors
            )
            if extra:
                reason += f" ({extra})"
            if detail.sku_id:
                refused[detail.sku_id] = reason
            else:
                unattributed.append(reason)
        if unattributed:
            # An error that names no SKU: whether the others were written is unknown.
            return await self._settle(batch, "; ".join(unattributed), refused)
        return [
            PushResult(c.listing_id, "failed", refused[s.sku_id])
            if s.sku_id in refused
            else PushResult(c.listing_id, "written")
            for c, s in batch
        ]

    async def _settle(
        self,
        batch: list[tuple[QuantityChange, SkuStock]],
        why: str,
        refused: dict[str, str] | None = None,
    ) -> list[PushResult]:
        """After a write whose outcome is unknown, read the SKUs again and decide from that."""
        refused = refused or {}
        try:
            now = await self._stock([stock.sku_id for _, stock in batch])
        except ChannelError as exc:
            return [PushResult(c.listing_id, "failed", f"{why}; {exc.message}") for c, _ in batch]
        results = []
        for change, stock in batch:
            after = now.get(stock.sku_id)
            shown = listing_quantity(after, self.warehouse) if after is not None else None
            if stock.sku_id in refused:
                results.append(PushResult(change.listing_id, "failed", refused[stock.sku_id]))
            elif shown == change.target:
                results.append(PushResult(change.listing_id, "written"))
            else:
                results.append(
                    PushResult(change.listing_id, "failed", f"{why} (TikTok Shop shows {shown})")
                )
        return results

    # -- probe -----------------------------------------------------------------------------

    async def probe(self) -> ChannelProbe:
        messages: list[str] = []
        try:
            shops = await self.api.shops()
            cipher = await self.api.cipher()
            shop = next((s for s in shops if s.cipher == cipher), None)
            if shop is None:
                return ChannelProbe(
                    ok=False,
                    messages=(
                        f"the token is not authorised for the shop in [channels.{self.name}] "
                        f"shop_cipher: run `omnisync auth {self.name}`",
                    ),
                )
            expiry = self.tokens.expires_at("access_token")
            renew = self.tokens.expires_at("refresh_token")
            valid = f"; token valid until {expiry:%Y-%m-%d %H:%M} UTC" if expiry else ""
            if renew:
                valid += f", renewable until {renew:%Y-%m-%d} UTC"
            messages.append(
                f"token accepted for shop {shop.name} ({shop.region}, "
                f"{shop.seller_type or '?'}){valid}"
            )
            await self.api.call(
                "POST",
                PRODUCTS_PATH,
                payloads.Products,
                query={"page_size": 1},
                body={"status": "ACTIVATE"},
                context="reading products",
            )
            messages.append("the token can read products (seller.product.basic)")
            await self.api.call(
                "POST",
                ORDERS_PATH,
                payloads.Orders,
                query={"page_size": 1},
                body={},
                context="reading orders",
            )
            messages.append("the token can read orders (seller.order.info)")
            await self.api.call(
                "POST",
                RETURNS_PATH,
                payloads.Returns,
                query={"page_size": 10},
                body={},
                context="reading returns",
            )
            messages.append("the token can read returns (seller.return_refund.basic)")
            messages.append(
                "writing stock needs seller.product.write; TikTok offers no harmless test "
                "write, so a missing scope shows at the first push"
            )
        except ChannelError as exc:
            return ChannelProbe(ok=False, messages=(*messages, exc.message))
        return ChannelProbe(ok=True, messages=tuple(messages))

    async def aclose(self) -> None:
        await self.api.aclose()


def open_channel(config: ChannelConfig, context: ChannelContext) -> TikTokChannel:
    settings = config.settings
    assert isinstance(settings, TikTokSettings)
    return TikTokChannel(
        config.name,
        settings,
        base_url=config.base_url,
        client=context.http,
        budget=context.budget,
        tokens=context.tokens,
        now=context.now,
    )
