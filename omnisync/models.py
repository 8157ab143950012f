"""The values that flow between channels, the reconciler and the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal


class Status(StrEnum):
    """An order line's normalised status; each adapter maps its channel's statuses to these."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    RETURNED = "returned"


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of an order as the channel shows it now.

    `quantity` is the line's current quantity (units removed or refunded on the channel are
    already subtracted). `status`, when set, overrides the order's status for this line:
    Lazada and TikTok keep a status per item.
    """

    id: str
    channel_sku: str
    quantity: int
    status: Status | None = None
    unit_price: Decimal | None = None
    currency: str | None = None
    # The channel's own location this line takes stock from, for a channel whose locations
    # map to ledger locations (Shopify `locations`); None: the channel's `location`.
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """One order on one channel, as last seen there."""

    id: str
    status: Status
    created_at: datetime
    updated_at: datetime
    lines: tuple[OrderLine, ...]

    def line_status(self, line: OrderLine) -> Status:
        return line.status or self.status


@dataclass(frozen=True, slots=True)
class Listing:
    """One sellable thing on one channel, with the quantity the channel shows now.

    `id` is the adapter's own key for writing (a Shopify inventory item at a location, a Woo
    product or variation, ...); `channel_sku` is what maps it to a ledger SKU, empty when the
    channel has none (such a listing is reported and never written).
    """

    id: str
    channel_sku: str
    quantity: int
    name: str = ""
    # The channel's own location the listing is at, when the channel maps several of its
    # locations to ledger locations (each is pushed its own target); None otherwise.
    location: str | None = None


@dataclass(frozen=True, slots=True)
class QuantityChange:
    """Set listing `listing_id` to `target`, provided the channel still shows `expected`."""

    listing_id: str
    channel_sku: str
    expected: int
    target: int


@dataclass(frozen=True, slots=True)
class Effect:
    """A change to on_hand and committed, in units."""

    on_hand: int = 0
    committed: int = 0

    def __add__(self, other: Effect) -> Effect:
        return Effect(self.on_hand + other.on_hand, self.committed + other.committed)

    def __sub__(self, other: Effect) -> Effect:
        return Effect(self.on_hand - other.on_hand, self.committed - other.committed)

    def __bool__(self) -> bool:
        return self.on_hand != 0 or self.committed != 0


@dataclass(frozen=True, slots=True)
class LineMovement:
    """One movement to write for an order line: the correction it needs on one SKU."""

    order_id: str
    line_id: str
    sku: str
    effect: Effect


# What the ledger already recorded for one channel: (order id, line id) -> SKU -> sum.
Recorded = Mapping[tuple[str, str], Mapping[str, Effect]]


PushOutcome = Literal["written", "conflict", "failed"]


@dataclass(frozen=True, slots=True)
class PushResult:
    """What became of one QuantityChange.

    `conflict` means the channel no longer showed `expected`, so nothing was written;
    `current` then carries the quantity the channel showed instead, when known.
    """

    listing_id: str
    outcome: PushOutcome
    detail: str = ""
    current: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelProbe:
    """What `check` learned by reaching a channel with its credentials."""

    ok: bool
    messages: tuple[str, ...] = field(default_factory=tuple)
