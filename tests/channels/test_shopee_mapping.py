"""Shopee's statuses, lines and returns in omnisync's terms (pure mapping, no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from omnisync.channels.shopee.channel import seller_stock
from omnisync.channels.shopee.mapping import (
    ReturnRecord,
    channel_sku,
    map_order,
    order_status,
    parse_listing_id,
)
from omnisync.channels.shopee.orders import windows
from omnisync.models import Status

# Shopee's order statuses (order-management guide) and the research file's section 6 table.
STATUS_TABLE = [
    ("UNPAID", Status.PENDING),
    ("PENDING", Status.PENDING),
    ("READY_TO_SHIP", Status.PAID),
    ("PROCESSED", Status.PAID),
    ("RETRY_SHIP", Status.PAID),
    ("IN_CANCEL", Status.PAID),
    ("INVOICE_PENDING", Status.PAID),
    ("SHIPPED", Status.SHIPPED),
    ("TO_CONFIRM_RECEIVE", Status.SHIPPED),
    ("TO_RETURN", Status.SHIPPED),
    ("COMPLETED", Status.COMPLETED),
    ("CANCELLED", Status.CANCELLED),
]


@pytest.mark.parametrize(("shopee", "expected"), STATUS_TABLE)
def test_each_shopee_status_maps_to_its_normalised_status(shopee: str, expected: Status) -> None:
    assert order_status(shopee) is expected
    assert map_order(order(status=shopee)).status is expected


def test_an_unknown_status_counts_as_paid() -> None:
    assert order_status("SOMETHING_NEW") is None
    assert map_order(order(status="SOMETHING_NEW")).status is Status.PAID


def order(status: str = "COMPLETED", items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "order_sn": "2512ABC",
        "order_status": status,
        "create_time": 1764000000,
        "update_time": 1764000500,
        "currency": "IDR",
        "item_list": items
        if items is not None
        else [line(item_id=1, model_id=0, item_sku="TEE", quantity=2, line_item_id=11)],
    }


def line(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "item_id": 1,
        "model_id": 0,
        "item_sku": "",
        "model_sku": "",
        "model_quantity_purchased": 1,
        "order_item_id": 1,
        "line_item_id": 0,
    }
    if "quantity" in values:
        values["model_quantity_purchased"] = values.pop("quantity")
    return base | values


def returned(
    amount: int, *, status: str = "ACCEPTED", goods_back: bool = True, model: int = 0
) -> ReturnRecord:
    return ReturnRecord("R1", "2512ABC", status, 1764100000, goods_back, ((1, model, amount),))


def test_lines_carry_quantity_sku_price_and_times() -> None:
    mapped = map_order(order())
    (only,) = mapped.lines
    assert (only.id, only.channel_sku, only.quantity, only.currency) == ("11", "TEE", 2, "IDR")
    assert mapped.created_at == datetime.fromtimestamp(1764000000, UTC)
    assert mapped.updated_at == datetime.fromtimestamp(1764000500, UTC)


def test_cancelled_units_of_a_line_leave_it() -> None:
    items = [line(item_sku="TEE", quantity=5, cancelled_qty=2, line_item_id=11)]
    assert map_order(order(items=items)).lines[0].quantity == 3


def test_the_same_line_id_twice_gets_distinct_stable_ids() -> None:
    items = [
        line(item_sku="TEE", quantity=1, line_item_id=0, order_item_id=7),
        line(item_sku="TEE", quantity=2, line_item_id=0, order_item_id=7),
    ]
    ids = [line.id for line in map_order(order(items=items)).lines]
    assert ids == ["7-0", "7-0#2"]
    assert ids == [line.id for line in map_order(order(items=items)).lines]


@pytest.mark.parametrize(
    ("item_sku", "model_id", "model_sku", "expected"),
    [
        ("TEE", 0, "", "TEE"),  # no variations: the item's SKU
        ("TEE", 5, "TEE-M", "TEE-M"),  # a model: its own SKU
        ("TEE", 5, "", ""),  # a model without SKU never takes the parent's
        (" ", 0, "", ""),
    ],
)
def test_channel_sku_is_the_models_or_the_items(
    item_sku: str, model_id: int, model_sku: str, expected: str
) -> None:
    assert channel_sku(item_sku, model_id, model_sku) == expected


def test_a_line_without_sku_takes_the_listings_sku_by_ids() -> None:
    items = [line(item_id=9, model_id=4, model_sku="", quantity=1, line_item_id=3)]
    mapped = map_order(order(items=items), skus_by_id={"9/4": "MUG-RED"})
    assert mapped.lines[0].channel_sku == "MUG-RED"


def test_goods_returned_move_to_a_returned_line_and_refund_only_stays() -> None:
    with_goods = map_order(order(), [returned(1)])
    assert [(line.id, line.quantity, line.status) for line in with_goods.lines] == [
        ("11", 1, None),
        ("11/returned", 1, Status.RETURNED),
    ]
    assert with_goods.updated_at == datetime.fromtimestamp(1764100000, UTC)
    refund_only = map_order(order(), [returned(2, goods_back=False)])
    assert [(line.quantity, line.status) for line in refund_only.lines] == [(2, None)]


# Shopee's ReturnStatus list (Data Definition): only ACCEPTED ends refunded; REFUND_PAID is the
# older enumeration's final state. Every other status is a return still open, or refused.
@pytest.mark.parametrize(
    ("status", "back"),
    [
        ("ACCEPTED", 1),
        ("REFUND_PAID", 1),
        ("REQUESTED", 0),
        ("PROCESSING", 0),
        ("JUDGING", 0),
        ("SELLER_DISPUTE", 0),
        ("CANCELLED", 0),
        ("CLOSED", 0),
    ],
)
def test_only_a_return_that_ended_refunded_brings_goods_back(status: str, back: int) -> None:
    mapped = map_order(order(), [returned(1, status=status)])
    assert sum(line.quantity for line in mapped.lines if line.status is Status.RETURNED) == back
    assert sum(line.quantity for line in mapped.lines) == 2


def test_a_refund_only_on_a_cancelled_order_keeps_the_goods_gone() -> None:
    mapped = map_order(order(status="CANCELLED"), [returned(2, goods_back=False)])
    assert [(line.id, line.quantity, line.status) for line in mapped.lines] == [
        ("11", 0, None),
        ("11/kept", 2, Status.COMPLETED),
    ]


def test_two_returns_of_one_line_add_up_and_never_exceed_it() -> None:
    mapped = map_order(order(), [returned(1), returned(5)])
    assert [(line.id, line.quantity) for line in mapped.lines] == [("11", 0), ("11/returned", 2)]


def test_listing_ids_round_trip() -> None:
    assert parse_listing_id("123/0") == (123, 0)
    assert parse_listing_id("123/456") == (123, 456)
    assert parse_listing_id("gid://x") is None and parse_listing_id("12") is None


def test_seller_stock_is_the_configured_locations_or_all_of_it() -> None:
    info = {"seller_stock": [{"location_id": "A", "stock": 3}, {"location_id": "B", "stock": 4}]}
    assert seller_stock(info, None) == 7
    assert seller_stock(info, "B") == 4
    assert seller_stock(info, "C") == 0
    assert seller_stock(None, None) == 0


def test_windows_cover_the_range_in_slices_of_at_most_fifteen_days() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 2, 10, 0, 0, 0, 500000, tzinfo=UTC)
    spans = windows(start, end)
    assert spans[0][0] == int(start.timestamp())
    assert spans[-1][1] == int(end.timestamp()) + 1  # the half second is not lost
    assert all(b - a <= 15 * 86400 for a, b in spans)
    assert all(x[1] == y[0] for x, y in zip(spans, spans[1:], strict=False))
    assert len(spans) == 3
