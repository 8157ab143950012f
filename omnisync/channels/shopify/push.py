"""Shopify stock writes: `inventorySetQuantities` with compare-and-set, in calls of 250.

`changeFromQuantity` (2026-01+; `compareQuantity` before) carries the quantity this run read:
Shopify refuses a write when a sale moved it. Whether one refused item sinks the whole call is
not documented (the payload has a single `inventoryAdjustmentGroup`), so both answers are read
as what they say: userErrors with an adjustment group mean the other items were written;
userErrors without one mean nothing was, and the items without an error are sent again in a
new call. A stale item is a conflict (with the quantity Shopify shows now), never re-sent.
Each call carries an `@idempotent` key (mandatory from 2026-04, research section 8), reused
when the same request is retried, and a `referenceDocumentUri` naming the omnisync run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from omnisync.channels.base import moved
from omnisync.channels.shopify import queries as q
from omnisync.channels.shopify.payloads import LevelsData, SetData, available
from omnisync.models import PushResult, QuantityChange
from omnisync.payload import Payload

P = TypeVar("P", bound=Payload)
STALE_CODES = {"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"}


def listing_id(item: str, location: str) -> str:
    """A listing of a shop with several locations: the inventory item at one of them (an
    item GID holds no `@`). A shop with one location keeps the item GID alone."""
    return f"{item}@{location}"


def item_at(listing: str, default: str) -> tuple[str, str]:
    """The inventory item and location of a listing id (`default`: the one location)."""
    item, _, location = listing.partition("@")
    return item, location or default


class GraphqlCall(Protocol):
    """`ShopifyChannel._graphql`: one operation, paced by its cost; its `data` as `model`."""

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any],
        model: type[P],
        *,
        cost: int,
        context: str,
        leave: Callable[[], float] | None = None,
    ) -> P: ...


class ShopifyPush:
    """The write half of ShopifyChannel (which provides these attributes)."""

    location: str
    concurrency: int
    cas_field: str
    idempotent: bool
    _graphql: GraphqlCall

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        results: list[PushResult] = []
        stale: list[QuantityChange] = []
        slots = asyncio.Semaphore(self.concurrency)

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
                results.append(moved(change, "Shopify", current.get(change.listing_id)))
        return results

    def _set_variables(self, pending: list[QuantityChange], run_id: int) -> dict[str, Any]:
        variables: dict[str, Any] = {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": f"gid://omnisync/SyncRun/{run_id}",
                "quantities": [
                    {
                        "inventoryItemId": item,
                        "locationId": location,
                        "quantity": change.target,
                        self.cas_field: change.expected,
                    }
                    for change in pending
                    for item, location in [item_at(change.listing_id, self.location)]
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
        at: dict[str, dict[str, str]] = {}  # location -> item -> listing id
        for change in changes:
            item, location = item_at(change.listing_id, self.location)
            at.setdefault(location, {})[item] = change.listing_id
        for location, items in at.items():
            ids = list(items)
            for start in range(0, len(ids), q.LEVELS_PAGE):
                batch = ids[start : start + q.LEVELS_PAGE]
                data = await self._graphql(
                    q.LEVELS_QUERY,
                    {"ids": batch, "location": location},
                    LevelsData,
                    cost=q.levels_cost(len(batch)),
                    context="re-reading quantities",
                )
                for node in data.nodes:
                    if node is None or node.id is None or node.inventoryLevel is None:
                        continue
                    quantity = available(node.inventoryLevel.quantities)
                    if quantity is not None and node.id in items:
                        current[items[node.id]] = quantity
        return current
