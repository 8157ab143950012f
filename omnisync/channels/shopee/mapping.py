"""Shopee orders, returns and listings into omnisync's models (pure: no I/O, table-tested).

Order statuses (v2.order.get_order_detail `order_status`; meanings from Shopee's "Order
management" best-practice guide, lazykern/ecommerce-api-docs@67148d16:
data/processed/shopee/guides/api-best-practices/order-management.md):

    Shopee              meaning                                   omnisync
    ------------------  ----------------------------------------  ----------
    UNPAID              placed, not paid                          pending
    PENDING             held by Shopee before it can ship         pending
                        (opt-in, request_order_status_pending)
    READY_TO_SHIP       paid, seller may arrange shipment         paid
    PROCESSED           shipment arranged                         paid
    RETRY_SHIP          3PL pickup failed, to ship again          paid
    IN_CANCEL           cancellation requested, not decided       paid (stock stays held)
    INVOICE_PENDING     BR: paid, waiting for the invoice         paid
    SHIPPED             handed to the carrier                     shipped
    TO_CONFIRM_RECEIVE  delivered, buyer to confirm               shipped
    TO_RETURN           buyer asked to return, in progress        shipped (nothing back yet)
    COMPLETED           done                                      completed
    CANCELLED           cancelled (or delivery failed: the        cancelled
                        parcel goes back to the seller)
    anything else       logged                                    paid

Returns (v2.returns.get_return_list) add lines; they never change the order's status:

    return status ACCEPTED (or REFUND_PAID),    `<line>/returned`: returned
    needs_logistics true and return_solution    (restock_returns decides)
    0 (return and refund)
    the same as refund only (return_solution    the goods stayed with the buyer:
    1, or needs_logistics false) on a           `<line>/kept`, completed
    CANCELLED order
    any other return status (REQUESTED,         nothing yet: the goods have not
    PROCESSING, JUDGING, SELLER_DISPUTE,        come back (or never will)
    CANCELLED, CLOSED)

Return statuses: Shopee's Data Definition "ReturnStatus" lists REQUESTED, ACCEPTED, CANCELLED,
JUDGING, CLOSED, PROCESSING, SELLER_DISPUTE (lazykern/ecommerce-api-docs@eba059e3:
data/processed/shopee/guides/api-best-practices/return-refund-management.md, "3.Data
Definition", and getting-started/v2-0-data-definition.md). ACCEPTED is where a return ends
refunded: "Once agreed, the status will be updated to Accepted" (same guide, 2.2), and only a
compensation dispute may follow it (v2.returns.cancel_dispute). REFUND_PAID is the older
enumeration's final state (LightsoftHub/open-platforms: src/ShopeeSdk.Core/Enums/
ReturnStatus.cs), still accepted on read. UNVERIFIED: whether a return-and-refund can reach
ACCEPTED before its parcel is back (warehouse validation); Shopee's flow diagram is an image.
`needs_logistics` "Items to be sent back to seller" and `return_solution` "0: Return and
Refund, 1: Refund Only" (congminh1254/shopee-sdk@cb231e9b:
schemas/v2.returns.get_return_list.json).

Lines (`item_list` of get_order_detail): one entry per model bought, with
`model_quantity_purchased` units; `cancelled_qty` units of it were cancelled on their own.
The line id is `line_item_id` ("unique to distinguish the order item" even inside a bundle
deal), else `order_item_id-model_id`; the same id twice in one order gets `#2`, `#3`, in the
order Shopee lists them, so every line has a distinct id that does not change between reads.
The channel SKU is `model_sku` for a model (model_id ≠ 0), else `item_sku`; a line with neither
is mapped through the listing with the same item and model ids, read this run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from omnisync.channels.shopee.payloads import OrderDetail, ReturnInfo
from omnisync.models import Order, OrderLine, Status

log = logging.getLogger(__name__)

STATUSES: dict[str, Status] = {
    "UNPAID": Status.PENDING,
    "PENDING": Status.PENDING,
    "READY_TO_SHIP": Status.PAID,
    "PROCESSED": Status.PAID,
    "RETRY_SHIP": Status.PAID,
    "IN_CANCEL": Status.PAID,
    "INVOICE_PENDING": Status.PAID,
    "SHIPPED": Status.SHIPPED,
    "TO_CONFIRM_RECEIVE": Status.SHIPPED,
    "TO_RETURN": Status.SHIPPED,
    "COMPLETED": Status.COMPLETED,
    "CANCELLED": Status.CANCELLED,
}

RETURN_DONE = frozenset({"ACCEPTED", "REFUND_PAID"})  # a return that ended refunded
REFUND_ONLY = 1  # return_solution


def order_status(code: str) -> Status | None:
    """The normalised status of a Shopee order status, None when Shopee has a new one."""
    return STATUSES.get(code)


def listing_id(item_id: int | str, model_id: int | str) -> str:
    """A listing's id in omnisync: `ITEM/MODEL`, model 0 for an item without variations."""
    return f"{int(item_id)}/{int(model_id)}"


