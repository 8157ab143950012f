"""Shopify's order mapping as tables: statuses, fulfilment, refunds by restock type."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from omnisync.channels.shopify.mapping import map_order, order_search
from omnisync.channels.shopify.payloads import LineItem, OrderNode, Refund
from omnisync.models import Order, Status

A, B = "gid://shopify/LineItem/1", "gid://shopify/LineItem/2"


def line(
    line_id: str,
    sku: str,
    quantity: int,
    *,
    current: int | None = None,
    unfulfilled: int | None = None,
) -> dict[str, Any]:
    current = quantity if current is None else current
    return {
        "id": line_id,
        "sku": sku,
        "quantity": quantity,
        "currentQuantity": current,
        "unfulfilledQuantity": current if unfulfilled is None else unfulfilled,
        "originalUnitPriceSet": {"shopMoney": {"amount": "12.50", "currencyCode": "EUR"}},
    }


def refund(*lines: tuple[str, int, str]) -> dict[str, Any]:
    return {
        "id": "gid://shopify/Refund/1",
        "refundLineItems": {
            "pageInfo": {"hasNextPage": False},
            "nodes": [
                {"quantity": q, "restockType": r, "lineItem": {"id": i}} for i, q, r in lines
            ],
        },
    }


def order(
    lines: list[dict[str, Any]],
    *,
    financial: str = "PAID",
    fulfilment: str = "UNFULFILLED",
    cancelled: bool = False,
    closed: bool = False,
    refunds: tuple[dict[str, Any], ...] = (),
) -> Order:
    node = OrderNode.model_validate(
        {
            "id": "gid://shopify/Order/1",
            "createdAt": "2026-11-20T09:00:00Z",
            "updatedAt": "2026-11-20T10:00:00Z",
            "cancelledAt": "2026-11-20T10:00:00Z" if cancelled else None,
            "closedAt": "2026-11-20T10:00:00Z" if closed else None,
            "displayFinancialStatus": financial,
            "displayFulfillmentStatus": fulfilment,
            "lineItems": {"pageInfo": {"hasNextPage": False}, "nodes": lines},
            "refunds": list(refunds),
        }
    )
    return map_order(
        node,
        [LineItem.model_validate(x) for x in lines],
        [Refund.model_validate(r) for r in refunds],
    )


def rows(got: Order) -> list[tuple[str, str, int, Status]]:
    """(line id suffix, sku, quantity, effective status) per line."""
    return [
        (
            li.id.removeprefix("gid://shopify/LineItem/"),
            li.channel_sku,
            li.quantity,
            got.line_status(li),
        )
        for li in got.lines
    ]


# The status column of mapping.py's table, one row each (an unfulfilled line of 2).
@pytest.mark.parametrize(
    ("financial", "cancelled", "closed", "expected"),
    [
        ("PENDING", False, False, Status.PENDING),
        ("AUTHORIZED", False, False, Status.PENDING),
        ("PAID", False, False, Status.PAID),
        ("PARTIALLY_PAID", False, False, Status.PAID),
        ("PARTIALLY_REFUNDED", False, False, Status.PAID),
        ("REFUNDED", False, False, Status.PAID),
        # Payment states, not cancellations: only cancelledAt cancels (research section 8).
        ("VOIDED", False, False, Status.PENDING),
        ("EXPIRED", False, False, Status.PENDING),
        ("PAID", True, False, Status.CANCELLED),
        ("PENDING", True, True, Status.CANCELLED),
    ],
)
def test_order_status_by_financial_status_and_cancellation(
    financial: str, cancelled: bool, closed: bool, expected: Status
) -> None:
    got = order([line(A, "TEE", 2)], financial=financial, cancelled=cancelled, closed=closed)
    assert got.status is expected
    assert rows(got) == [("1", "TEE", 2, expected)]


@pytest.mark.parametrize(
    ("unfulfilled", "fulfilment", "closed", "order_status", "line_statuses"),
    [
        # Both lines shipped: the order is shipped, completed once closed.
        ((0, 0), "FULFILLED", False, Status.SHIPPED, [Status.SHIPPED, Status.SHIPPED]),
        ((0, 0), "FULFILLED", True, Status.COMPLETED, [Status.COMPLETED, Status.COMPLETED]),
        # One line shipped, one waiting: the order is paid, the shipped line says so.
        ((0, 3), "PARTIALLY_FULFILLED", False, Status.PAID, [Status.SHIPPED, Status.PAID]),
        # A line partly shipped stays paid until its last unit leaves.
        ((1, 3), "PARTIALLY_FULFILLED", False, Status.PAID, [Status.PAID, Status.PAID]),
    ],
)
def test_lines_ship_one_by_one(
    unfulfilled: tuple[int, int],
    fulfilment: str,
    closed: bool,
    order_status: Status,
    line_statuses: list[Status],
) -> None:
    got = order(
        [
            line(A, "TEE", 2, unfulfilled=unfulfilled[0]),
            line(B, "MUG", 3, unfulfilled=unfulfilled[1]),
        ],
        fulfilment=fulfilment,
        closed=closed,
    )
    assert got.status is order_status
    assert [got.line_status(li) for li in got.lines] == line_statuses


# Refunded units by restock type (mapping.py's table): two TEE shipped, one refunded.
@pytest.mark.parametrize(
    ("restock", "fulfilment", "extra"),
    [
        ("RETURN", "FULFILLED", [("1/returned", "TEE", 1, Status.RETURNED)]),
        ("LEGACY_RESTOCK", "FULFILLED", [("1/returned", "TEE", 1, Status.RETURNED)]),
        ("LEGACY_RESTOCK", "PARTIALLY_FULFILLED", [("1/returned", "TEE", 1, Status.RETURNED)]),
        ("NO_RESTOCK", "FULFILLED", [("1/kept", "TEE", 1, Status.SHIPPED)]),
        ("CANCEL", "FULFILLED", []),
    ],
)
def test_refunded_units_of_a_shipped_line_by_restock_type(
    restock: str, fulfilment: str, extra: list[tuple[str, str, int, Status]]
) -> None:
    got = order(
        [line(A, "TEE", 2, current=1, unfulfilled=0)],
        fulfilment=fulfilment,
        refunds=(refund((A, 1, restock)),),
    )
    assert rows(got) == [("1", "TEE", 1, Status.SHIPPED), *extra]


@pytest.mark.parametrize(
    ("restock", "extra"),
    [
        # Refunded before anything shipped: the units never left, nothing comes back.
        ("LEGACY_RESTOCK", []),
        ("CANCEL", []),
        ("NO_RESTOCK", [("1/kept", "TEE", 1, Status.CANCELLED)]),
        # RETURN is also used for units never fulfilled (research section 8): they went
        # back to stock without ever leaving it, so nothing is returned.
        ("RETURN", []),
    ],
)
def test_refunded_units_before_any_fulfilment_by_restock_type(
    restock: str, extra: list[tuple[str, str, int, Status]]
) -> None:
    got = order([line(A, "TEE", 2, current=1)], refunds=(refund((A, 1, restock)),))
    assert rows(got) == [("1", "TEE", 1, Status.PAID), *extra]


def test_refund_lines_of_other_orders_and_several_refunds_add_up() -> None:
    got = order(
        [line(A, "TEE", 3, current=0, unfulfilled=0)],
        fulfilment="FULFILLED",
        refunds=(
            refund((A, 1, "RETURN"), ("gid://shopify/LineItem/999", 5, "RETURN")),
            refund((A, 2, "RETURN")),
        ),
    )
    assert rows(got) == [("1", "TEE", 0, Status.PAID), ("1/returned", "TEE", 3, Status.RETURNED)]


def test_sku_price_and_dates_are_carried_over() -> None:
    got = order([line(A, "  TEE-M ", 1)])
    [only] = got.lines
    assert (only.channel_sku, only.unit_price, only.currency) == ("TEE-M", Decimal("12.50"), "EUR")
    assert got.created_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert got.updated_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "search"),
    [
        (
            datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
            datetime(2026, 11, 21, 0, 0, tzinfo=UTC),
            "updated_at:>='2026-11-20T00:00:00Z' AND updated_at:<'2026-11-21T00:00:00Z'",
        ),
        # Whole seconds that cover the window: the start floored, the end ceiled.
        (
            datetime(2026, 11, 20, 0, 0, 5, 500000, tzinfo=UTC),
            datetime(2026, 11, 20, 0, 9, 7, 1, tzinfo=UTC),
            "updated_at:>='2026-11-20T00:00:05Z' AND updated_at:<'2026-11-20T00:09:08Z'",
        ),
    ],
)
def test_the_search_window_covers_the_whole_window(
    since: datetime, until: datetime, search: str
) -> None:
    assert order_search(since, until) == search
