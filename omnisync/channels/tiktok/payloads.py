"""What TikTok Shop answers, as models: the fields omnisync reads, typed as the specs say."""

# Field names, nesting and types are those of the response tables in partner.tiktokshop.com's
# API reference, scraped in lazykern/ecommerce-api-docs@eba059e3 under
# data/raw/tiktok/api-reference/ (`authorization/get-authorized-shops`,
# `products/{search-products,inventory-search,update-inventory}`,
# `orders/{get-order-list,get-order-detail}`, `return-and-refund/search-returns`) and the token
# answer of developer-guide/get-started/authorization/authorization-overview-202407.json. Ids
# are strings there ("string" in every table); `Id` also takes a JSON number, which costs
# nothing. Quantities and Unix times are integers. A list left out or sent as null reads as
# empty.

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator

from omnisync.payload import Id, Money, Payload
from omnisync.payload import Quantity as Units

T = TypeVar("T")


def _none_as_empty(value: Any) -> Any:
    return [] if value is None else value


def _blank_as_none(value: Any) -> Any:
    return None if value == "" else value


# A list that may be missing or null.
Many = Annotated[list[T], BeforeValidator(_none_as_empty)]
# A price: a decimal string, "" read as none.
Price = Annotated[Money | None, BeforeValidator(_blank_as_none)]


class Page(Payload):
    """A search answer: `next_page_token` is empty (or absent) on the last page."""

    next_page_token: str | None = None
    total_count: int | None = None  # how many the search holds, when TikTok says


# -- authorisation ---------------------------------------------------------------------------


class Shop(Payload):
    name: str = ""
    region: str = ""
    seller_type: str | None = None  # CROSS_BORDER or LOCAL
    cipher: str = ""


class Shops(Payload):
    shops: Many[Shop] = []


class TokenAnswer(Payload):
    """Get Access Token / Refresh Token `data`: expiries are absolute Unix times."""

    access_token: str
    access_token_expire_in: int | None = None
    refresh_token: str | None = None
    refresh_token_expire_in: int | None = None


# -- products and stock ----------------------------------------------------------------------


class WarehouseStock(Payload):
    """Search Products `skus[].inventory[]`."""

    warehouse_id: Id = ""
    quantity: int


class ProductSku(Payload):
    id: Id
    seller_sku: str | None = None
    inventory: Many[WarehouseStock] = []


class Product(Payload):
    id: Id
    title: str = ""
    # Omitted for an Indonesian product not listed on TikTok Shop (search-products.spec.json).
    status: str | None = None
    skus: Many[ProductSku] = []


class Products(Page):
    products: Many[Product] = []


class WarehouseAvailable(Payload):
    """Inventory Search `warehouse_inventory[]`: `available_quantity` "is equivalent to the
    `inventory.quantity` value returned in the Get Product API"."""

    warehouse_id: Id = ""
    available_quantity: int


class InventorySku(Payload):
    id: Id
    seller_sku: str | None = None
    warehouse_inventory: Many[WarehouseAvailable] = []


class InventoryProduct(Payload):
    product_id: Id
    skus: Many[InventorySku] = []


class Inventory(Payload):
    inventory: Many[InventoryProduct] = []


class ExtraError(Payload):
    warehouse_id: Id | None = None
    code: int | None = None
    message: str = ""


class ErrorDetail(Payload):
    sku_id: Id | None = None
    extra_errors: Many[ExtraError] = []


class UpdateError(Payload):
    """Update Inventory `data.errors[]`: the SKUs refused in an answer that is code 0."""

    code: int | None = None
    message: str = ""
    detail: ErrorDetail | None = None


class UpdateResult(Payload):
    errors: Many[UpdateError] = []


# -- orders and returns ----------------------------------------------------------------------


class BundlePart(Payload):
    """`combined_listing_skus[]`: a component of a virtual bundle line."""

    sku_id: Id
    product_id: Id | None = None
    seller_sku: str | None = None
    sku_count: Units = 1


class LineItem(Payload):
    """One unit: the 202309 and 202507 line items have no quantity field."""

    id: Id
    sku_id: Id | None = None
    product_id: Id | None = None
    seller_sku: str | None = None
    display_status: str | None = None
    sale_price: Price = None
    currency: str | None = None
    combined_listing_skus: Many[BundlePart] = []


class Order(Payload):
    id: Id
    status: str
    create_time: int
    update_time: int
    line_items: Many[LineItem] = []


class Orders(Page):
    # Each read as an Order on its own: one order TikTok garbled must not stop the others.
    orders: Many[Any] = []


class ReturnLine(Payload):
    order_line_item_id: Id | None = None


class ReturnRecord(Payload):
    order_id: Id
    return_type: str | None = None  # REFUND, RETURN_AND_REFUND, REPLACEMENT
    return_status: str | None = None
    can_buyer_keep_item: bool | None = None
    update_time: int = 0
    return_line_items: Many[ReturnLine] = []


class Returns(Page):
    return_orders: Many[ReturnRecord] = []
