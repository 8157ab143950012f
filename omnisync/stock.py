"""Stock the seller counts, receives or moves: set, add, move, and stock-takes in and out."""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from omnisync.csvtext import delimiter_of
from omnisync.errors import OmnisyncError, UsageError
from omnisync.locations import MAIN_LOCATION
from omnisync.skus import clean_sku, quantity_problem

if TYPE_CHECKING:  # a type only: the CLI imports this module at start-up
    from _csv import Reader

    from omnisync.ledger import Ledger

CSV_COLUMNS = ("sku", "on_hand", "name")
# The export of a shop with several locations: one row per SKU and location.
LOCATION_CSV_COLUMNS = ("sku", "location", "on_hand", "name")


@dataclass(frozen=True, slots=True)
class CountedSku:
    """One SKU of a stock-take: what the ledger expected, what was counted."""

    sku: str
    expected: int
    counted: int
    new: bool
    location: str = MAIN_LOCATION

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


def known_locations(config_locations: Iterable[str] | None, ledger: Ledger) -> list[str]:
    """The locations a command may name: the config's `[locations]`, else (no config, only
    `--ledger`) `main` and those the ledger already holds stock at."""
    if config_locations is not None:
        return list(config_locations)
    return list(dict.fromkeys([MAIN_LOCATION, *sorted(ledger.stock_locations())]))


def location_argument(value: str, known: Sequence[str], *, option: str = "--location") -> str:
    """A location typed on the command line; UsageError naming the known ones otherwise."""
    if value not in known:
        raise UsageError(
            f"{option}: unknown location {value!r} (known: {', '.join(known)}; a new one is "
            f"named under [locations] in the config first)"
        )
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
    location: str = MAIN_LOCATION,
) -> CountedSku:
    """Record a count at `location`: the movement is `counted − on_hand there now`, like a
    balance assertion."""
    sku = sku_argument(sku)
    if counted < 0:
        raise UsageError(f"a counted quantity cannot be negative, got {counted}")
    quantity_argument(counted, what="the counted quantity")
    with ledger.atomic():
        new = sku not in ledger.known_skus()
        _require_sku(ledger, sku, create=create, name=name, now=now)
        expected = ledger.balances([sku], locations=[location])[sku].on_hand
        if counted != expected:
            ledger.add_movement(
                kind="count",
                sku=sku,
                on_hand=counted - expected,
                reason=reason,
                now=now,
                location=location,
            )
    return CountedSku(sku, expected, counted, new, location)


def add_stock(
    ledger: Ledger,
    sku: str,
    delta: int,
    *,
    reason: str,
    now: datetime,
    create: bool = False,
    name: str = "",
    location: str = MAIN_LOCATION,
    force: bool = False,
) -> int:
    """Record a receipt (positive) or an adjustment (negative) at `location`; returns the new
    on_hand there.

    A write-off that would take on_hand there below 0 is refused (UsageError, nothing
    written) unless `force`: a sync would push 0 everywhere from a count nobody made.
    """
    sku = sku_argument(sku)
    quantity_argument(delta, what="the quantity added")
    with ledger.atomic():
        _require_sku(ledger, sku, create=create, name=name, now=now)
        on_hand = ledger.balances([sku], locations=[location])[sku].on_hand + delta
        # Bounded after the sum too: many receipts must not carry a balance past 64 bits.
        quantity_argument(on_hand, what=f"{sku}: on_hand after adding {delta}")
        if delta < 0 and on_hand < 0 and not force:
            at = "" if location == MAIN_LOCATION else f" at {location}"
            raise UsageError(
                f"{sku}: on_hand{at} is {on_hand - delta}, so writing off {-delta} would take "
                f"it to {on_hand}; nothing was recorded. To record it anyway, run again with "
                f"--force"
            )
        if delta:
            ledger.add_movement(
                kind="adjust", sku=sku, on_hand=delta, reason=reason, now=now, location=location
            )
        return on_hand


@dataclass(frozen=True, slots=True)
class Transfer:
    """A `stock move`: units of one SKU from one location to another, and what each has now."""

    sku: str
    quantity: int
    source: str
    destination: str
    source_available: int
    destination_available: int


