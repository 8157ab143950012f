"""Lazada payloads to omnisync values: item statuses, order lines, listings (pure, no I/O).

Lazada has no order status: "each item in the order has a separate status" and an order's
`statuses[]` is only the set of its items' statuses (get-order.md). Nor has it a quantity:
"If an order is placed for two identical items, it will still be responded to as two
different objects with unique order item ids" (same guide). So every order item is one
line of quantity 1 with its own status, keyed by its `order_item_id`, and two units of a SKU
are two lines that add up. Sources: lazykern/ecommerce-api-docs@eba059e3
data/processed/lazada/guides/api-best-practice/order-operation/get-order.md and
data/raw/lazada/apis/order-api/getorders.json (status list in the `statuses` and `status`
fields and error 6's solution), getmultipleorderitems.json (item fields).

Item status (per line)                                  omnisync
------------------------------------------------------  ---------------------------------
unpaid                                                  pending (stock withheld, 30 min)
pending, topack, repacked, packed, ready_to_ship,       paid
  ready_to_ship_pending, toship
shipping, shipped, in_transit, failed, failed_delivery, shipped (gone from the shelf; a
  shipped_back                                            failed delivery is not back yet)
delivered, confirmed                                    completed
lost, lost_by_3pl, damaged_by_3pl, shipped_back_failed, completed (the goods never come
  package_scrapped                                        back to the shelf)
shipped_back_success                                    returned (back at the seller)
returned                                                returned; but completed when the
                                                          reverse order is ONLY_REFUND (the
                                                          buyer keeps the goods)
canceled (also spelt cancelled)                         cancelled
anything else                                           paid (held, and logged)

`returned` restocks only when `[sync] restock_returns` is true (SPEC); a refund-only reverse
order ("Only Refund: Buyers do not need to send back the goods", reverse-order-overview.md,
request_type ONLY_REFUND in getreverseorderdetail.json) never restocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from omnisync.models import Listing, Order, OrderLine, Status
from omnisync.timeparse import as_utc

STATUSES: Mapping[str, Status] = {
    "unpaid": Status.PENDING,
    "pending": Status.PAID,
    "topack": Status.PAID,
    "repacked": Status.PAID,
    "packed": Status.PAID,
    "ready_to_ship_pending": Status.PAID,
    "ready_to_ship": Status.PAID,
    "toship": Status.PAID,
    "shipping": Status.SHIPPED,
    "shipped": Status.SHIPPED,
    "in_transit": Status.SHIPPED,
    "failed": Status.SHIPPED,
    "failed_delivery": Status.SHIPPED,
    "shipped_back": Status.SHIPPED,
    "delivered": Status.COMPLETED,
    "confirmed": Status.COMPLETED,
    "lost": Status.COMPLETED,
    "lost_by_3pl": Status.COMPLETED,
    "damaged_by_3pl": Status.COMPLETED,
    "shipped_back_failed": Status.COMPLETED,
    "package_scrapped": Status.COMPLETED,
    "shipped_back_success": Status.RETURNED,
    "returned": Status.RETURNED,
    "canceled": Status.CANCELLED,
    "cancelled": Status.CANCELLED,
}
REFUND_ONLY = "ONLY_REFUND"  # getreverseorderdetail.json: request_type CANCEL;RETURN;ONLY_REFUND
DEFAULT_WAREHOUSE = "dropshipping"  # inventory-calculation-logic.md: the default warehouse
# Progress of a live order, to name the order's own status from its items' statuses.
_PROGRESS = (Status.PENDING, Status.PAID, Status.SHIPPED, Status.COMPLETED)


def item_status(code: str, *, request_type: str | None = None) -> Status | None:
    """The normalised status of one order item, None when Lazada's code is unknown.

    `request_type` is the item's reverse order's type, when it has one (refund-only
    returns leave the goods with the buyer, so they stay sold).
    """
    status = STATUSES.get(code.strip().lower())
    if status is Status.RETURNED and request_type == REFUND_ONLY:
        return Status.COMPLETED
    return status


def order_status(lines: Sequence[OrderLine]) -> Status:
    """An order's status for display: its least advanced live item; cancelled or returned
    only when every item is."""
    live = [line.status for line in lines if line.status in _PROGRESS]
    if live:
        return min(live, key=_PROGRESS.index)
    if any(line.status is Status.RETURNED for line in lines):
        return Status.RETURNED
    return Status.CANCELLED


def parse_time(value: Any) -> datetime:
    """A Lazada time: ISO 8601 with offset on orders, ms since the epoch on items."""
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        # Older answers write "2018-05-17 09:23:36 +0800".
        return as_utc(datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z"))


def iso(moment: datetime) -> str:
    """A time as `update_after` wants it: "YYYY-MM-DDTHH:mm:ss±HH:MM" (getorders.json E017)."""
    return as_utc(moment).replace(microsecond=0).isoformat()


def _price(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def order_line(
    item: Mapping[str, Any],
    *,
    sku_by_id: Mapping[str, str],
    request_types: Mapping[str, str],
) -> tuple[OrderLine, str]:
    """One order item as a line of one unit, and Lazada's own status code for it.

    The line's channel SKU is the item's `sku` (the SellerSku); when that is empty, the
    SellerSku of the listing with the item's `sku_id`, read this run. Raises KeyError,
    TypeError or ValueError on an item without the fields every item has.
    """
    code = str(item["status"])
    reverse = str(item.get("reverse_order_id") or "")
    status = item_status(code, request_type=request_types.get(reverse))
    sku = str(item.get("sku") or "").strip()
    if not sku:
        sku = sku_by_id.get(str(item.get("sku_id") or ""), "")
    line = OrderLine(
        id=str(item["order_item_id"]),
        channel_sku=sku,
        quantity=1,
        status=status or Status.PAID,
        unit_price=_price(item.get("item_price")),
        currency=str(item["currency"]) if item.get("currency") else None,
    )
    return line, code


def order(raw: Mapping[str, Any], lines: Sequence[OrderLine]) -> Order:
    """One order from its GetOrders entry and its items' lines."""
    return Order(
        id=str(raw["order_id"]),
        status=order_status(lines),
        created_at=parse_time(raw["created_at"]),
        updated_at=parse_time(raw["updated_at"]),
        lines=tuple(sorted(lines, key=lambda line: line.id)),
    )


