"""What WooCommerce's REST API v3 answers, as models (the fields omnisync reads)."""

from __future__ import annotations

from typing import Any, Literal

from omnisync.payload import Id, Money, Payload, Quantity, UtcTime

# `manage_stock` is a boolean on products; a variation may say "parent" (its parent's stock).
ManageStock = bool | Literal["parent"]


class StockItem(Payload):
    """A product or variation as far as its stock goes (also the re-read before a write)."""

    id: int
    manage_stock: ManageStock = False
    stock_quantity: int | None = None


class Product(StockItem):
    sku: str | None = None
    name: str = ""
    type: str = "simple"
    variations: list[int] = []


class Variation(StockItem):
    sku: str | None = None
    name: str = ""


class Meta(Payload):
    key: str
    value: Any = None


class LineItem(Payload):
    id: Id
    product_id: int = 0
    variation_id: int = 0  # 0: not a variation
    sku: str | None = None  # looked up live from the product (see mapping.py)
    quantity: Quantity
    price: Money | None = None
    meta_data: list[Meta] = []


class WooOrder(Payload):
    id: Id
    status: str
    currency: str | None = None
    date_created_gmt: UtcTime
    date_modified_gmt: UtcTime
    line_items: list[LineItem]


class BatchError(Payload):
    code: str = ""
    message: str = ""


class BatchItem(Payload):
    # A failed item carries the id asked for, or 0 when Woo could not read one.
    id: int = 0
    error: BatchError | None = None
    stock_quantity: int | None = None


class BatchAnswer(Payload):
    update: list[BatchItem]
