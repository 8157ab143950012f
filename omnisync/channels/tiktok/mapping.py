"""TikTok Shop statuses, order lines and listings as omnisync sees them (pure functions).

Sources, all from partner.tiktokshop.com as scraped in lazykern/ecommerce-api-docs@eba059e3
(data/raw/tiktok/api-reference/...): `orders/get-order-list.spec.json` (order `status`, line
`display_status`, `combined_listing_skus`), `return-and-refund/search-returns.spec.json`
(`return_type`, `return_status`, `can_buyer_keep_item`, `return_line_items`),
`products/search-products.spec.json` (products, SKUs, per-warehouse `inventory`).

Status mapping (the order's `status`; each line's `display_status` overrides it for the line):

    TikTok Shop                                  omnisync
    -------------------------------------------  --------------------------------------------
    UNPAID, ON_HOLD                              pending  (ON_HOLD: paid, buyer may still
                                                 cancel without the seller's approval)
    AWAITING_SHIPMENT, PARTIALLY_SHIPPING,       paid
      AWAITING_COLLECTION
    IN_TRANSIT                                   shipped
    DELIVERED, COMPLETED                         completed
    CANCELLED (CANCEL in webhooks)               cancelled
    a line in a RETURN_AND_REFUND return that    returned (`restock_returns` decides)
      succeeded (RETURN_OR_REFUND_REQUEST_SUCCESS
      / _COMPLETE) and whose goods come back
    REFUND (money only), REPLACEMENT, returns    no change: the goods did not come back
      the buyer may keep, pending or rejected
    anything else                                paid, with a warning (holding stock is the
                                                 safe side)

Lines: TikTok has no quantity field; every unit is its own line item with its own id, so
each becomes an OrderLine of quantity 1 and the ledger adds them up per SKU. A virtual
bundle line (`combined_listing_skus`) acts on its components: one line per component,
`{line id}/{component sku id}`, quantity `sku_count`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from omnisync.channels.tiktok import payloads
from omnisync.models import Listing, Order, OrderLine, Status

log = logging.getLogger(__name__)

STATUSES: dict[str, Status] = {
    "UNPAID": Status.PENDING,
    "ON_HOLD": Status.PENDING,
    "AWAITING_SHIPMENT": Status.PAID,
    "PARTIALLY_SHIPPING": Status.PAID,
    "AWAITING_COLLECTION": Status.PAID,
    "IN_TRANSIT": Status.SHIPPED,
    "DELIVERED": Status.COMPLETED,
    "COMPLETED": Status.COMPLETED,
    "CANCELLED": Status.CANCELLED,
    "CANCEL": Status.CANCELLED,  # the order-status webhook's spelling
}

# Orders whose goods may have left: only these can have a return that restocks.
SHIPPED_STATUSES = frozenset({"PARTIALLY_SHIPPING", "IN_TRANSIT", "DELIVERED", "COMPLETED"})

# A return whose goods came back to the seller: RETURN_AND_REFUND (REFUND is money only,
# REPLACEMENT creates a new order) once the refund is approved or done.
RESTOCKING_TYPES = frozenset({"RETURN_AND_REFUND"})
RESTOCKING_STATUSES = frozenset(
    {"RETURN_OR_REFUND_REQUEST_SUCCESS", "RETURN_OR_REFUND_REQUEST_COMPLETE"}
)


def status_of(code: str, *, where: str = "") -> Status:
    """omnisync's status for a TikTok order or line status; unknown ones count as paid."""
    status = STATUSES.get(code)
    if status is None:
        log.warning("%s: status %r is unknown to omnisync; counted as paid", where, code)
        return Status.PAID
    return status


def returned_lines(returns: Iterable[payloads.ReturnRecord]) -> set[str]:
    """The order line ids whose goods came back, from Search Returns records."""
    lines: set[str] = set()
    for record in returns:
        if record.return_type not in RESTOCKING_TYPES:
            continue
        if record.return_status not in RESTOCKING_STATUSES:
            continue
        if record.can_buyer_keep_item is True:  # refunded, goods never sent back
            continue
        lines |= {
            item.order_line_item_id for item in record.return_line_items if item.order_line_item_id
        }
    return lines


def listing_id(product_id: str, sku_id: str) -> str:
    return f"{product_id}/{sku_id}"


