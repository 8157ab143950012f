"""A FakeShopee's order and return APIs: get_order_list, get_order_detail, get_return_list.

Shapes and limits from Shopee's API-doc JSON (congminh1254/shopee-sdk@cb231e9b:
schemas/v2.order.get_order_list.json, v2.order.get_order_detail.json,
v2.returns.get_return_list.json); see `tests.fakes.shopee_api` for the rest of the fake.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.server import Request
from tests.fakes.shopee_state import (
    FakeOrder,
    FakeReturn,
    Item,
    OrderLine,
    ShopeeError,
    id_list,
    page_size,
    time_range,
)

# ReturnStatus (Data Definition): REQUESTED, ACCEPTED, CANCELLED, JUDGING, CLOSED, PROCESSING,
# SELLER_DISPUTE. A refunded return ends ACCEPTED ("Once agreed, the status will be updated to
# Accepted": return-refund-management guide, 2.2).
RETURN_REFUNDED = {"ACCEPTED"}


class OrderApis:
    """The order and return routes of FakeShopee, over its `orders`, `returns` and `items`."""

    items: dict[int, Item]
    orders: dict[str, FakeOrder]
    returns: list[FakeReturn]
    stale_cursors: set[str]

    def _order_list(self, request: Request) -> dict[str, Any]:
        query = request.query
        field_name = query.get("time_range_field")
        if field_name not in ("create_time", "update_time"):
            raise ShopeeError("error_param", "Wrong parameters, detail: time_range_field.")
        start, end = time_range(query, "time_from", "time_to")
        size = page_size(query)
        offset = int(query.get("cursor") or 0)
        pending = query.get("request_order_status_pending") == "true"
        fields = set(query.get("response_optional_fields", "").split(","))
        matching = sorted(
            (
                order
                for order in self.orders.values()
                if start <= getattr(order, field_name) <= end
                and (pending or order.status != "PENDING")
            ),
            key=lambda order: (order.update_time, order.order_sn),
        )
        more = offset + size < len(matching)
        if query.get("cursor") in self.stale_cursors:  # a cache answers the page before
            offset = max(0, offset - size)
        page = matching[offset : offset + size]
        return {
            "response": {
                "more": more,
                "next_cursor": str(offset + size) if more else "",
                # order_status only when asked: response_optional_fields=order_status.
                "order_list": [
                    {"order_sn": o.order_sn}
                    | ({"order_status": o.status} if "order_status" in fields else {})
                    for o in page
                ],
            }
        }

    def _order_detail(self, request: Request) -> dict[str, Any]:
        sns = id_list(request.query, "order_sn_list", 50)
        fields = set(request.query.get("response_optional_fields", "").split(","))
        found = []
        for sn in sns:
            order = self.orders.get(sn)
            if order is None:
                continue
            detail: dict[str, Any] = {
                "order_sn": order.order_sn,
                "order_status": order.status,
                "create_time": order.create_time,
                "update_time": order.update_time,
                "currency": "IDR",
            }
            if "item_list" in fields:
                detail["item_list"] = [
                    {
                        "item_id": line.item_id,
                        "item_name": self.items[line.item_id].name,
                        "item_sku": line.item_sku,
                        "model_id": line.model_id,
                        "model_sku": line.model_sku,
                        "model_quantity_purchased": line.quantity,
                        "model_original_price": 10000.0,
                        "model_discounted_price": 9000.0,
                        "order_item_id": line.item_id,
                        "line_item_id": line.line_item_id,
                        "cancelled_qty": line.cancelled,
                        "returned_qty": self._returned(order.order_sn, line),
                    }
                    for line in order.lines
                ]
            found.append(detail)
        return {"response": {"order_list": found}}

    def _returned(self, order_sn: str, line: OrderLine) -> int:
        # "The quantity of the item model that has already been successfully returned through
        # the return/refund process" (get_order_detail item_list.returned_qty).
        return sum(
            amount
            for r in self.returns
            if r.order_sn == order_sn and r.status in RETURN_REFUNDED
            for item_id, model_id, amount in r.items
            if (item_id, model_id) == (line.item_id, line.model_id)
        )

    def _return_list(self, request: Request) -> dict[str, Any]:
        query = request.query
        size = page_size(query, "40")
        page_no = int(query.get("page_no", "0") or 0)
        # Either range (or both) filters; each is at most 15 days.
        ranges: list[tuple[str, int, int]] = []
        for field_name in ("update_time", "create_time"):
            if f"{field_name}_from" in query or f"{field_name}_to" in query:
                start, end = time_range(query, f"{field_name}_from", f"{field_name}_to")
                ranges.append((field_name, start, end))
        matching = [
            r
            for r in sorted(self.returns, key=lambda r: (r.update_time, r.return_sn))
            if all(low <= getattr(r, name) <= high for name, low, high in ranges)
        ]
        page = matching[page_no * size : (page_no + 1) * size]
        return {
            "response": {
                "more": (page_no + 1) * size < len(matching),
                "return": [
                    {
                        "return_sn": r.return_sn,
                        "order_sn": r.order_sn,
                        "status": r.status,
                        "update_time": r.update_time,
                        "create_time": r.create_time,
                        "needs_logistics": r.needs_logistics,
                        "return_solution": r.solution,
                        "item": [{"item_id": i, "model_id": m, "amount": a} for i, m, a in r.items],
                    }
                    for r in page
                ],
            }
        }
