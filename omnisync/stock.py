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
    if counted < 0:
        raise UsageError(f"a counted quantity cannot be negative, got {counted}")
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
    with ledger.atomic():
        _require_sku(ledger, sku, create=create, name=name, now=now)
        if delta:
            ledger.add_movement(kind="adjust", sku=sku, on_hand=delta, reason=reason, now=now)
        return ledger.balances([sku])[sku].on_hand


def read_stock_csv(path: Path) -> list[tuple[str, int, str]]:
    """Rows of a stock-take file; every mistake names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    if "sku" not in columns or "on_hand" not in columns:
        raise UsageError(
            f"{path}:1: expected a header with columns sku,on_hand[,name], "
            f"got {','.join(columns) or 'nothing'}"
        )
    rows: list[tuple[str, int, str]] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        if None in raw:
            raise UsageError(
                f"{path}:{line}: more cells than the header has columns "
                f"(put a name that holds a comma in double quotes)"
            )
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        sku = row.get("sku", "")
        if not sku:
            raise UsageError(f"{path}:{line}: column sku: expected a SKU, got an empty cell")
        try:
            on_hand = int(row.get("on_hand", ""))
        except ValueError:
            raise UsageError(
                f"{path}:{line}: column on_hand: expected a whole number ≥ 0, "
                f"got {row.get('on_hand')!r}"
            ) from None
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
