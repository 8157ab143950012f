"""Stock the seller counts or receives: set, add, and stock-takes in and out as CSV."""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from omnisync.errors import UsageError
from omnisync.ledger import Ledger
from omnisync.skus import clean_sku, quantity_problem

CSV_COLUMNS = ("sku", "on_hand", "name")


@dataclass(frozen=True, slots=True)
class CountedSku:
    """One SKU of a stock-take: what the ledger expected, what was counted."""

    sku: str
    expected: int
    counted: int
    new: bool

    @property
    def variance(self) -> int:
        return self.counted - self.expected


def sku_argument(value: str) -> str:
    """A SKU typed on the command line, in its one spelling; UsageError if it cannot be one."""
    try:
        return clean_sku(value)
    except ValueError as exc:
        raise UsageError(f"SKU {value!r}: {exc}") from None


def quantity_argument(value: int, *, what: str) -> int:
    """A quantity typed on the command line; UsageError beyond what any shop holds."""
    problem = quantity_problem(value)
    if problem:
        raise UsageError(f"{what}: {problem}")
    return value


def _require_sku(ledger: Ledger, sku: str, *, create: bool, name: str, now: datetime) -> None:
    known = ledger.known_skus()
    if sku in known:
        if name:
            ledger.add_sku(sku, name=name, now=now)
        return
    if create:
        ledger.add_sku(sku, name=name, now=now)
        return
    close = difflib.get_close_matches(sku, known, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"unknown SKU {sku!r}.{hint} Pass --new to create it.")


def set_stock(
    ledger: Ledger,
    sku: str,
    counted: int,
    *,
    reason: str,
    now: datetime,
    create: bool = False,
    name: str = "",
) -> CountedSku:
    """Record a count: the movement is `counted − on_hand now`, like a balance assertion."""
    sku = sku_argument(sku)
    if counted < 0:
        raise UsageError(f"a counted quantity cannot be negative, got {counted}")
    quantity_argument(counted, what="the counted quantity")
    with ledger.atomic():
        new = sku not in ledger.known_skus()
        _require_sku(ledger, sku, create=create, name=name, now=now)
        expected = ledger.balances([sku])[sku].on_hand
        if counted != expected:
            ledger.add_movement(
                kind="count", sku=sku, on_hand=counted - expected, reason=reason, now=now
            )
    return CountedSku(sku, expected, counted, new)


def add_stock(
    ledger: Ledger,
    sku: str,
    delta: int,
    *,
    reason: str,
    now: datetime,
    create: bool = False,
    name: str = "",
) -> int:
    """Record a receipt (positive) or an adjustment (negative); returns the new on_hand."""
    sku = sku_argument(sku)
    quantity_argument(delta, what="the quantity added")
    with ledger.atomic():
        _require_sku(ledger, sku, create=create, name=name, now=now)
        on_hand = ledger.balances([sku])[sku].on_hand + delta
        # Bounded after the sum too: many receipts must not carry a balance past 64 bits.
        quantity_argument(on_hand, what=f"{sku}: on_hand after adding {delta}")
        if delta:
            ledger.add_movement(kind="adjust", sku=sku, on_hand=delta, reason=reason, now=now)
        return on_hand


def read_stock_csv(path: Path) -> list[tuple[str, int, str]]:
    """Rows of a stock-take file; every mistake names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from None
    # strict: an unterminated quote is an error, not a name that swallows the rows below it.
    reader = csv.DictReader(io.StringIO(text), strict=True)
    try:
        return _read_rows(path, reader)
    except csv.Error as exc:
        # `line_num` counts the lines of the rows read whole: the broken one starts after them.
        raise UsageError(
            f"{path}:{reader.line_num + 1}: not valid CSV ({exc}); "
            f"is a double quote opened on this line never closed?"
        ) from None


def _read_rows(path: Path, reader: csv.DictReader[str]) -> list[tuple[str, int, str]]:
    columns = [c.strip() for c in reader.fieldnames or []]
    if "sku" not in columns or "on_hand" not in columns:
        raise UsageError(
            f"{path}:1: expected a header with columns sku,on_hand[,name], "
            f"got {','.join(columns) or 'nothing'}"
        )
    rows: list[tuple[str, int, str]] = []
    seen: dict[str, int] = {}
    line = reader.line_num
    for raw in reader:
        first, line = line + 1, reader.line_num
        if line != first:
            # A stock-take never has a cell spanning lines: it is a quote left open on `first`.
            raise UsageError(
                f"{path}:{first}: a cell runs on to line {line} (a double quote left open?)"
            )
        if None in raw:
            raise UsageError(
                f"{path}:{line}: more cells than the header has columns "
                f"(put a name that holds a comma in double quotes)"
            )
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        try:
            sku = clean_sku(row.get("sku", ""))
        except ValueError as exc:
            got = repr(row["sku"]) if row.get("sku") else "an empty cell"
            raise UsageError(f"{path}:{line}: column sku: {exc}, got {got}") from None
        try:
            on_hand = int(row.get("on_hand", ""))
        except ValueError:
            raise UsageError(
                f"{path}:{line}: column on_hand: expected a whole number ≥ 0, "
                f"got {row.get('on_hand')!r}"
            ) from None
        if quantity_problem(on_hand):
            raise UsageError(f"{path}:{line}: column on_hand: {quantity_problem(on_hand)}")
        if on_hand < 0:
            raise UsageError(
                f"{path}:{line}: column on_hand: expected a whole number ≥ 0, got {on_hand}"
            )
        if sku in seen:
            raise UsageError(f"{path}:{line}: SKU {sku!r} is already on line {seen[sku]}")
        seen[sku] = line
        rows.append((sku, on_hand, row.get("name", "")))
    return rows


def import_stock(ledger: Ledger, path: Path, *, now: datetime) -> list[CountedSku]:
    """A stock-take: every row becomes a count; unknown SKUs are created. All or nothing."""
    rows = read_stock_csv(path)
    counted: list[CountedSku] = []
    reason = f"stock import {path.name}"
    with ledger.atomic():
        known = ledger.known_skus()
        for sku, _, name in rows:
            if sku not in known or name:
                ledger.add_sku(sku, name=name, now=now)
        balances = ledger.balances(sku for sku, _, _ in rows)
        for sku, on_hand, _ in rows:
            expected = balances[sku].on_hand
            if on_hand != expected:
                ledger.add_movement(
                    kind="count", sku=sku, on_hand=on_hand - expected, reason=reason, now=now
                )
            counted.append(CountedSku(sku, expected, on_hand, sku not in known))
    return counted


def export_stock(ledger: Ledger, out: TextIO) -> int:
    """Write `sku,on_hand,name` for every SKU (the file `stock import` reads back)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    balances = ledger.balances()
    for balance in balances.values():
        writer.writerow((balance.sku, balance.on_hand, balance.name))
    return len(balances)