def sellable(sku: Mapping[str, Any]) -> int:
    """A SKU's sellable quantity (what buyers can buy) as GetProducts shows it.

    Not `quantity`: that is the SKU's total, "totalQantity = sellableQuantity +
    withholdQuantity + occupyQuantity ... quantity: same as totalQuantity" (lazykern/
    ecommerce-api-docs@eba059e3:data/processed/lazada/guides/overview/lazop-2-0-overview.md;
    "quantity: The total inventory of the current SKU", .../lazada-choice-api/
    product-management.md), so it still counts units held by unpaid and paid orders. In order:
    the default warehouse's `sellableQuantity` in `multiWarehouseInventories`
    (inventory-calculation-logic.md; a single-warehouse seller's /product/item/get sample
    lists it too: https://open.alitrip.com/docs/doc.htm?articleId=120259&docType=1&treeId=499,
    a mirror of Lazada's docs); else `Available` (in every SKU of the
    getproducts.json sample; that it is the sellable quantity is UNVERIFIED); else
    `quantity`, the total, which is right only while no order holds units.
    """
    for entry in sku.get("multiWarehouseInventories") or ():
        if not isinstance(entry, Mapping):
            continue
        # The guides spell the code "dropshipping" and "Dropshipping": compare folded.
        code = str(entry.get("warehouseCode") or "").strip().lower()
        if code == DEFAULT_WAREHOUSE and entry.get("sellableQuantity") is not None:
            return int(entry["sellableQuantity"])
    if sku.get("Available") not in (None, ""):
        return int(sku["Available"])
    return int(sku["quantity"])


def listing_id(item_id: Any, sku_id: Any) -> str:
    """`Listing.id` of a Lazada SKU: "ItemId/SkuId", the two ids a stock update names."""
    return f"{item_id}/{sku_id}"


def listings(product: Mapping[str, Any]) -> list[Listing]:
    """The listings of one GetProducts product: one per SKU that is not deleted."""
    item_id = product["item_id"]
    attributes = product.get("attributes")
    name = str(attributes.get("name") or "") if isinstance(attributes, Mapping) else ""
    found = []
    for sku in product["skus"]:
        if str(sku.get("Status") or "").lower() == "deleted":
            continue
        found.append(
            Listing(
                id=listing_id(item_id, sku["SkuId"]),
                channel_sku=str(sku.get("SellerSku") or "").strip(),
                quantity=sellable(sku),
                name=name,
            )
        )
    return found
