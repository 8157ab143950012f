"""Shopify orders to omnisync orders: the status and line mapping, pure.

Status mapping (an order's `status`, and a per-line override where a line differs):

    Shopify                                              omnisync
    ---------------------------------------------------  ------------------------------------
    cancelledAt set (the only mark of a cancelled        cancelled; units already fulfilled
      order)                                             stay shipped (a cancellation never
                                                         un-ships them)
    financial PENDING / AUTHORIZED / EXPIRED / VOIDED    pending (EXPIRED is a lapsed payment
      (not cancelled)                                    authorisation: the order may still
                                                         ship, so it keeps its stock)
    financial PAID / PARTIALLY_PAID / *_REFUNDED         paid
    a line with no unfulfilled units left                shipped (completed once the order is
                                                         closed); the order is shipped when
                                                         every line is
    refunded units Shopify restocked (`restocked`),      extra line `<line id>/returned`,
      after any fulfilment                               returned (restock_returns decides)
    refunded units Shopify did not restock               extra line `<line id>/kept`: shipped if
                                                         the order had any fulfilment (the goods
                                                         are gone), else cancelled
    refunded units restocked before any fulfilment,      nothing extra: they never left and the
      or restockType CANCEL                              line's quantity already drops
    the order sold (POS) or fulfilled at another         cancelled: it takes stock from that
      location than the configured one                   location, not this one

Sources: `displayFinancialStatus` EXPIRED and `RefundLineItem.restocked`: research section 8
(schemas captured from a live store); `restocked` is read next to `restockType` by Microsoft's
Business Central connector (microsoft/ALAppExtensions, ShpfyGQLRefundLines.Codeunit.al);
`Order.retailLocation` (the POS location) and `Fulfillment.location`: Admin GraphQL Order and
Fulfillment objects (Netflix DGS codegen projections of the schema carry `retailLocation`).

A line's quantity is Shopify's `currentQuantity` ("units ordered, excluding refunded and
removed units"), so an edited or refunded line corrects itself in the ledger. A partly
fulfilled line stays `paid` until its last unit ships: for `available` (on_hand − committed)
a unit that is committed and one that has left count the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from omnisync.channels.shopify.payloads import LineItem, OrderNode, Refund, RefundLineItem
from omnisync.models import Order, OrderLine, Status
from omnisync.timeparse import as_utc

_FULFILMENT_STARTED = ("FULFILLED", "PARTIALLY_FULFILLED", "RESTOCKED")
_UNPAID = ("PENDING", "AUTHORIZED", "EXPIRED", "VOIDED")


@dataclass
class _LineParts:
    """What one Shopify line contributes: itself, and units refunded by restock type."""

    line: LineItem
    returned: int = 0
    kept: int = 0


def order_search(updated_since: datetime, updated_until: datetime | None) -> str:
    """Shopify's search filter for a window, in whole seconds that cover all of it.

    The start is floored and the end ceiled; the exact window is applied to what comes back.
    No end (None): the search is open at the top.
    """
    start = _second(updated_since)
    if updated_until is None:
        return f"updated_at:>='{start}'"
    end = _second(updated_until + timedelta(seconds=1) - timedelta(microseconds=1))
    return f"updated_at:>='{start}' AND updated_at:<'{end}'"


def _second(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_location(node: OrderNode) -> set[str]:
    """The locations an order takes stock from, as far as Shopify says: the POS location it
    was sold at, else those its fulfillments left from; empty while nothing says (a web order
    not yet fulfilled, which then holds stock at the configured location: the safe side)."""
    if node.retailLocation is not None:
        return {node.retailLocation.id}
    return {f.location.id for f in node.fulfillments if f.location is not None}


def map_order(
    node: OrderNode,
    lines: list[LineItem],
    refunds: list[Refund],
    *,
    location: str | None = None,
    locations: Sequence[str] = (),
) -> Order:
    """One Shopify order, with all its lines and refunds, as an omnisync Order.

    `location` is the configured location: an order that Shopify places at other locations
    only changes nothing here (None: every order counts). `locations`, for a shop whose
    several locations map to ledger locations: every line is placed (`OrderLine.location`)
    at the first of them the order is sold or fulfilled at, or at the first of them while
    Shopify places it nowhere yet; an order placed only at locations not listed changes
    nothing here. (A split fulfilment is placed whole at one location: Shopify's order-level
    fulfillments do not say which line left from where.)
    """
    financial = node.displayFinancialStatus or ""
    fulfilment = node.displayFulfillmentStatus or ""
    places = order_location(node)
    placed: str | None = None
    if locations:
        placed = next((place for place in locations if place in places), None)
        elsewhere = bool(places) and placed is None
        placed = placed or locations[0]
    else:
        elsewhere = location is not None and bool(places) and location not in places
    # Only cancelledAt cancels: EXPIRED / VOIDED describe the payment, not the order.
    cancelled = node.cancelledAt is not None or elsewhere
    closed = node.closedAt is not None
    base = Status.PENDING if financial in _UNPAID else Status.PAID
    shipped = Status.COMPLETED if closed else Status.SHIPPED
    any_fulfilment = fulfilment in _FULFILMENT_STARTED

    parts = {line.id: _LineParts(line) for line in lines}
    for refund in refunds:
        for item in refund.refundLineItems.nodes:
            part = parts.get(item.lineItem.id) if item.lineItem else None
            if part is None:
                continue
            if item.restockType == "CANCEL":
                continue  # units removed before they shipped: the line's quantity drops
            # restockType RETURN is also used for units never fulfilled, and a restock can
            # fail: `restocked` says whether the units went back on the shelf (research 8).
            restocked = item.restocked if item.restocked is not None else _restocks(item)
            if restocked and any_fulfilment:
                part.returned += item.quantity
            elif not restocked:
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
        quantity = current
        if elsewhere:
            status = Status.CANCELLED
        elif cancelled:
            # Units that left before the cancellation stay gone; the rest were released.
            fulfilled = max(0, current - line.unfulfilledQuantity) if any_fulfilment else 0
            status = shipped if fulfilled else Status.CANCELLED
            quantity = fulfilled or current
        elif line.unfulfilledQuantity == 0 and current > 0:
            status = shipped
        else:
            status = base
        line_statuses.append(status)
        out.append(OrderLine(line_id, sku, quantity, status, price, currency))
        if elsewhere:
            continue
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
        OrderLine(
            li.id,
            li.channel_sku,
            li.quantity,
            None if li.status == status else li.status,
            li.unit_price,
            li.currency,
            placed,
        )
        for li in out
    )
    return Order(
        id=node.id,
        status=status,
        created_at=node.createdAt,
        updated_at=node.updatedAt,
        lines=lines_out,
    )


def _restocks(item: RefundLineItem) -> bool:
    # Versions without `restocked`: the restock type is all there is.
    return item.restockType in ("RETURN", "LEGACY_RESTOCK")
