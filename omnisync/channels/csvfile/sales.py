"""Orders from the rows of every sales file: one version per line, whole orders only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from omnisync.channels.csvfile.reader import ParsedFile, SaleRow
from omnisync.models import Order, OrderLine, Status


@dataclass(frozen=True, slots=True)
class SalesFile:
    """One sales file as read in this run."""

    name: str  # as problems and sorting name it
    changed_at: datetime  # when its content last changed, as far as the file system says
    parsed: ParsedFile


def assemble(
    files: Sequence[SalesFile], *, changed_since: datetime | None = None
) -> tuple[list[Order], dict[str, str]]:
    """Every order the files hold, and those held back for an unreadable row (order id ->
    where that row is).

    An (order, line) in several files (a till that exports "the last 7 days" every day) is
    one line: the row in the file changed last wins, and within a file the row further down.
    An order's `updated_at` is the latest change of any file that holds a row of it, so an
    order is read again exactly when a file that holds it changed. Orders last changed
    before `changed_since` are left out (building them is most of the work).
    """
    lines: dict[str, dict[str, SaleRow]] = {}
    updated: dict[str, datetime] = {}
    broken: dict[tuple[str, str], str] = {}
    for file in sorted(files, key=lambda f: (f.changed_at, f.name)):
        for row in file.parsed.rows:
            lines.setdefault(row.order_id, {})[row.line_id] = row
            broken.pop((row.order_id, row.line_id), None)
            updated[row.order_id] = max(updated.get(row.order_id, file.changed_at), file.changed_at)
        # A row that turned unreadable holds its order back, so a sale already counted is
        # not undone as a line the till removed.
        broken.update(file.parsed.broken)
        for order_id, _ in file.parsed.broken:
            updated[order_id] = max(updated.get(order_id, file.changed_at), file.changed_at)
    held: dict[str, str] = {}
    for (order_id, _), where in sorted(broken.items()):
        held.setdefault(order_id, where)
    orders = [
        _order(order_id, rows, updated[order_id])
        for order_id, rows in lines.items()
        if order_id not in held and (changed_since is None or updated[order_id] >= changed_since)
    ]
    return orders, held


def _order(order_id: str, rows: dict[str, SaleRow], updated_at: datetime) -> Order:
    statuses = {row.status for row in rows.values()}
    # Each line carries its own status; the order's is theirs when they agree (for `orders`).
    status = statuses.pop() if len(statuses) == 1 else Status.COMPLETED
    return Order(
        id=order_id,
        status=status,
        created_at=min(row.created_at for row in rows.values()),
        updated_at=updated_at,
        lines=tuple(
            OrderLine(
                id=line_id,
                channel_sku=row.sku,
                quantity=row.quantity,
                status=row.status,
                unit_price=row.unit_price,
                currency=row.currency,
            )
            for line_id, row in rows.items()
        ),
    )
