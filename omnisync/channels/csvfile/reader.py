"""Reading one sales file: its header, its delimiter, and each row as a sale or a problem."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from omnisync.channels.base import ReadProblem
from omnisync.channels.csvfile.settings import COLUMNS, REQUIRED
from omnisync.csvtext import delimiter_of
from omnisync.models import Status
from omnisync.timeparse import as_utc

# The statuses a till's row may carry (lower case); an empty cell is a completed sale.
STATUSES = {
    "completed": Status.COMPLETED,
    "returned": Status.RETURNED,
    "cancelled": Status.CANCELLED,
    "canceled": Status.CANCELLED,
}
_WHOLE = re.compile(r"^\+?\d+$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")


@dataclass(frozen=True, slots=True)
class SaleRow:
    """One readable row: one line of one order."""

    order_id: str
    line_id: str
    sku: str
    quantity: int
    status: Status
    created_at: datetime
    unit_price: Decimal | None = None
    currency: str | None = None


@dataclass(slots=True)
class ParsedFile:
    """What one sales file holds: its readable rows, and where it could not be read.

    `broken` maps the (order, line) of each row that could not be read although its order
    could to where the row is (`file:line`): such an order is held back whole (see the
    package docstring).
    """

    rows: list[SaleRow] = field(default_factory=list)
    broken: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[ReadProblem] = field(default_factory=list)


class _BadCell(Exception):
    """A cell that does not hold what its column needs."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def parse_sales(
    text: str,
    *,
    name: str,
    columns: Mapping[str, str],
    zone: tzinfo,
    currency: str | None = None,
) -> ParsedFile:
    """Read a sales file's text (BOM already removed); `name` is how problems name the file.

    Args:
        columns: our column -> the till's header for it, where they differ.
        zone: where a time without an offset (or a date alone) is local time.
        currency: a row's currency when its file has no `currency` cell for it.
    """
    parsed = ParsedFile()
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        return parsed  # an empty file: the till has sold nothing yet
    delimiter = delimiter_of(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(_records(reader, parsed.problems, name), None)
    if header is None:
        return parsed  # only delimiters: no header, and nothing sold
    header_line = reader.line_num
    where = _locate(header, columns)
    missing = [column for column in REQUIRED if column not in where]
    if missing:
        wanted = ", ".join(repr(columns.get(column, column)) for column in missing)
        parsed.problems.append(
            ReadProblem(
                f"{name}:{header_line}",
                f"the header has no {wanted} column (it has: {', '.join(header)}); name the "
                f"till's own columns in the channel's `columns` table",
            )
        )
        return parsed
    positions: dict[str, int] = {}  # rows seen per order: the default line id
    for row in _records(reader, parsed.problems, name):
        line = reader.line_num
        cells = {column: row[index].strip() for column, index in where.items() if index < len(row)}
        order_id = cells.get("order_id", "")
        if order_id:
            positions[order_id] = positions.get(order_id, 0) + 1
        try:
            if len(row) > len(header) and any(cell.strip() for cell in row[len(header) :]):
                raise _BadCell(
                    "",
                    f"{len(row)} fields where the header has {len(header)} "
                    f"(a {delimiter!r} inside a value must be quoted)",
                )
            if not order_id:
                raise _BadCell("order_id", "empty")
            sale, price_problem = _sale(cells, str(positions[order_id]), delimiter, zone, currency)
        except _BadCell as bad:
            column = f"{where[bad.column] + 1}" if bad.column in where else ""
            label = f"{bad.column}: " if bad.column else ""
            at = f"{name}:{line}:{column}" if column else f"{name}:{line}"
            parsed.problems.append(ReadProblem(at, f"{label}{bad.message}"))
            if order_id:
                line_id = cells.get("line_id") or str(positions[order_id])
                parsed.broken[(order_id, line_id)] = f"{name}:{line}"
            continue
        if price_problem is not None:
            # The sale still counts: a price is not worth losing a sale's stock for.
            at = f"{name}:{line}:{where[price_problem.column] + 1}"
            parsed.problems.append(
                ReadProblem(at, f"{price_problem.column}: {price_problem.message}")
            )
        parsed.rows.append(sale)
    return parsed


def _locate(header: list[str], columns: Mapping[str, str]) -> dict[str, int]:
    """Our column -> its index in the header (names compared case-insensitively)."""
    index: dict[str, int] = {}
    for position, cell in enumerate(header):
        index.setdefault(cell.strip().casefold(), position)
    where = {}
    for column in COLUMNS:
        found = index.get(columns.get(column, column).strip().casefold())
        if found is not None:
            where[column] = found
    return where


def _records(reader: Any, problems: list[ReadProblem], name: str) -> Iterator[list[str]]:
    """The rows: blank lines (and rows of empty cells) are no rows, and a line the csv module
    cannot split (a field too long, say) is a problem, after which reading goes on."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(ReadProblem(f"{name}:{reader.line_num}", f"not CSV: {exc}"))
            continue
        if any(cell.strip() for cell in row):
            yield row


def _sale(
    cells: Mapping[str, str],
    position: str,
    delimiter: str,
    zone: tzinfo,
    currency: str | None,
) -> tuple[SaleRow, _BadCell | None]:
    """A row's sale, and the problem with its price if it has one; raises _BadCell."""
    sku = cells.get("sku", "")
    if not sku:
        raise _BadCell("sku", "empty")
    quantity = _quantity(cells.get("quantity", ""))
    status_text = cells.get("status", "").casefold()
    status = STATUSES.get(status_text or "completed")
    if status is None:
        raise _BadCell(
            "status",
            f"{cells['status']!r} is not a status (expected completed, returned or cancelled)",
        )
    created_at = _time(cells.get("created_at", ""), zone)
    price: Decimal | None = None
    price_problem = None
    try:
        price = _price(cells.get("unit_price", ""), delimiter)
    except _BadCell as bad:
        price_problem = bad
    return (
        SaleRow(
            order_id=cells["order_id"],
            line_id=cells.get("line_id") or position,
            sku=sku,
            quantity=quantity,
            status=status,
            created_at=created_at,
            unit_price=price,
            currency=cells.get("currency") or currency,
        ),
        price_problem,
    )


def _quantity(text: str) -> int:
    if not text:
        raise _BadCell("quantity", "empty")
    if text.startswith("-") and _WHOLE.match(text[1:]):
        raise _BadCell(
            "quantity",
            f"{text!r} is negative: a return is the sale's row with status 'returned'",
        )
    if not _WHOLE.match(text):
        raise _BadCell("quantity", f"{text!r} is not a whole number of units")
    return int(text)


def _time(text: str, zone: tzinfo) -> datetime:
    if not text:
        raise _BadCell("created_at", "empty")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _BadCell(
            "created_at",
            f"{text!r} is not an ISO 8601 time (2026-11-20T09:00:00+07:00, or 2026-11-20)",
        ) from None
    if moment.tzinfo is None:
        # The till's local time (a date alone is its midnight).
        moment = moment.replace(tzinfo=zone)
    return as_utc(moment)


def _price(text: str, delimiter: str) -> Decimal | None:
    if not text:
        return None
    number = text
    if delimiter == ";" and _DECIMAL_COMMA.match(text):
        # Where `;` separates fields, `,` is the decimal separator (12,50). In a `,` file
        # "12,50" could as well be twelve hundred and fifty: only a point is read there.
        number = text.replace(",", ".")
    try:
        price = Decimal(number)
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite():
        raise _BadCell("unit_price", f"{text!r} is not a price (12.50)")
    return price