def parse_listing_id(value: str) -> tuple[int, int] | None:
    """(item_id, model_id) from a listing id, None when it is not one of ours."""
    item, sep, model = value.partition("/")
    if not sep or not item.isdigit() or not model.isdigit():
        return None
    return int(item), int(model)


def channel_sku(item_sku: Any, model_id: Any, model_sku: Any) -> str:
    """The seller SKU of a model, or of an item without models; "" when it has none.

    An item's own SKU is its parent SKU when it has models, shared by all of them: it never
    stands for one model.
    """
    if int(model_id or 0) != 0:
        return str(model_sku or "").strip()
    return str(item_sku or "").strip()


@dataclass(frozen=True, slots=True)
class ReturnRecord:
    """One return of `get_return_list`, as much of it as stock needs."""

    return_sn: str
    order_sn: str
    status: str
    update_time: int
    goods_back: bool  # needs_logistics and not refund-only
    items: tuple[tuple[int, int, int], ...]  # (item_id, model_id, amount)


def parse_return(raw: Mapping[str, Any]) -> ReturnRecord:
    """A return record; ValueError (pydantic's) when it is not one."""
    info = ReturnInfo.model_validate(raw)
    return ReturnRecord(
        return_sn=info.return_sn,
        order_sn=info.order_sn,
        status=info.status,
        update_time=info.update_time,
        goods_back=info.needs_logistics and info.return_solution != REFUND_ONLY,
        items=tuple((item.item_id, item.model_id, item.amount) for item in info.item),
    )


def _stamp(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def map_order(
    raw: Mapping[str, Any],
    returns: Iterable[ReturnRecord] = (),
    *,
    skus_by_id: Mapping[str, str] | None = None,
    channel: str = "shopee",
) -> Order:
    """One order of `get_order_detail` (with `item_list`) and its returns, normalised.

    Raises ValueError (pydantic's) on a shape that is not an order.
    """
    detail = OrderDetail.model_validate(raw)
    status = order_status(detail.order_status)
    if status is None:
        log.warning(
            "%s: order %s has status %r, which omnisync counts as paid",
            channel,
            detail.order_sn,
            detail.order_status,
        )
        status = Status.PAID
    currency = detail.currency or None
    lookup = skus_by_id or {}
    lines: list[OrderLine] = []
    seen: dict[str, int] = {}
    keys: list[tuple[int, int]] = []
    for item in detail.item_list:
        base = (
            str(item.line_item_id or "") or f"{item.order_item_id or item.item_id}-{item.model_id}"
        )
        seen[base] = seen.get(base, 0) + 1
        line_id = base if seen[base] == 1 else f"{base}#{seen[base]}"
        sku = channel_sku(item.item_sku, item.model_id, item.model_sku)
        if not sku:
            sku = lookup.get(listing_id(item.item_id, item.model_id), "")
        price = item.model_discounted_price
        if price is None:
            price = item.model_original_price
        lines.append(
            OrderLine(
                id=line_id,
                channel_sku=sku,
                quantity=max(0, item.model_quantity_purchased - item.cancelled_qty),
                unit_price=price,
                currency=currency,
            )
        )
        keys.append((item.item_id, item.model_id))
    updated = detail.update_time
    for record in returns:
        if record.status not in RETURN_DONE:
            continue
        updated = max(updated, record.update_time)
        if not record.goods_back and status is not Status.CANCELLED:
            continue  # refund only: the goods stay gone, as the order's status already says
        for item_id, model_id, amount in record.items:
            lines = _split(lines, keys, (item_id, model_id), amount, record.goods_back)
    return Order(
        id=detail.order_sn,
        status=status,
        created_at=_stamp(detail.create_time),
        updated_at=_stamp(updated),
        lines=tuple(lines),
    )


def _split(
    lines: list[OrderLine],
    keys: list[tuple[int, int]],
    key: tuple[int, int],
    amount: int,
    goods_back: bool,
) -> list[OrderLine]:
    """Move `amount` units of the lines bought as `key` to their `/returned` (goods back) or
    `/kept` (refund only on a cancelled order) line, adding to what is there already."""
    suffix, status = ("returned", Status.RETURNED) if goods_back else ("kept", Status.COMPLETED)
    result = list(lines)
    for position, line_key in enumerate(keys):
        if amount <= 0:
            break
        line = result[position]
        if line_key != key or line.quantity <= 0:
            continue
        moved = min(amount, line.quantity)
        amount -= moved
        result[position] = OrderLine(
            line.id, line.channel_sku, line.quantity - moved, None, line.unit_price, line.currency
        )
        extra_id = f"{line.id}/{suffix}"
        for index, other in enumerate(result):
            if other.id == extra_id:
                result[index] = OrderLine(
                    extra_id,
                    line.channel_sku,
                    other.quantity + moved,
                    status,
                    line.unit_price,
                    line.currency,
                )
                break
        else:
            result.append(
                OrderLine(extra_id, line.channel_sku, moved, status, line.unit_price, line.currency)
            )
            keys.append((-1, -1))  # never matched again: it is not a bought line
    return result
