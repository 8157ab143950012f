"""TikTok Shop's signature (official vectors) and its status and line mapping, as tables."""

from __future__ import annotations

import pytest

from omnisync.channels.tiktok import payloads
from omnisync.channels.tiktok.mapping import SkuStock, map_order, returned_lines, spread
from omnisync.channels.tiktok.signing import base_string, sign
from omnisync.models import Status

SECRET = "e59af819cc"


def test_sign_matches_the_official_get_vector() -> None:
    # partner.tiktokshop.com "Sign your API request" (research file §5.1, verified).
    query: dict[str, str | int] = {
        "app_key": "29a39d",
        "timestamp": 1623812664,
        "sign": "x",
        "access_token": "y",
    }
    assert base_string("/authorization/202309/shops", query) == (
        "/authorization/202309/shopsapp_key29a39dtimestamp1623812664"
    )
    assert sign(SECRET, "/authorization/202309/shops", query) == (
        "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"
    )


def test_sign_covers_the_sorted_query_and_the_exact_body() -> None:
    query: dict[str, str | int] = {
        "timestamp": 1700000000,
        "sort_order": "ASC",
        "app_key": "29a39d",
        "page_size": 50,
        "shop_cipher": "ROW_abc",
        "sort_field": "update_time",
    }
    body = b'{"update_time_ge":1699990000,"update_time_lt":1700000000}'
    assert sign(SECRET, "/order/202309/orders/search", query, body) == (
        "d4f8dcc268593e2c7a68081df0db807c5707dc88fd26cfd8f9305a4c98f9bcfa"
    )
    # One byte of body more and the signature is another.
    assert sign(SECRET, "/order/202309/orders/search", query, body + b" ") != sign(
        SECRET, "/order/202309/orders/search", query, body
    )


@pytest.mark.parametrize(
    ("tiktok", "expected"),
    [
        ("UNPAID", Status.PENDING),
        ("ON_HOLD", Status.PENDING),
        ("AWAITING_SHIPMENT", Status.PAID),
        ("PARTIALLY_SHIPPING", Status.PAID),
        ("AWAITING_COLLECTION", Status.PAID),
        ("IN_TRANSIT", Status.SHIPPED),
        ("DELIVERED", Status.COMPLETED),
        ("COMPLETED", Status.COMPLETED),
        ("CANCELLED", Status.CANCELLED),
        ("SOMETHING_NEW", Status.PAID),  # unknown: holding stock is the safe side
    ],
)
def test_order_statuses(tiktok: str, expected: Status) -> None:
    raw = {"id": "1", "status": tiktok, "create_time": 1, "update_time": 2, "line_items": []}
    order = map_order(payloads.Order.model_validate(raw), returned=set(), sku_by_ids={})
    assert order.status is expected


def line(line_id: str, display: str, sku: str = "TEE-M", **extra: object) -> dict[str, object]:
    return {"id": line_id, "display_status": display, "seller_sku": sku, "sku_id": "9"} | extra


def test_a_line_status_overrides_the_order_and_a_bundle_acts_on_its_parts() -> None:
    raw = {
        "id": "1",
        "status": "PARTIALLY_SHIPPING",
        "create_time": 1,
        "update_time": 2,
        "line_items": [
            line("a", "IN_TRANSIT"),
            line("b", "AWAITING_SHIPMENT"),
            line("c", "CANCELLED"),
            line(
                "d",
                "AWAITING_SHIPMENT",
                sku="SET",
                combined_listing_skus=[
                    {"sku_id": "11", "sku_count": 2, "seller_sku": "MUG", "product_id": "5"},
                    {"sku_id": "12", "sku_count": 1, "seller_sku": "", "product_id": "5"},
                ],
            ),
        ],
    }
    order = map_order(
        payloads.Order.model_validate(raw), returned=set(), sku_by_ids={("5", "12"): "TEE-L"}
    )
    got = [(li.id, li.channel_sku, li.quantity, order.line_status(li)) for li in order.lines]
    assert got == [
        ("a", "TEE-M", 1, Status.SHIPPED),
        ("b", "TEE-M", 1, Status.PAID),
        ("c", "TEE-M", 1, Status.CANCELLED),
        ("d/11", "MUG", 2, Status.PAID),
        ("d/12", "TEE-L", 1, Status.PAID),
    ]


def test_a_returned_line_before_shipping_stays_as_it_was() -> None:
    # Only units that left can come back: a return on an unshipped line changes nothing.
    raw = {
        "id": "1",
        "status": "AWAITING_SHIPMENT",
        "create_time": 1,
        "update_time": 2,
        "line_items": [line("a", "AWAITING_SHIPMENT")],
    }
    order = map_order(payloads.Order.model_validate(raw), returned={"a"}, sku_by_ids={})
    assert order.line_status(order.lines[0]) is Status.PAID


