"""A FakeShopee's records (items, models, orders, returns), its sign and its parameter checks."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PARTNER_ID = 2001887
PARTNER_KEY = "shpk-fake-partner-key-5a5477794a55537954697169514f"
WINDOW = 15 * 86400  # get_order_list / get_return_list: "diff in 15days"


def sign(path: str, timestamp: str, token: str | None = None, shop: str | None = None) -> str:
    base = f"{PARTNER_ID}{path}{timestamp}" + (f"{token}{shop}" if token is not None else "")
    return hmac.new(PARTNER_KEY.encode(), base.encode(), hashlib.sha256).hexdigest()


class ShopeeError(Exception):
    def __init__(self, error: str, message: str, *, response: Any = None) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.response = response  # what an error answer still carries (update_stock)


@dataclass
class Model:
    model_id: int
    sku: str
    stock: int
    reserved: int = 0  # promotion-reserved stock (stock_info_v2.summary_info)
    name: str = ""
    fbs: bool = False  # fulfilled by Shopee: the stock is shopee_stock, not the seller's


@dataclass
class Item:
    item_id: int
    name: str
    item_sku: str
    status: str = "NORMAL"
    models: dict[int, Model] = field(default_factory=dict)  # {0: ...} without variations

    @property
    def has_model(self) -> bool:
        return 0 not in self.models


@dataclass
class OrderLine:
    item_id: int
    model_id: int
    quantity: int
    line_item_id: int
    item_sku: str = ""
    model_sku: str = ""
    cancelled: int = 0


@dataclass
class FakeOrder:
    order_sn: str
    status: str
    create_time: int
    update_time: int
    lines: list[OrderLine]


@dataclass
class FakeReturn:
    return_sn: str
    order_sn: str
    status: str
    update_time: int
    needs_logistics: bool
    solution: int  # 0 return and refund, 1 refund only
    items: list[tuple[int, int, int]]  # item_id, model_id, amount
    create_time: int = 0


def page_size(query: dict[str, str], default: str = "") -> int:
    # get_order_list: "The limit of page_size if between 1 and 100"; get_item_list "Max=100";
    # get_return_list "(<= 100)".
    text = query.get("page_size", default)
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise ShopeeError("error_param", "Wrong parameters, detail: page_size must be 1-100.")
    return int(text)


def id_list(
    query: dict[str, str], name: str, limit: int, *, repeated: Sequence[tuple[str, str]] = ()
) -> list[str]:
    # get_order_detail order_sn_list "limit [1,50]"; get_item_base_info item_id_list "[0,50]".
    # order_sn_list is comma-joined ("use English comma to connect them"). item_id_list is an
    # int64[] whose samples disagree (`[34001,34002]`, `[34001 34002]`; the shopee-sdk repeats
    # the key): UNVERIFIED, so every form is accepted.
    values = [value for key, value in repeated if key == name] or [query.get(name, "")]
    text = ",".join(values).strip("[]").replace(" ", ",").replace("+", ",")
    ids = [part for part in text.split(",") if part]
    if not ids or len(ids) > limit:
        raise ShopeeError("error_param", f"Wrong parameters, detail: {name} limit [1,{limit}].")
    return ids


def time_range(query: dict[str, str], low: str, high: str) -> tuple[int, int]:
    start, end = query.get(low, ""), query.get(high, "")
    if not start.isdigit() or not end.isdigit():
        raise ShopeeError("error_param", f"Wrong parameters, detail: {low}, {high}.")
    if int(start) > int(end) or int(end) - int(start) > WINDOW:
        raise ShopeeError(
            "order.order_list_invalid_time",
            "Start time must be earlier than end time and diff in 15days.",
        )
    return int(start), int(end)
