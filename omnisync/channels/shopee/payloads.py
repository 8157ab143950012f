"""The parts of Shopee's answers omnisync reads, validated (field names from Shopee's API docs).

Sources: congminh1254/shopee-sdk@cb231e9b: schemas/v2.product.get_item_base_info.json,
v2.product.get_model_list.json, v2.product.update_stock.json, v2.order.get_order_detail.json,
v2.returns.get_return_list.json. Unknown fields are ignored; a string Shopee sends as null
reads as "".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from omnisync.payload import Quantity as Units


def _text(value: Any) -> Any:
    return "" if value is None else value


def _number(value: Any) -> Any:
    return 0 if value is None or value == "" else value


Text = Annotated[str, BeforeValidator(_text)]
Count = Annotated[int, BeforeValidator(_number)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StockEntry(Payload):
    location_id: Text = ""
    stock: Count = 0


class StockInfo(Payload):
    """`stock_info_v2`: only `seller_stock` is the seller's to write (update_stock)."""

    seller_stock: list[StockEntry] = []

    def locations(self) -> tuple[str, ...]:
        """The seller's locations this stock is kept at ("" and "-" are none)."""
        return tuple(
            entry.location_id for entry in self.seller_stock if entry.location_id not in ("", "-")
        )

    def seller(self, location_id: str | None) -> int:
        """The seller stock at `location_id`, else summed over the seller's locations."""
        return sum(
            entry.stock
            for entry in self.seller_stock
            if location_id is None or entry.location_id == location_id
        )


class ItemInfo(Payload):
    """One item of get_item_base_info `item_list`."""

    item_id: int
    item_name: Text = ""
    item_sku: Text = ""
    has_model: bool = False
    # "return true if the item only has a default model and it is FBS model"
    is_fulfillment_by_shopee: bool = False
    stock_info_v2: StockInfo | None = None


class ModelInfo(Payload):
    """One model of get_model_list `model`."""

    model_id: int
    model_sku: Text = ""
    is_fulfillment_by_shopee: bool = False  # "whether model is fulfillment by shopee"
    stock_info_v2: StockInfo | None = None


class OrderItem(Payload):
    """One entry of get_order_detail `item_list`."""

    item_id: int
    model_id: Count = 0
    item_sku: Text = ""
    model_sku: Text = ""
    model_quantity_purchased: Units
    order_item_id: Count = 0
    line_item_id: Count = 0
    cancelled_qty: Annotated[Units, BeforeValidator(_number)] = 0
    model_original_price: Decimal | None = None
    model_discounted_price: Decimal | None = None


class OrderDetail(Payload):
    """One order of get_order_detail (asked with response_optional_fields=item_list)."""

    order_sn: str
    order_status: str
    create_time: int
    update_time: int
    currency: Text = ""
    item_list: list[OrderItem]


class ReturnItem(Payload):
    item_id: int
    model_id: Count = 0
    amount: Count = 0  # the returned quantity of this item


class ReturnInfo(Payload):
    """One return of get_return_list `return`."""

    return_sn: str
    order_sn: str
    status: str
    update_time: int
    needs_logistics: bool = False
    return_solution: int | None = None  # 0 return and refund, 1 refund only
    item: list[ReturnItem] = []


class StockSuccess(Payload):
    model_id: int
    stock: int | None = None


class StockFailure(Payload):
    model_id: int
    failed_reason: Text = ""


class StockResult(Payload):
    """update_stock's `response`."""

    success_list: list[StockSuccess] = []
    failure_list: list[StockFailure] = []
