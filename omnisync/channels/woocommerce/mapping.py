"""WooCommerce orders and stock to omnisync's: the status table, line SKUs and stock, pure.

Status mapping (order level; Woo has no per-line status):

    WooCommerce                      omnisync
    -------------------------------  -----------------------------------------------------
    pending, on-hold                 pending   (awaiting payment; Woo may hold the stock)
    processing                       paid      (paid, not shipped)
    completed                        completed
    refunded                         completed (refunded is about money: the goods stay
                                     gone), except units a refund restocked: returned
    cancelled, failed                cancelled (Woo itself restocks on cancel)
    checkout-draft                   cancelled (a cart in the block checkout: holds nothing)
    trash                            not read: trashing is cleanup, Woo does not restock on
                                     it, so the order keeps the effect it last had
    anything else (plugin statuses)  paid, with a warning: holding stock is the safe side

Restocked units: Woo records on each order line how many refunded units went back to stock
(item meta `_restock_refunded_items`, written by `wc_restock_refunded_items()` in
wc-order-functions.php, and returned in the line's `meta_data` by the REST orders controller,
`get_order_item_data()` in class-wc-rest-orders-v2-controller.php). On a completed or
refunded order they are a `<line id>/returned` line (returned; `restock_returns` decides); on
an order not yet shipped they simply leave the line. A refund that restocked nothing changes
no stock.

Line SKUs: a line's `sku` in REST is looked up live from the product (`get_order_item_data`
calls `$item->get_product()->get_sku()`): a renamed SKU shows on old orders, a deleted
product shows none, and a variation without its own SKU shows its parent's
(`WC_Product_Variation::get_sku()` in view context falls back to the parent's). So lines are
mapped by `product_id` / `variation_id` to the listing they sold from, the line's `sku` only
as a fallback for a product no longer in the shop:
- a variation whose SKU equals its parent's has none of its own: no SKU (reported, never
  written), and its sales are lines without SKU, never the parent's;
- a variation with `manage_stock: "parent"` sells from its parent's stock: its lines count
  against the parent listing's SKU.

Stock: a product or variation that manages stock may still report `stock_quantity: null`
(created without a quantity); Woo itself counts that as 0 (`wc_stock_amount`), and so does
omnisync, on the first read and on the re-read before a write alike, so the listing is written
like any other. One that does not manage stock has no quantity to read or write.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omnisync.channels.woocommerce.payloads import LineItem, StockItem, WooOrder
from omnisync.models import Listing, Order, OrderLine, Status

STATUSES: dict[str, Status] = {
    "pending": Status.PENDING,
    "on-hold": Status.PENDING,
    "processing": Status.PAID,
    "completed": Status.COMPLETED,
    "cancelled": Status.CANCELLED,
    "failed": Status.CANCELLED,
    "refunded": Status.COMPLETED,
    "checkout-draft": Status.CANCELLED,
}
# Statuses whose orders are not read at all (their last effect stays).
SKIPPED = frozenset({"trash"})
# What an unknown (plugin) status counts as: holding stock is the safe side.
UNKNOWN_STATUS = Status.PAID
_SHIPPED = (Status.COMPLETED, Status.SHIPPED)
RESTOCKED_META = "_restock_refunded_items"


@dataclass
class SkuIndex:
    """Which channel SKU each product and variation sells under, as the listings were read."""

    products: dict[str, str] = field(default_factory=dict)  # product id -> SKU
    variations: dict[tuple[str, str], str] = field(default_factory=dict)  # (parent, id) -> SKU

    def sku_of(self, line: LineItem) -> str:
        """The channel SKU of an order line: by its ids, the line's own `sku` as a fallback."""
        product, variation = str(line.product_id), str(line.variation_id)
        if line.variation_id:
            known = self.variations.get((product, variation))
        else:
            known = self.products.get(product)
        if known is not None:
            return known
        return (line.sku or "").strip()


def own_sku(sku: str | None, parent_sku: str | None) -> str:
    """A variation's own SKU: none when REST shows its parent's in its place."""
    text = (sku or "").strip()
    return "" if text and text == (parent_sku or "").strip() else text


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


def restocked(line: LineItem) -> int:
    """How many of a line's units refunds put back in stock (0 when none, or unreadable)."""
    for meta in line.meta_data:
        if meta.key == RESTOCKED_META:
            try:
                return max(0, int(str(meta.value)))
            except ValueError:
                return 0
    return 0


def map_order(raw: WooOrder, skus: SkuIndex | None = None) -> Order:
    """One Woo order as an omnisync Order (unknown statuses count as paid)."""
    status = STATUSES.get(raw.status, UNKNOWN_STATUS)
    index = skus or SkuIndex()
    lines: list[OrderLine] = []
    for line in raw.line_items:
        sku = index.sku_of(line)
        # Restocked units leave the line: on a shipped order they came back (returned),
        # on one not yet shipped they never left.
        back = min(restocked(line), line.quantity)
        lines.append(OrderLine(line.id, sku, line.quantity - back, None, line.price, raw.currency))
        if back and status in _SHIPPED:
            lines.append(
                OrderLine(
                    f"{line.id}/returned", sku, back, Status.RETURNED, line.price, raw.currency
                )
            )
    return Order(
        id=raw.id,
        status=status,
        created_at=raw.date_created_gmt,
        updated_at=raw.date_modified_gmt,
        lines=tuple(lines),
    )
