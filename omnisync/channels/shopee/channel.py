"""Shopee Open Platform v2: orders and returns in, `seller_stock` out.

Endpoints (each checked against Shopee's API-doc JSON in congminh1254/shopee-sdk@cb231e9b:
schemas/<name>.json, fetched from open.shopee.com):

- Listings: `GET /api/v2/product/get_item_list` (offset / page_size ≤ 100 / has_next_page /
  next_offset; item_status NORMAL and UNLIST, repeated), then `get_item_base_info`
  (item_id_list ≤ 50: item_sku, has_model, stock_info_v2) and, for items with models,
  `get_model_list` (item_id: model_id, model_sku, stock_info_v2). `Listing.id` is
  `ITEM/MODEL` (model 0: no variations); the quantity is the seller stock (`seller_stock[]`
  of stock_info_v2: the one at `location_id` when configured, else all of it), the number
  update_stock writes; Shopee-warehouse stock (`shopee_stock`) is not the seller's to set, so
  a model fulfilled by Shopee (`is_fulfillment_by_shopee`, on the model and on an item whose
  only model it is) is no listing of omnisync's.
- Orders and returns: see `orders` (15-day windows, cursor paging, details 50 a call).
- Push: `POST /api/v2/product/update_stock`, one item per call, `stock_list` of ≤ 50 models,
  each `{"model_id", "seller_stock": [{"location_id"?, "stock"}]}` ("This API will update only
  seller_stock"; location_id only for multi-warehouse sellers). Shopee has no compare-and-set:
  each item's models (items without models, 50 to a call) are re-read just before the write
  and a model whose stock moved since
  this run read it is a `conflict`, not overwritten. The answer lists `success_list` and
  `failure_list[{model_id, failed_reason}]` (a model held by a promotion's reserved stock fails
  alone with Shopee's reason); a model in neither, or a call that timed out, is re-read
  before it is called written or failed.

Statuses and lines: see `mapping`. Errors, throttling and tokens: see `client`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from omnisync.channels.base import ChannelConfig, ChannelContext, ChannelType, ReadProblem, moved
from omnisync.channels.shopee.auth import ShopeeAuthorizer
from omnisync.channels.shopee.client import QPS, ShopeeClient
from omnisync.channels.shopee.mapping import (
    channel_sku,
    listing_id,
    parse_listing_id,
)
from omnisync.channels.shopee.orders import DETAIL_BATCH, PAGE, OrderReader
from omnisync.channels.shopee.payloads import ItemInfo, ModelInfo, Payload, StockInfo, StockResult
from omnisync.channels.shopee.settings import ShopeeSettings
from omnisync.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelResponseError,
    ChannelUnavailableError,
)
from omnisync.httpclient import RetryPolicy
from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange

log = logging.getLogger(__name__)
P = TypeVar("P", bound=Payload)

MODELS_PER_CALL = 50  # update_stock stock_list: "Length should be between 1 to 50"
# Requests in flight at once, reads and writes alike, and the client's connection pool.
# Shopee's limit is a rate, which the client's Pacer keeps to (50 calls a second for the shop,
# an assumption: see `client.QPS`); in flight only has to be what that rate fills while calls
# are answered: 25 fill it whenever a call takes up to half a second. (It was 8, which left
# the rate unused past 160 ms a call; 50, a whole second's quota at once, gained nothing
# measurable here, since one quota serves every API.) In flight changes neither how many
# calls are made nor how fast: an error_rate_limit is waited out; `error_limit` (the daily
# cap) stops the channel until midnight UTC+8 whatever the pace.
CONCURRENCY = QPS // 2
ITEM_STATUSES = ["NORMAL", "UNLIST"]  # unlisted items keep stock and can be listed again
STOCK_BATCH_FAILED = frozenset({"error_busi_update_stock_failed"})  # "check failure_list"


def seller_stock(info: StockInfo | dict[str, Any] | None, location_id: str | None) -> int:
    """The seller stock in `stock_info_v2`: at `location_id`, else summed over locations."""
    if info is None:
        return 0
    if isinstance(info, dict):
        info = StockInfo.model_validate(info)
    return info.seller(location_id)


class ShopeeChannel:
    """One Shopee shop."""

    concurrency = CONCURRENCY

    def __init__(
        self,
        config: ChannelConfig,
        context: ChannelContext,
        *,
        policy: RetryPolicy | None = None,
    ) -> None:
        settings = config.settings
        assert isinstance(settings, ShopeeSettings)
        self.name = config.name
        self.settings = settings
        self.client = ShopeeClient(
            config.name,
            settings,
            context,
            base_url=config.base_url,
            policy=policy,
            connections=self.concurrency,
        )
        self._slots = asyncio.Semaphore(self.concurrency)
        self._skus_by_id: dict[str, str] = {}
        # Where each model's seller stock was seen (stock_info_v2.seller_stock[].location_id),
        # to name the location_id to configure when Shopee asks for one.
        self._locations: dict[tuple[int, int], tuple[str, ...]] = {}
        self._orders = OrderReader(config.name, self._get)

    async def _get(self, path: str, params: dict[str, Any], context: str) -> dict[str, Any]:
        async with self._slots:
            body = await self.client.call("GET", path, params=params, context=context)
        response = body.get("response")
        if not isinstance(response, dict):
            raise ChannelResponseError(
                self.name, f"{path}: expected an answer with `response`, got {sorted(body)}"
            )
        return response

    # -- listings --------------------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        # Item details are read while the other pages of ids come in. The first page tells
        # `total_count`, so the other pages go side by side at offsets of PAGE; a last page
        # that still has_next_page (items added meanwhile) is followed by its next_offset.
        tasks: list[asyncio.Task[list[Listing]]] = []
        seen: set[int] = set()

        def details(page: dict[str, Any]) -> None:
            ids = [int(item["item_id"]) for item in page.get("item") or ()]
            ids = [item_id for item_id in ids if item_id not in seen]  # an item that moved
            seen.update(ids)
            tasks.extend(
                asyncio.create_task(self._items(ids[start : start + DETAIL_BATCH]))
                for start in range(0, len(ids), DETAIL_BATCH)
            )

        async def read(offset: int) -> dict[str, Any]:
            page = await self._item_page(offset)
            details(page)  # each page's details start as soon as it is in
            return page

        try:
            page = await read(0)
            if page.get("has_next_page"):
                total = int(page.get("total_count") or 0)
                offsets = range(PAGE, max(total, PAGE + 1), PAGE)
                page = (await asyncio.gather(*(read(offset) for offset in offsets)))[-1]
                while page.get("has_next_page"):
                    page = await read(int(page["next_offset"]))
            found = await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        listings = [listing for group in found for listing in group]
        self._skus_by_id = {listing.id: listing.channel_sku for listing in listings}
        return listings

    async def _item_page(self, offset: int) -> dict[str, Any]:
        return await self._get(
            "/api/v2/product/get_item_list",
            {"offset": offset, "page_size": PAGE, "item_status": ITEM_STATUSES},
            "reading items",
        )

    async def _base_info(self, item_ids: Sequence[int]) -> list[ItemInfo]:
        response = await self._get(
            "/api/v2/product/get_item_base_info",
            {"item_id_list": ",".join(str(item) for item in item_ids)},
            "reading item details",
        )
        return self._validated(ItemInfo, response.get("item_list"), "get_item_base_info")

    async def _items(self, item_ids: Sequence[int]) -> list[Listing]:
        listings: list[Listing] = []
        with_models: list[ItemInfo] = []
        for item in await self._base_info(item_ids):
            if item.has_model:
                with_models.append(item)
                continue
            if item.is_fulfillment_by_shopee:
                continue  # its stock is Shopee's warehouse stock: not the seller's to set
            listings.append(
                Listing(
                    id=listing_id(item.item_id, 0),
                    channel_sku=channel_sku(item.item_sku, 0, None),
                    quantity=self._stock(item.item_id, 0, item.stock_info_v2),
                    name=item.item_name,
                )
            )
        models = await asyncio.gather(*(self._models(item.item_id) for item in with_models))
        for item, item_models in zip(with_models, models, strict=True):
            for model in item_models:
                if model.is_fulfillment_by_shopee:
                    continue
                listings.append(
                    Listing(
                        id=listing_id(item.item_id, model.model_id),
                        channel_sku=channel_sku(None, model.model_id, model.model_sku),
                        quantity=self._stock(item.item_id, model.model_id, model.stock_info_v2),
                        name=item.item_name,  # models have no name of their own
                    )
                )
        return listings

    def _stock(self, item_id: int, model_id: int, info: StockInfo | None) -> int:
        """A model's seller stock (see `seller_stock`), noting the locations it was seen at."""
        if info is not None:
            self._locations[item_id, model_id] = info.locations()
        return seller_stock(info, self.settings.location_id)

    def _location_hint(self, item_id: int, model_id: int, message: str) -> str:
        """What to set when Shopee refused a write for its location, else ""."""
        text = message.lower()
        if self.settings.location_id or "location" not in text:
            return ""
        seen = self._locations.get((item_id, model_id), ())
        if not seen:
            return ""
        where = ", ".join(seen)
        return (
            f" (this shop keeps seller stock at location {where}: set location_id in "
            f"[channels.{self.name}] to the one omnisync should manage)"
        )

    def _validated(self, kind: type[P], values: Any, api: str) -> list[P]:
        """Each entry of a list in an answer as `kind`, or a ChannelResponseError naming it."""
        try:
            return [kind.model_validate(value) for value in values or ()]
        except ValueError as exc:
            raise ChannelResponseError(
                self.name, f"{api}: unexpected answer ({str(exc).splitlines()[0]})"
            ) from None

    async def _models(self, item_id: int) -> list[ModelInfo]:
        response = await self._get(
            "/api/v2/product/get_model_list", {"item_id": item_id}, f"reading models of {item_id}"
        )
        return self._validated(ModelInfo, response.get("model"), "get_model_list")

    # -- orders ----------------------------------------------------------------------------

    def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        # Lines without a SKU are matched through the listings read this run.
        return self._orders.read(updated_since, updated_until, lambda: self._skus_by_id)

    def fetch_orders_beside(
        self, *, updated_since: datetime, updated_until: datetime, listed: asyncio.Event
    ) -> AsyncIterator[Order]:
        """The window's orders (ReadsOrdersBesideListings): pages, details and returns are
        read at once, lines mapped once `listed` says this run's listings are known."""
        return self._orders.read(
            updated_since, updated_until, lambda: self._skus_by_id, listed=listed
        )

    def read_problems(self) -> list[ReadProblem]:
        """Orders the last fetch could not read (ReportsReadProblems)."""
        return list(self._orders.problems)

    # -- push ------------------------------------------------------------------------------

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        results: list[PushResult] = []
        simple: list[tuple[int, QuantityChange]] = []
        by_item: dict[int, list[tuple[int, QuantityChange]]] = defaultdict(list)
        for change in changes:
            ids = parse_listing_id(change.listing_id)
            if ids is None:
                results.append(PushResult(change.listing_id, "failed", "not a Shopee ITEM/MODEL"))
            elif ids[1] == 0:
                simple.append((ids[0], change))
            else:
                by_item[ids[0]].append((ids[1], change))
        # Items are disjoint, so their calls may run side by side; each group is re-read right
        # before it is written: items without models 50 to a get_item_base_info call, models
        # one get_model_list per item.
        jobs = [
            self._push_simple(simple[start : start + DETAIL_BATCH])
            for start in range(0, len(simple), DETAIL_BATCH)
        ]
        jobs += [
            self._push_models(item_id, group[start : start + MODELS_PER_CALL])
            for item_id, group in by_item.items()
            for start in range(0, len(group), MODELS_PER_CALL)
        ]
        for done in await asyncio.gather(*jobs):
            results += done
        return results

    async def _current(self, item_id: int, has_models: bool) -> dict[int, int]:
        """Seller stock per model of one item, read now."""
        if has_models:
            models = await self._models(item_id)
            return {m.model_id: self._stock(item_id, m.model_id, m.stock_info_v2) for m in models}
        for item in await self._base_info([item_id]):
            if item.item_id == item_id and not item.has_model:
                return {0: self._stock(item_id, 0, item.stock_info_v2)}
        return {}

    @staticmethod
    def _compare(
        current: dict[int, int], chunk: Iterable[tuple[int, QuantityChange]]
    ) -> tuple[list[PushResult], list[tuple[int, QuantityChange]]]:
        """Conflicts for what moved since this run read it; the rest may be written."""
        results: list[PushResult] = []
        writes: list[tuple[int, QuantityChange]] = []
        for key, change in chunk:
            now = current.get(key)
            if now is None:
                results.append(PushResult(change.listing_id, "failed", "no longer on the shop"))
            elif now != change.expected:
                results.append(moved(change, "Shopee", now))
            else:
                writes.append((key, change))
        return results, writes

    async def _push_simple(self, batch: list[tuple[int, QuantityChange]]) -> list[PushResult]:
        try:
            items = await self._base_info([item_id for item_id, _ in batch])
        except ChannelResponseError as exc:  # e.g. error_item_not_found: all of them deleted
            return [
                PushResult(c.listing_id, "failed", f"re-reading: {exc.message}") for _, c in batch
            ]
        current = {
            item.item_id: self._stock(item.item_id, 0, item.stock_info_v2)
            for item in items
            if not item.has_model
        }
        results, writes = self._compare(current, batch)
        done = await asyncio.gather(
            *(self._write(item_id, [(0, change)], has_models=False) for item_id, change in writes)
        )
        return results + [result for group in done for result in group]

    async def _push_models(
        self, item_id: int, chunk: list[tuple[int, QuantityChange]]
    ) -> list[PushResult]:
        try:
            current = await self._current(item_id, True)
        except ChannelResponseError as exc:  # e.g. error_item_not_found: the item was deleted
            return [
                PushResult(c.listing_id, "failed", f"re-reading: {exc.message}") for _, c in chunk
            ]
        results, writes = self._compare(current, chunk)
        if writes:
            results += await self._write(item_id, writes, has_models=True)
        return results

    async def _write(
        self, item_id: int, writes: list[tuple[int, QuantityChange]], *, has_models: bool
    ) -> list[PushResult]:
        """One update_stock call for models of one item, and what became of each."""
        results: list[PushResult] = []
        stock = [
            {"model_id": model_id, "seller_stock": [self._stock_entry(change.target)]}
            for model_id, change in writes
        ]
        try:
            async with self._slots:
                body = await self.client.call(
                    "POST",
                    "/api/v2/product/update_stock",
                    body={"item_id": item_id, "stock_list": stock},
                    context=f"writing stock of item {item_id}",
                    tolerate=STOCK_BATCH_FAILED,
                )
        except ChannelAuthError:
            raise
        except ChannelResponseError as exc:
            # Shopee refused the call as a whole (e.g. error_auth "Lack of location_id"):
            # nothing was written.
            return results + [
                PushResult(
                    change.listing_id,
                    "failed",
                    f"Shopee: {exc.message}{self._location_hint(item_id, model_id, exc.message)}",
                )
                for model_id, change in writes
            ]
        except ChannelUnavailableError as exc:
            # Timed out or gave up: the write may or may not have happened; look before saying.
            return results + await self._settle(item_id, has_models, writes, exc.message)
        try:
            answer = StockResult.model_validate(body.get("response") or {})
        except ValueError:
            # The write may have happened: settle it by reading, as for a lost answer.
            return results + await self._settle(item_id, has_models, writes, "unreadable answer")
        succeeded = {entry.model_id: entry for entry in answer.success_list}
        failed = {entry.model_id: entry.failed_reason or "refused" for entry in answer.failure_list}
        unclear: list[tuple[int, QuantityChange]] = []
        for model_id, change in writes:
            if model_id in failed:
                results.append(
                    PushResult(change.listing_id, "failed", f"Shopee: {failed[model_id]}")
                )
            elif model_id in succeeded:
                kept = succeeded[model_id].stock
                if kept is not None and kept != change.target:
                    results.append(
                        PushResult(
                            change.listing_id, "failed", f"Shopee kept {kept}, not {change.target}"
                        )
                    )
                else:
                    results.append(PushResult(change.listing_id, "written"))
            else:
                unclear.append((model_id, change))
        if unclear:
            results += await self._settle(item_id, has_models, unclear, "missing from the answer")
        return results

    def _stock_entry(self, target: int) -> dict[str, Any]:
        if self.settings.location_id:
            return {"location_id": self.settings.location_id, "stock": target}
        return {"stock": target}

    async def _settle(
        self,
        item_id: int,
        has_models: bool,
        writes: Iterable[tuple[int, QuantityChange]],
        why: str,
    ) -> list[PushResult]:
        """After an ambiguous write, re-read: a model at its target was written."""
        try:
            current = await self._current(item_id, has_models)
        except ChannelAuthError:
            raise
        except ChannelError as exc:
            return [
                PushResult(change.listing_id, "failed", f"{why}; re-reading failed: {exc.message}")
                for _, change in writes
            ]
        return [
            PushResult(change.listing_id, "written")
            if current.get(model_id) == change.target
            else PushResult(
                change.listing_id,
                "failed",
                f"{why}; Shopee shows {current.get(model_id)}, not {change.target}",
                current=current.get(model_id),
            )
            for model_id, change in writes
        ]

    # -- probe -----------------------------------------------------------------------------

    async def probe(self) -> ChannelProbe:
        messages: list[str] = []
        ok = True
        try:
            shop = await self.client.call("GET", "/api/v2/shop/get_shop_info", context="shop")
            status = str(shop.get("status") or "?")
            line = f"shop {shop.get('shop_name') or '?'} ({self.client.shop_id()}), {status}"
            expire = shop.get("expire_time")
            if isinstance(expire, int) and expire > 0:
                line += f"; the seller's authorisation lasts until {_day(expire)}"
            messages.append(line)
            if status != "NORMAL":
                ok = False
                messages.append(f"the shop is {status}: Shopee refuses its API calls")
            access = self.client.tokens.expires_at("access_token")
            refresh = self.client.tokens.expires_at("refresh_token")
            if access is not None:
                line = f"access token valid until {access:%Y-%m-%d %H:%M} UTC"
                if refresh is not None:
                    line += f", renewable until {refresh:%Y-%m-%d} UTC"
                messages.append(line)
            await self._get(
                "/api/v2/product/get_item_list",
                {"offset": 0, "page_size": 1, "item_status": ITEM_STATUSES},
                "reading items",
            )
            messages.append("the token can read products")
            now = self.client.timestamp()
            await self._get(
                "/api/v2/order/get_order_list",
                {
                    "time_range_field": "update_time",
                    "time_from": now - 86400,
                    "time_to": now,
                    "page_size": 1,
                    "cursor": "",
                },
                "reading orders",
            )
            await self._get(
                "/api/v2/returns/get_return_list",
                {
                    "page_no": 0,
                    "page_size": 1,
                    "update_time_from": now - 86400,
                    "update_time_to": now,
                },
                "reading returns",
            )
            messages.append("the token can read orders and returns")
            if self.settings.location_id:
                messages.append(
                    f"stock is read and written at location {self.settings.location_id}"
                )
        except ChannelError as exc:
            return ChannelProbe(ok=False, messages=(*messages, exc.message))
        return ChannelProbe(ok=ok, messages=tuple(messages))

    async def aclose(self) -> None:
        await self.client.http.aclose()


def _day(stamp: int) -> str:
    return f"{datetime.fromtimestamp(stamp).astimezone():%Y-%m-%d}"


def _open(config: ChannelConfig, context: ChannelContext) -> ShopeeChannel:
    return ShopeeChannel(config, context)


def _authorize(config: ChannelConfig, context: ChannelContext) -> ShopeeAuthorizer:
    return ShopeeAuthorizer(config, context)


CHANNEL_TYPE = ChannelType(settings=ShopeeSettings, open=_open, authorize=_authorize)
