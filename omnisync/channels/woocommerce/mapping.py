"""WooCommerce orders and stock to omnisync's: the status table and the stock rule, pure.

Status mapping (order level; Woo has no per-line status):

    WooCommerce                      omnisync
    -------------------------------  -----------------------------------------------------
    pending, on-hold                 pending   (awaiting payment; Woo may hold the stock)
    processing                       paid      (paid, not shipped)
    completed                        completed
    cancelled, failed, trash         cancelled
    refunded                         returned  (fully refunded; `restock_returns` decides)
    checkout-draft                   cancelled (a cart in the block checkout: holds nothing)
    anything else (plugin statuses)  paid, with a warning: holding stock is the safe side

Woo has no "shipped" core status. A partial refund keeps the order's status: Woo does not say
through this endpoint which refunded units went back to stock.

Stock: a product or variation that manages stock may still report `stock_quantity: null`
(created without a quantity); Woo itself counts that as 0 (`wc_stock_amount`), and so does
omnisync, on the first read and on the re-read before a write alike, so the listing is written
like any other. One that does not manage stock has no quantity to read or write.
"""

from __future__ import annotations

from omnisync.channels.woocommerce.payloads import StockItem, WooOrder
from omnisync.models import Listing, Order, OrderLine, Status

STATUSES: dict[str, Status] = {
    "pending": Status.PENDING,
    "on-hold": Status.PENDING,
    "processing": Status.PAID,
    "completed": Status.COMPLETED,
    "cancelled": Status.CANCELLED,
    "failed": Status.CANCELLED,
    "trash": Status.CANCELLED,
    "refunded": Status.RETURNED,
    "checkout-draft": Status.CANCELLED,
}
# What an unknown (plugin) status counts as: holding stock is the safe side.
UNKNOWN_STATUS = Status.PAID


def stock_of(item: StockItem) -> int | None:
    """The quantity a listing shows: None when it does not manage stock, null read as 0."""
    if item.manage_stock is not True:
        return None
    return item.stock_quantity if item.stock_quantity is not None else 0


def listing(listing_id: str, item: StockItem, *, sku: str | None, name: str) -> Listing:
    """A stock-managing product or variation as a Listing."""
    return Listing(
        id=listing_id,
        channel_sku=(sku or "").strip(),
        quantity=stock_of(item) or 0,
        name=name,
    )


def map_order(raw: WooOrder) -> Order:
    """One Woo order as an omnisync Order (unknown statuses count as paid)."""
    return Order(
        id=raw.id,
        status=STATUSES.get(raw.status, UNKNOWN_STATUS),
        created_at=raw.date_created_gmt,
        updated_at=raw.date_modified_gmt,
        lines=tuple(
            OrderLine(
                id=line.id,
                channel_sku=(line.sku or "").strip(),
                quantity=line.quantity,
                unit_price=line.price,
                currency=raw.currency,
            )
            for line in raw.line_items
        ),
    )
