"""Shopify orders to omnisync orders: the status and line mapping, pure.

Status mapping (an order's `status`, and a per-line override where a line differs):

    Shopify                                              omnisync
    ---------------------------------------------------  ------------------------------------
    cancelledAt set, or financial VOIDED / EXPIRED       cancelled
    financial PENDING / AUTHORIZED (not cancelled)       pending
    financial PAID / PARTIALLY_PAID / *_REFUNDED         paid
    a line with no unfulfilled units left                shipped (completed once the order is
                                                         closed); the order is shipped when
                                                         every line is
    refunded units, restockType RETURN (or LEGACY_       extra line `<line id>/returned`,
      RESTOCK after fulfilment)                          returned (restock_returns decides)
    refunded units, restockType NO_RESTOCK               extra line `<line id>/kept`: shipped if
                                                         the order had any fulfilment (the goods
                                                         are gone), else cancelled
    refunded units, restockType CANCEL (or LEGACY_       nothing extra: they were never shipped
      RESTOCK before fulfilment)                         and the line's quantity already drops

A line's quantity is Shopify's `currentQuantity` ("units ordered, excluding refunded and
removed units"), so an edited or refunded line corrects itself in the ledger. A partly
fulfilled line stays `paid` until its last unit ships: for `available` (on_hand − committed)
a unit that is committed and one that has left count the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from omnisync.channels.shopify.payloads import LineItem, OrderNode, Refund
from omnisync.models import Order, OrderLine, Status
from omnisync.timeparse import as_utc

_FULFILMENT_STARTED = ("FULFILLED", "PARTIALLY_FULFILLED", "RESTOCKED")


@dataclass
class _LineParts:
    """What one Shopify line contributes: itself, and units refunded by restock type."""

    line: LineItem
    returned: int = 0
    kept: int = 0


def order_search(updated_since: datetime, updated_until: datetime) -> str:
    """Shopify's search filter for a window, in whole seconds that cover all of it.

    The start is floored and the end ceiled; the exact window is applied to what comes back.
    """
    start = _second(updated_since)
    end = _second(updated_until + timedelta(seconds=1) - timedelta(microseconds=1))
    return f"updated_at:>='{start}' AND updated_at:<'{end}'"


def _second(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def map_order(node: OrderNode, lines: list[LineItem], refunds: list[Refund]) -> Order:
    """One Shopify order, with all its lines and refunds, as an omnisync Order."""
    financial = node.displayFinancialStatus or ""
    fulfilment = node.displayFulfillmentStatus or ""
    cancelled = node.cancelledAt is not None or financial in ("VOIDED", "EXPIRED")
    closed = node.closedAt is not None
    base = Status.PENDING if financial in ("PENDING", "AUTHORIZED") else Status.PAID
    shipped = Status.COMPLETED if closed else Status.SHIPPED
    any_fulfilment = fulfilment in _FULFILMENT_STARTED

    parts = {line.id: _LineParts(line) for line in lines}
    for refund in refunds:
        for item in refund.refundLineItems.nodes:
            part = parts.get(item.lineItem.id) if item.lineItem else None
            if part is None:
                continue
            restock = item.restockType
            if restock == "RETURN" or (restock == "LEGACY_RESTOCK" and any_fulfilment):
                part.returned += item.quantity
            elif restock == "NO_RESTOCK":
                part.kept += item.quantity

    out: list[OrderLine] = []
    line_statuses: list[Status] = []
    for line_id, part in parts.items():
        line = part.line
        sku = (line.sku or "").strip()
        money = line.originalUnitPriceSet.shopMoney if line.originalUnitPriceSet else None
        price = money.amount if money else None
        currency = money.currencyCode if money and price is not None else None
        current = line.currentQuantity
        if cancelled:
            status = Status.CANCELLED
        elif line.unfulfilledQuantity == 0 and current > 0:
            status = shipped
        else:
            status = base
        line_statuses.append(status)
        out.append(OrderLine(line_id, sku, current, status, price, currency))
        if part.returned:
            out.append(
                OrderLine(
                    f"{line_id}/returned", sku, part.returned, Status.RETURNED, price, currency
                )
            )
        if part.kept:
            kept_status = shipped if any_fulfilment else Status.CANCELLED
            out.append(OrderLine(f"{line_id}/kept", sku, part.kept, kept_status, price, currency))

    if cancelled:
        status = Status.CANCELLED
    elif line_statuses and all(s in (Status.SHIPPED, Status.COMPLETED) for s in line_statuses):
        status = shipped
    elif fulfilment == "FULFILLED":
        status = shipped
    else:
        status = base
    # Lines that match the order's status carry no override.
    lines_out = tuple(
        OrderLine(li.id, li.channel_sku, li.quantity, None, li.unit_price, li.currency)
        if li.status == status
        else li
        for li in out
    )
    return Order(
        id=node.id,
        status=status,
        created_at=node.createdAt,
        updated_at=node.updatedAt,
        lines=lines_out,
    )