def test_returned_lines_only_from_completed_returns_with_goods_back() -> None:
    def record(kind: str, status: str, keep: bool, line_id: str) -> payloads.ReturnRecord:
        return payloads.ReturnRecord.model_validate(
            {
                "order_id": "9",
                "return_type": kind,
                "return_status": status,
                "can_buyer_keep_item": keep,
                "return_line_items": [{"order_line_item_id": line_id}],
            }
        )

    records = [
        record("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE", False, "1"),
        record("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_SUCCESS", False, "2"),
        record("RETURN_AND_REFUND", "BUYER_SHIPPED_ITEM", False, "3"),
        record("RETURN_AND_REFUND", "REJECT_RECEIVE_PACKAGE", False, "4"),
        record("RETURN_AND_REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE", True, "5"),
        record("REFUND", "RETURN_OR_REFUND_REQUEST_COMPLETE", False, "6"),
        record("REPLACEMENT", "REPLACEMENT_REQUEST_COMPLETE", False, "7"),
    ]
    assert returned_lines(records) == {"1", "2"}


@pytest.mark.parametrize(
    ("warehouses", "target", "chosen", "expected"),
    [
        ({"A": 6, "B": 4}, 12, None, {"A": 8, "B": 4}),  # a rise goes to the largest
        ({"A": 6, "B": 4}, 3, None, {"A": 0, "B": 3}),  # a drop empties the largest first
        ({"A": 6, "B": 4}, 0, None, {"A": 0, "B": 0}),
        ({"A": 6, "B": 4}, 1, "B", {"A": 6, "B": 1}),  # warehouse_id: only that one moves
        ({"": 5}, 2, None, {"": 2}),  # a single warehouse with no id
    ],
)
def test_spread_keeps_every_warehouse_and_none_below_zero(
    warehouses: dict[str, int], target: int, chosen: str | None, expected: dict[str, int]
) -> None:
    stock = SkuStock("1", "2", "TEE-M", warehouses)
    assert spread(stock, target, chosen) == expected


def test_the_official_response_samples_read_as_documented() -> None:
    # Response samples of update-inventory.spec.json and search-products.spec.json
    # (lazykern/ecommerce-api-docs@eba059e3:data/raw/tiktok/api-reference/products/), trimmed.
    update = payloads.UpdateResult.model_validate(
        {
            "errors": [
                {
                    "code": 12052990,
                    "message": "Check failed",
                    "detail": {
                        "sku_id": "1729592969712207013",
                        "extra_errors": [
                            {
                                "warehouse_id": "7068517275539719942",
                                "code": 12052097,
                                "message": "The warehouse does not exist",
                            }
                        ],
                    },
                }
            ]
        }
    )
    (error,) = update.errors
    assert error.detail is not None and error.detail.sku_id == "1729592969712207013"
    assert error.detail.extra_errors[0].code == 12052097
    products = payloads.Products.model_validate(
        {
            "total_count": 200,
            "products": [
                {
                    "id": "1729592969712207008",
                    "title": "Short Boat Invisible Socks",
                    "status": "ACTIVATE",
                    "skus": [
                        {
                            "id": "1729592969712207012",
                            "seller_sku": "Color-Red-XM01",
                            "price": {"currency": "USD", "sale_price": "121.11"},
                            "inventory": [
                                {
                                    "warehouse_id": "7068517275539719942",
                                    "quantity": 999,
                                    "backorder_quantity": 888,
                                    "handling_time": 5,
                                }
                            ],
                        }
                    ],
                }
            ],
            "next_page_token": "b2Zmc2V0PTAK",
        }
    )
    assert products.next_page_token == "b2Zmc2V0PTAK"
    assert products.products[0].skus[0].inventory[0].quantity == 999


def test_numbers_for_ids_and_nulls_for_lists_are_read_without_fuss() -> None:
    raw = {
        "id": 576461413038785752,
        "status": "AWAITING_SHIPMENT",
        "create_time": 1,
        "update_time": 2,
        "line_items": [
            {"id": 577086512123755123, "sku_id": 9, "seller_sku": "TEE-M", "sale_price": ""},
            {"id": "2", "seller_sku": "TEE-M", "combined_listing_skus": None},
        ],
    }
    order = map_order(payloads.Order.model_validate(raw), returned=set(), sku_by_ids={})
    assert order.id == "576461413038785752"
    assert [line.id for line in order.lines] == ["577086512123755123", "2"]
    assert order.lines[0].unit_price is None
    assert payloads.Products.model_validate({"products": None}).products == []
