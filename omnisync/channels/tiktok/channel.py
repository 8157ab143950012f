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

Answers are read through the models of `payloads.py` (the specs' response tables); the
paths and sizes are in `search.py`, the order reads in `orders.py`, the push in `push.py`.

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
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime

import httpx

from omnisync.channels.base import ChannelConfig, ChannelContext, ReadProblem, TokenStore
from omnisync.channels.tiktok import payloads
from omnisync.channels.tiktok.auth import stored_tokens
from omnisync.channels.tiktok.client import QPS, TikTokApi
from omnisync.channels.tiktok.mapping import sku_stock, to_listing
from omnisync.channels.tiktok.orders import OrderReads
from omnisync.channels.tiktok.push import StockPush
from omnisync.channels.tiktok.search import (
    ORDERS_PATH,
    PRODUCT_PAGE,
    PRODUCTS_PATH,
    RETURNS_PATH,
    pages,
)
from omnisync.channels.tiktok.settings import TikTokSettings
from omnisync.channels.tokens import StoredTokens
from omnisync.errors import ChannelError
from omnisync.httpclient import Budget, RetryPolicy
from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange
from omnisync.timeparse import utcnow

log = logging.getLogger(__name__)

# The client's connection pool: the most requests this channel has in flight at once.
# TikTok's limit is a rate, 50 QPS per API, app and shop (research section 5.5), which the
# client's Pacer enforces per API. A second's quota of writes can go out at once (a push of
# up to 50 products, when the quota's window has room for all of them); a longer push keeps
# 25 writes in flight (push.STEADY); reads keep a few pages and lookups in flight, and the
# stock re-read sends its batches of 600 SKUs side by side.
CONCURRENCY = QPS


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
        self.orders = OrderReads(name, self.api, self.sku_by_ids, now)
        self.pushes = StockPush(name, self.api, self.warehouse)

    @property
    def requests(self) -> int:
        return self.api.requests

    # -- listings --------------------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        listings: list[Listing] = []
        outside = 0
        async for data in pages(
            self.api,
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

    # -- orders ----------------------------------------------------------------------------

    def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        return self.orders.fetch(updated_since=updated_since, updated_until=updated_until)

    def fetch_orders_beside(
        self, *, updated_since: datetime, updated_until: datetime, listed: asyncio.Event
    ) -> AsyncIterator[Order]:
        """The window's orders (ReadsOrdersBesideListings), with the engine's next read,
        the tail, begun as soon as `listed` is set (see `OrderReads.fetch_beside`)."""
        return self.orders.fetch_beside(
            updated_since=updated_since, updated_until=updated_until, listed=listed
        )

    def read_problems(self) -> list[ReadProblem]:
        """Orders the last fetch could not read (ReportsReadProblems)."""
        return list(self.orders.problems)

    # -- push ------------------------------------------------------------------------------

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        return await self.pushes.push(changes)

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
        await self.orders.aclose()
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
