"""TikTok Shop stock writes: re-read the SKUs, write per product, settle what stayed unknown."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from omnisync.channels.base import moved
from omnisync.channels.tiktok import payloads
from omnisync.channels.tiktok.client import QPS, TikTokApi
from omnisync.channels.tiktok.mapping import (
    SkuStock,
    listing_quantity,
    sku_stock,
    split_listing_id,
    spread,
)
from omnisync.channels.tiktok.search import (
    INVENTORY_PATH,
    INVENTORY_SKUS,
    MAX_QUANTITY,
    UPDATE_PATH,
    UPDATE_SKUS,
)
from omnisync.errors import ChannelAuthError, ChannelError, ChannelUnavailableError
from omnisync.models import PushResult, QuantityChange

# Writes in flight at once in a push of more than a second's quota. TikTok's limit is a rate,
# 50 QPS per API, app and shop (research section 5.5), which the client's Pacer enforces per
# API, so in flight only has to be what that rate fills while calls are answered. Half the
# quota: the Pacer counts sends and TikTok counts arrivals, and bursts of 50 at once arrive
# spread out enough for the next second's first calls to be answered 429 (measured: 24 of
# 459 requests at 50 ms, 7 and 24 of 444 and 461 at 50 and 200 ms with 2,000 SKUs to
# write); 25 got none and fills the quota whenever a call takes up to half a second. (It
# was 8, which left the quota unused past 160 ms a call: 5.05 s → 3.88 s at 200 ms.)
STEADY = QPS // 2
Batch = list[tuple[QuantityChange, SkuStock]]


class StockPush:
    """One push: the SKUs re-read (TikTok has no compare-and-set), then one write a product."""

    def __init__(self, name: str, api: TikTokApi, warehouse: str | None) -> None:
        self.name = name
        self.api = api
        self.warehouse = warehouse

    async def push(self, changes: Sequence[QuantityChange]) -> list[PushResult]:
        results: list[PushResult] = []
        valid: list[tuple[QuantityChange, str, str]] = []
        for change in changes:
            ids = split_listing_id(change.listing_id)
            if ids is None:
                results.append(PushResult(change.listing_id, "failed", "not a TikTok Shop id"))
            else:
                valid.append((change, *ids))
        # Re-read just before writing: TikTok cannot refuse a stale write itself.
        current = await self.stock([sku for _, _, sku in valid])
        groups: dict[str, Batch] = defaultdict(list)
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
        # A push that fits in what is left of the second's quota goes out at once: however
        # its arrivals jitter, no second holds more than the quota (one round trip instead
        # of two for 26 to 50 products). Else (a longer push, or one right after another's
        # burst, as a settle pass is) it keeps STEADY in flight: a burst released as the
        # last one's window opens would arrive among its late arrivals and be answered 429.
        burst = len(calls) <= self.api.pacer.room(UPDATE_PATH)
        slots = asyncio.Semaphore(len(calls) if burst else STEADY)

        async def write(product: str, batch: Batch) -> list[PushResult]:
            async with slots:
                return await self._write(product, batch)

        for done in await asyncio.gather(*(write(*call) for call in calls)):
            results += done
        return results

    async def stock(self, sku_ids: Sequence[str]) -> dict[str, SkuStock]:
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

    async def _write(self, product: str, batch: Batch) -> list[PushResult]:
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
        self, product: str, batch: Batch, skus: list[dict[str, Any]]
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
        self, batch: Batch, why: str, refused: dict[str, str] | None = None
    ) -> list[PushResult]:
        """After a write whose outcome is unknown, read the SKUs again and decide from that."""
        refused = refused or {}
        try:
            now = await self.stock([stock.sku_id for _, stock in batch])
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
