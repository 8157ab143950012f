"""`omnisync orders --csv`: order lines as rows for accounting and invoicing."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

COLUMNS = (
    "channel",
    "order_id",
    "status",
    "created_at",
    "updated_at",
    "line_id",
    "sku",
    "channel_sku",
    "quantity",
    "unit_price",
    "currency",
)


def write_order_lines(orders: Sequence[Mapping[str, Any]], out: TextIO) -> int:
    """One row per order line (orders as `Ledger.list_orders` gives them); returns the count.

    A line's own status, where the channel gave one, wins over its order's. A missing price
    or SKU is an empty cell, never a guess.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for order in orders:
        for line in order["lines"]:
            count += 1
            writer.writerow(
                (
                    order["channel"],
                    order["id"],
                    line.get("status") or order["status"],
                    order["created_at"],
                    order["updated_at"],
                    line["id"],
                    line["sku"] or "",
                    line["channel_sku"],
                    line["quantity"],
                    line["unit_price"] or "",
                    line["currency"] or "",
                )
            )
    return count