def move_stock(
    ledger: Ledger,
    sku: str,
    quantity: int,
    *,
    source: str,
    destination: str,
    reason: str,
    now: datetime,
    force: bool = False,
) -> Transfer:
    """Move units between locations: two `transfer` movements in one transaction.

    Refused (nothing written, exit 1) when `source` has fewer units available than
    `quantity`, unless `force`: units promised to orders there, or not there at all, cannot
    leave it.
    """
    sku = sku_argument(sku)
    quantity_argument(quantity, what="the quantity moved")
    if quantity <= 0:
        raise UsageError(f"the quantity moved must be at least 1, got {quantity}")
    if source == destination:
        raise UsageError(f"--from and --to are both {source!r}: nothing would move")
    with ledger.atomic():
        _require_sku(ledger, sku, create=False, name="", now=now)
        at_source = ledger.balances([sku], locations=[source])[sku]
        if quantity > at_source.available and not force:
            raise OmnisyncError(
                f"{sku}: only {at_source.available} available at {source} (on_hand "
                f"{at_source.on_hand}, committed {at_source.committed}); nothing was moved. "
                f"To move {quantity} anyway, run again with --force"
            )
        ledger.transfer(
            sku, quantity, source=source, destination=destination, reason=reason, now=now
        )
        there = ledger.balances([sku], locations=[destination])[sku].available
    return Transfer(sku, quantity, source, destination, at_source.available - quantity, there)


def read_stock_csv(path: Path) -> list[tuple[str, int, str]]:
    """Rows of a stock-take file as (sku, on_hand, name); see `read_stock_rows`."""
    return [(sku, on_hand, name) for sku, on_hand, name, _ in read_stock_rows(path)]


# A stock-take's mistakes are reported together, up to this many: a seller fixes the file in
# one pass instead of one line per try.
MAX_PROBLEMS = 20


