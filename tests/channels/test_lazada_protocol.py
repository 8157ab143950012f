"""Lazada's signature and status mapping, against the platform's own vectors and tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnisync.channels.lazada import mapping, signing
from omnisync.models import OrderLine, Status

# The official example (signature-algorithm.md), recomputed in the research file.
VECTOR_PARAMS = {
    "access_token": "test",
    "app_key": "123456",
    "order_id": "1234",
    "sign_method": "sha256",
    "timestamp": "1517820392000",
}


def test_signature_matches_the_official_vector() -> None:
    assert (
        signing.base_string("/order/get", VECTOR_PARAMS)
        == "/order/getaccess_tokentestapp_key123456order_id1234sign_methodsha256"
        "timestamp1517820392000"
    )
    assert (
        signing.sign("helloworld", "/order/get", VECTOR_PARAMS)
        == "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
    )


def test_signature_ignores_a_sign_already_present_and_parameter_order() -> None:
    shuffled = dict(reversed(list(VECTOR_PARAMS.items()))) | {"sign": "OLD"}
    assert signing.sign("helloworld", "/order/get", shuffled) == (
        "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"
    )


def test_timestamp_is_milliseconds_since_the_epoch() -> None:
    # 1517820392000 "translates to 5 February 2018 08:46:32" UTC (getorders.json).
    assert signing.timestamp(datetime(2018, 2, 5, 8, 46, 32, tzinfo=UTC)) == "1517820392000"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("unpaid", Status.PENDING),
        ("pending", Status.PAID),
        ("topack", Status.PAID),
        ("repacked", Status.PAID),
        ("packed", Status.PAID),
        ("ready_to_ship_pending", Status.PAID),
        ("ready_to_ship", Status.PAID),
        ("toship", Status.PAID),
        ("shipping", Status.SHIPPED),
        ("shipped", Status.SHIPPED),
        ("failed_delivery", Status.SHIPPED),
        ("failed", Status.SHIPPED),
        ("shipped_back", Status.SHIPPED),
        ("delivered", Status.COMPLETED),
        ("lost", Status.COMPLETED),
        ("lost_by_3pl", Status.COMPLETED),
        ("damaged_by_3pl", Status.COMPLETED),
        ("shipped_back_failed", Status.COMPLETED),
        ("package_scrapped", Status.COMPLETED),
        ("shipped_back_success", Status.RETURNED),
        ("returned", Status.RETURNED),
        ("canceled", Status.CANCELLED),
        ("CANCELED", Status.CANCELLED),
    ],
)
def test_item_statuses_map_to_the_six(code: str, expected: Status) -> None:
    assert mapping.item_status(code) is expected


def test_a_refund_only_return_stays_sold_and_a_real_return_comes_back() -> None:
    assert mapping.item_status("returned", request_type="ONLY_REFUND") is Status.COMPLETED
    assert mapping.item_status("returned", request_type="RETURN") is Status.RETURNED


def test_an_unknown_item_status_is_not_guessed_here() -> None:
    assert mapping.item_status("teleported") is None


def _line(status: Status) -> OrderLine:
    return OrderLine(id="1", channel_sku="X", quantity=1, status=status)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.PAID, Status.CANCELLED], Status.PAID),
        ([Status.SHIPPED, Status.PAID], Status.PAID),
        ([Status.COMPLETED, Status.RETURNED], Status.COMPLETED),
        ([Status.CANCELLED, Status.RETURNED], Status.RETURNED),
        ([Status.CANCELLED, Status.CANCELLED], Status.CANCELLED),
    ],
)
def test_an_orders_own_status_is_its_least_advanced_live_item(
    statuses: list[Status], expected: Status
) -> None:
    assert mapping.order_status([_line(s) for s in statuses]) is expected


def test_times_come_as_iso_with_offset_or_milliseconds() -> None:
    assert mapping.parse_time("2018-02-09T22:44:30+08:00") == datetime(
        2018, 2, 9, 14, 44, 30, tzinfo=UTC
    )
    assert mapping.parse_time("1414548487000") == datetime(2014, 10, 29, 2, 8, 7, tzinfo=UTC)
    assert mapping.iso(datetime(2026, 11, 20, 8, 55, 1, 500, tzinfo=UTC)) == (
        "2026-11-20T08:55:01+00:00"
    )


def test_two_units_of_one_sku_are_two_lines_that_add_up() -> None:
    items = [
        {"order_item_id": "100827", "sku": "TEE-M", "sku_id": "666", "status": "pending"},
        {"order_item_id": "100828", "sku": "TEE-M", "sku_id": "666", "status": "pending"},
    ]
    lines = [mapping.order_line(i, sku_by_id={}, request_types={})[0] for i in items]
    assert [(line.id, line.channel_sku, line.quantity) for line in lines] == [
        ("100827", "TEE-M", 1),
        ("100828", "TEE-M", 1),
    ]


def test_an_item_without_seller_sku_takes_the_listings_sku_by_sku_id() -> None:
    item = {"order_item_id": "7", "sku": "", "sku_id": "666", "status": "delivered"}
    line, _ = mapping.order_line(item, sku_by_id={"666": "TEE-M"}, request_types={})
    assert line.channel_sku == "TEE-M" and line.status is Status.COMPLETED


def test_the_sellable_quantity_is_read_not_the_total() -> None:
    # lazop-2-0-overview.md: "quantity | same as totalQuantity" = sellable + withhold + occupy.
    sku = {
        "SkuId": 1,
        "quantity": 9,
        "Available": 6,
        "multiWarehouseInventories": [
            {"warehouseCode": "MY10RV7-WH-10002", "sellableQuantity": 1},
            {"warehouseCode": "Dropshipping", "sellableQuantity": 5, "quantity": 9},
        ],
    }
    assert mapping.sellable(sku) == 5  # the default warehouse, however it is spelt
    assert mapping.sellable({"quantity": 9, "Available": 6}) == 6
    assert mapping.sellable({"quantity": 9}) == 9  # nothing better to go on