def split_listing_id(value: str) -> tuple[str, str] | None:
    product, _, sku = value.partition("/")
    if not product.isdigit() or not sku.isdigit():
        return None
    return product, sku


@dataclass(frozen=True, slots=True)
class SkuStock:
    """One SKU's stock per warehouse, as TikTok shows it."""

    product_id: str
    sku_id: str
    seller_sku: str
    warehouses: dict[str, int]


def sku_stock(product_id: str, sku: payloads.ProductSku | payloads.InventorySku) -> SkuStock:
    """A product SKU from Search Products (`inventory[]`) or Inventory Search
    (`warehouse_inventory[]`, whose `available_quantity` "is equivalent to the
    `inventory.quantity` value returned in the Get Product API")."""
    if isinstance(sku, payloads.InventorySku):
        warehouses = {w.warehouse_id: w.available_quantity for w in sku.warehouse_inventory}
    else:
        warehouses = {w.warehouse_id: w.quantity for w in sku.inventory}
    return SkuStock(
        product_id=product_id,
        sku_id=sku.id,
        seller_sku=(sku.seller_sku or "").strip(),
        warehouses=warehouses,
    )


def listing_quantity(stock: SkuStock, warehouse: str | None) -> int:
    """What omnisync manages: one warehouse's quantity, or the sum over all of them."""
    if warehouse is not None:
        return stock.warehouses.get(warehouse, 0)
    return sum(stock.warehouses.values())


def to_listing(stock: SkuStock, title: str, warehouse: str | None) -> Listing:
    return Listing(
        id=listing_id(stock.product_id, stock.sku_id),
        channel_sku=stock.seller_sku,
        quantity=listing_quantity(stock, warehouse),
        name=title,
    )


def spread(stock: SkuStock, target: int, warehouse: str | None) -> dict[str, int]:
    """Every warehouse's new quantity so the managed quantity becomes `target`.

    TikTok requires every warehouse of a SKU in an update ("Do not omit any"). With
    `warehouse_id` set only that one changes. Otherwise the difference goes to the warehouse
    holding most (the seller's main one), and a drop larger than it holds is taken from the
    next ones, so no warehouse goes below zero.
    """
    quantities = dict(stock.warehouses) or {"": 0}
    if warehouse is not None:
        quantities[warehouse] = target
        return quantities
    delta = target - sum(quantities.values())
    order = sorted(quantities, key=lambda key: -quantities[key])
    if delta >= 0:
        quantities[order[0]] += delta
        return quantities
    for key in order:
        take = min(quantities[key], -delta)
        quantities[key] -= take
        delta += take
        if delta == 0:
            break
    return quantities


def _seconds(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def map_order(
    raw: payloads.Order,
    *,
    returned: set[str],
    sku_by_ids: Mapping[tuple[str, str], str],
) -> Order:
    """One order of Get Order List / Get Order Detail as an omnisync Order.

    `returned`: order line ids whose goods came back (`returned_lines`). `sku_by_ids`:
    seller SKU by (product id, sku id) from the listings read this run, for a line that
    carries no `seller_sku` of its own.
    """
    status = status_of(raw.status, where=f"order {raw.id}")
    lines: list[OrderLine] = []

    def sku_of(item: payloads.LineItem | payloads.BundlePart) -> str:
        own = (item.seller_sku or "").strip()
        if own:
            return own
        return sku_by_ids.get((item.product_id or "", item.sku_id or ""), "")

    for item in raw.line_items:
        line_status = status
        if item.display_status:
            line_status = status_of(item.display_status, where=f"order {raw.id} line {item.id}")
        if item.id in returned and line_status in (Status.SHIPPED, Status.COMPLETED):
            line_status = Status.RETURNED
        override = None if line_status == status else line_status
        currency = item.currency or None
        if item.combined_listing_skus:
            for part in item.combined_listing_skus:
                lines.append(
                    OrderLine(
                        id=f"{item.id}/{part.sku_id}",
                        channel_sku=sku_of(part),
                        quantity=part.sku_count or 1,
                        status=override,
                        currency=currency,
                    )
                )
            continue
        lines.append(OrderLine(item.id, sku_of(item), 1, override, item.sale_price, currency))
    return Order(
        id=raw.id,
        status=status,
        created_at=_seconds(raw.create_time),
        updated_at=_seconds(raw.update_time),
        lines=tuple(lines),
    )
