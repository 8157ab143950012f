"""An in-memory Channel for engine tests: scripted orders and listings, a record of pushes.

It implements the protocol in `omnisync.channels.base` the way a well-behaved marketplace
does: `fetch_orders` honours the half-open `[updated_since, updated_until)` window, and
`push_quantities` writes a listing only while it still shows the expected quantity.

Test knobs:
- `fail_with={"list": exc, "fetch": exc, "push": exc}` raises `exc` at that step;
- `hang={"list", "fetch", "push"}` makes that step wait forever (for the time budget);
- `before_list` / `before_fetch`: async hooks awaited at the start of those steps;
- `sell_between`: called once, after the listings were read and before the first push
  is applied, to "sell" on the channel (see `sell`), the way a marketplace sale races a write;
- `omit_results`: listing ids `push_quantities` says nothing about (a buggy adapter);
- `report_current=False`: a conflict does not say what the listing shows now (some APIs
  only refuse the write), so the engine must read the listings again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from omnisync.models import (
    ChannelProbe,
    Listing,
    Order,
    OrderLine,
    PushResult,
    QuantityChange,
    Status,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A moment `minutes` after T0 (the scripted clock's origin)."""
    return T0 + timedelta(minutes=minutes)


def make_order(
    order_id: str,
    status: str | Status,
    lines: Iterable[tuple[str, int]],
    *,
    created: datetime,
    updated: datetime | None = None,
) -> Order:
    """`make_order("1001", "paid", [("TEE-M", 2)], created=at(1))`; line ids count from 1."""
    return Order(
        id=order_id,
        status=Status(status),
        created_at=created,
        updated_at=updated or created,
        lines=tuple(
            OrderLine(id=str(number), channel_sku=sku, quantity=quantity)
            for number, (sku, quantity) in enumerate(lines, start=1)
        ),
    )


@dataclass
class MemoryChannel:
    """A channel held in memory. `listings` maps listing id -> Listing (quantity mutable)."""

    name: str
    listings: dict[str, Listing] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    fail_with: dict[str, BaseException] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    before_list: Callable[[], Awaitable[None]] | None = None
    before_fetch: Callable[[], Awaitable[None]] | None = None
    sell_between: Callable[[MemoryChannel], None] | None = None
    omit_results: set[str] = field(default_factory=set)
    report_current: bool = True
    # What the engine did: every push_quantities call's changes, and fetch windows.
    pushes: list[list[QuantityChange]] = field(default_factory=list)
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    closed: bool = False

    @classmethod
    def with_listings(
        cls, name: str, *items: tuple[str, str, int], **kwargs: object
    ) -> MemoryChannel:
        """`MemoryChannel.with_listings("a", ("L1", "TEE-M", 10))`."""
        listings = {lid: Listing(lid, sku, qty) for lid, sku, qty in items}
        return cls(name, listings=listings, **kwargs)  # type: ignore[arg-type]

    # -- test helpers ----------------------------------------------------------------------

    def quantities(self) -> dict[str, int]:
        return {lid: listing.quantity for lid, listing in self.listings.items()}

    def put_order(self, order: Order) -> None:
        """Add an order, or replace the version with the same id (a new status, say)."""
        self.orders = [o for o in self.orders if o.id != order.id] + [order]

    def sell(self, order: Order) -> None:
        """Place `order` on the channel and take its units off the listings, as a marketplace
        does the moment it sells."""
        self.put_order(order)
        for line in order.lines:
            for lid, listing in self.listings.items():
                if listing.channel_sku == line.channel_sku:
                    quantity = max(0, listing.quantity - line.quantity)
                    self.listings[lid] = replace(listing, quantity=quantity)

    def pushed_targets(self) -> dict[str, int]:
        """Listing id -> the last target asked for it."""
        return {c.listing_id: c.target for batch in self.pushes for c in batch}

    async def _step(self, step: str) -> None:
        if step in self.fail_with:
            raise self.fail_with[step]
        if step in self.hang:
            await asyncio.Event().wait()

    # -- the Channel protocol --------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        if self.before_list is not None:
            await self.before_list()
        await self._step("list")
        return list(self.listings.values())

    async def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        if self.before_fetch is not None:
            await self.before_fetch()
        await self._step("fetch")
        self.windows.append((updated_since, updated_until))
        for order in list(self.orders):
            if updated_since <= order.updated_at < updated_until:
                yield order

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        self.run_ids.append(run_id)
        await self._step("push")
        if self.sell_between is not None:
            hook, self.sell_between = self.sell_between, None
            hook(self)
        self.pushes.append(list(changes))
        results = []
        for change in changes:
            if change.listing_id in self.omit_results:
                continue
            listing = self.listings.get(change.listing_id)
            if listing is None:
                results.append(PushResult(change.listing_id, "failed", "no such listing"))
            elif listing.quantity != change.expected:
                results.append(
                    PushResult(
                        change.listing_id,
                        "conflict",
                        f"quantity is {listing.quantity}, expected {change.expected}",
                        current=listing.quantity if self.report_current else None,
                    )
                )
            else:
                self.listings[change.listing_id] = replace(listing, quantity=change.target)
                results.append(PushResult(change.listing_id, "written"))
        return results

    async def probe(self) -> ChannelProbe:
        return ChannelProbe(ok=True, messages=(f"{len(self.listings)} listings in memory",))

    async def aclose(self) -> None:
        self.closed = True