def read_stock_rows(
    path: Path, *, location: str = MAIN_LOCATION, known: Sequence[str] | None = None
) -> list[tuple[str, int, str, str]]:
    """Rows of a stock-take file as (sku, on_hand, name, location); every mistake names the
    file, line and column.

    The file is read as a spreadsheet saves it: `,` or `;` (see `delimiter_of`), column names
    in any case, a BOM or none. A `location` column, where a row fills it, says where that row
    was counted; `location` is every other row's. `known`, when given, are the locations a row
    may name.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from None
    delimiter = delimiter_of(text.partition("\n")[0])
    # strict: an unterminated quote is an error, not a name that swallows the rows below it.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems: list[str] = []
    rows = _read_rows(path, reader, delimiter, location, known, problems)
    if problems:
        more = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"{path}: and {more} more"] if more > 0 else [])
        raise UsageError("\n".join(shown))
    return rows


def _read_rows(
    path: Path,
    reader: Reader,
    delimiter: str,
    default: str,
    known: Sequence[str] | None,
    problems: list[str],
) -> list[tuple[str, int, str, str]]:
    """The rows that are right; what is wrong in the others goes to `problems`."""
    try:
        header: list[str] = next(reader, [])
    except csv.Error as exc:
        raise UsageError(f"{path}:1: not valid CSV ({exc})") from None
    columns = [cell.strip().casefold() for cell in header]
    if "sku" not in columns or "on_hand" not in columns:
        raise UsageError(
            f"{path}:1: expected a header with columns sku{delimiter}on_hand[{delimiter}name]"
            f"[{delimiter}location], got {delimiter.join(c.strip() for c in header) or 'nothing'}"
        )
    rows: list[tuple[str, int, str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The broken row starts on the line after the last row read whole.
            problems.append(
                f"{path}:{line + 1}: not valid CSV ({exc}); "
                f"is a double quote opened on this line never closed?"
            )
            break  # the reader cannot find where the next row starts
        first, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, or a row of empty cells a spreadsheet left behind
        if line != first:
            # A stock-take never has a cell spanning lines: it is a quote left open on `first`.
            problems.append(
                f"{path}:{first}: a cell runs on to line {line} (a double quote left open?)"
            )
            break  # the rows after it were read into that cell: their line numbers are lost
        if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
            problems.append(
                f"{path}:{line}: more cells than the header has columns "
                f"(put a name that holds a {delimiter!r} in double quotes)"
            )
            continue
        row = dict(zip(columns, (cell.strip() for cell in cells), strict=False))
        counted = _stock_row(path, line, row, default, known)
        if isinstance(counted, str):
            problems.append(counted)
            continue
        sku, location = counted[0], counted[3]
        if (sku, location) in seen:
            at = f" at {location}" if location != MAIN_LOCATION else ""
            problems.append(
                f"{path}:{line}: SKU {sku!r}{at} is already on line {seen[(sku, location)]}"
            )
            continue
        seen[(sku, location)] = line
        rows.append(counted)
    return rows


def _stock_row(
    path: Path, line: int, row: dict[str, str], default: str, known: Sequence[str] | None
) -> tuple[str, int, str, str] | str:
    """One row as (sku, on_hand, name, location), or what is wrong with it."""
    try:
        sku = clean_sku(row.get("sku", ""))
    except ValueError as exc:
        got = repr(row["sku"]) if row.get("sku") else "an empty cell"
        return f"{path}:{line}: column sku: {exc}, got {got}"
    try:
        on_hand = int(row.get("on_hand", ""))
    except ValueError:
        return (
            f"{path}:{line}: column on_hand: expected a whole number ≥ 0, "
            f"got {row.get('on_hand')!r}"
        )
    problem = quantity_problem(on_hand)
    if problem:
        return f"{path}:{line}: column on_hand: {problem}"
    if on_hand < 0:
        return f"{path}:{line}: column on_hand: expected a whole number ≥ 0, got {on_hand}"
    location = row.get("location") or default
    if known is not None and location not in known:
        return (
            f"{path}:{line}: column location: unknown location {location!r} "
            f"(known: {', '.join(known)})"
        )
    return sku, on_hand, row.get("name", ""), location


def import_stock(
    ledger: Ledger,
    path: Path,
    *,
    now: datetime,
    location: str = MAIN_LOCATION,
    known: Sequence[str] | None = None,
) -> list[CountedSku]:
    """A stock-take: every row becomes a count at its location (its `location` cell, else
    `location`); unknown SKUs are created. All or nothing."""
    rows = read_stock_rows(path, location=location, known=known)
    counted: list[CountedSku] = []
    reason = f"stock import {path.name}"
    changes: list[tuple[str, str, int]] = []
    with ledger.atomic():
        known_skus = ledger.known_skus()
        ledger.add_skus(
            ((sku, name) for sku, _, name, _ in rows if sku not in known_skus or name), now=now
        )
        places = ledger.by_location(sku for sku, _, _, _ in rows)
        for sku, on_hand, _, place in rows:
            there = places.get(sku, {}).get(place)
            expected = there.on_hand if there is not None else 0
            if on_hand != expected:
                changes.append((sku, place, on_hand - expected))
            counted.append(CountedSku(sku, expected, on_hand, sku not in known_skus, place))
        # One statement for the lot: 100,000 counts took 1.8 s one by one.
        ledger.add_counts(changes, reason=reason, now=now)
    return counted


def export_stock(ledger: Ledger, out: TextIO, *, location: str | None = None) -> int:
    """Write every SKU's on_hand as CSV, the file `stock import` reads back; returns the rows.

    `sku,on_hand,name` at `location`, or, without one, over the whole shop: the same columns
    while all stock is at `main`, else `sku,location,on_hand,name` with a row per SKU and
    location that holds or held it.
    """
    writer = csv.writer(out, lineterminator="\n")
    places = ledger.stock_locations()
    if location is not None or set(places) <= {MAIN_LOCATION}:
        writer.writerow(CSV_COLUMNS)
        balances = ledger.balances(locations=[location or MAIN_LOCATION])
        for balance in balances.values():
            writer.writerow((balance.sku, balance.on_hand, balance.name))
        return len(balances)
    writer.writerow(LOCATION_CSV_COLUMNS)
    table = ledger.by_location()
    count = 0
    for sku, balance in ledger.balances().items():
        # A SKU no movement ever touched starts at main, at 0 units.
        at = table.get(sku) or {MAIN_LOCATION: balance}
        for place, there in sorted(at.items()):
            writer.writerow((sku, place, there.on_hand, balance.name))
            count += 1
    return count
