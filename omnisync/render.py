"""How results look: rich tables on stdout, problems on stderr, JSON documents for scripts."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from omnisync.redact import REDACTOR
from omnisync.timeparse import to_iso

# Types only: rendering one command's output must not import every other command's modules
# (`checks` alone pulls in the channels), nor the demo, which is loaded only when it is run.
# Nor rich, which only tables need: a `--json` run (cron's) prints without it (15 ms).
if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from omnisync.checks import CheckReport
    from omnisync.demo import DemoRun
    from omnisync.ledger import Balance, ChannelState
    from omnisync.report import RunReport
    from omnisync.stock import CountedSku


# A long list is encoded and written this many items at a time.
JSON_ITEMS_AT_ONCE = 1_000


def print_json(document: Any) -> None:
    """One JSON document on stdout, never rich markup, secrets scrubbed.

    Long lists, at any depth (`stock --json` of a 100,000-SKU shop, the report's `skus`), go
    out a thousand items at a time, the same text as one `json.dumps(..., indent=2)`: encoded
    whole, the encoder held millions of pieces and then their join at once (594 MB peak for
    that `stock --json`).
    """
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=str)
    _write_json(sys.stdout, encoder, REDACTOR.scrub_any(document), 0)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _write_json(out: TextIO, encoder: json.JSONEncoder, value: Any, level: int) -> None:
    """`value` as `encoder` writes it `level` levels in, a long list in parts."""
    inner = "\n" + "  " * (level + 1)
    if isinstance(value, list) and len(value) > JSON_ITEMS_AT_ONCE:
        out.write("[")
        for start in range(0, len(value), JSON_ITEMS_AT_ONCE):
            part = value[start : start + JSON_ITEMS_AT_ONCE]
            # An item's own line breaks are structure (a string's are escaped): one level in.
            out.write(",".join(inner + encoder.encode(item).replace("\n", inner) for item in part))
            if start + JSON_ITEMS_AT_ONCE < len(value):
                out.write(",")
        out.write("\n" + "  " * level + "]")
    elif isinstance(value, dict) and value and all(isinstance(key, str) for key in value):
        out.write("{")
        for number, (key, item) in enumerate(value.items()):
            out.write(("," if number else "") + inner + encoder.encode(key) + ": ")
            _write_json(out, encoder, item, level + 1)
        out.write("\n" + "  " * level + "}")
    else:
        out.write(encoder.encode(value).replace("\n", "\n" + "  " * level))


def _table(*columns: str, title: str | None = None) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for column in columns:
        if column in _NUMERIC:
            table.add_column(column, justify="right", no_wrap=True)
        elif column == "name":
            table.add_column(column, no_wrap=True, max_width=28, overflow="ellipsis")
        else:
            table.add_column(column, no_wrap=column in _KEYS)
    return table


_KEYS = {
    "sku",
    "channel",
    "listing",
    "order",
    "time",
    "started_at",
    "finished_at",
    "updated_at",
    "start_time",
    "cursor",
    "status",
    "id",
    "run",
}
_NUMERIC = {
    "orders",
    "movements",
    "pushed",
    "unchanged",
    "conflicts",
    "failed",
    "on_hand",
    "committed",
    "available",
    "before",
    "after",
    "expected",
    "counted",
    "variance",
    "qty",
    "exit",
    "listings",
}


# A run that catches up on a backlog writes thousands of listings: a table that long is slow to
# print and not read. The first ones are shown, the rest counted (all of them in --json).
LISTING_ROWS_SHOWN = 100
ORDER_IDS_SHOWN = 20


def sync_summary(out: Console, report: RunReport, *, show_changes: bool) -> None:
    title = "Dry run: nothing was written" if report.dry_run else f"Run {report.run_id}"
    table = _table(
        "channel",
        "status",
        "orders",
        "movements",
        "pushed",
        "unchanged",
        "conflicts",
        "failed",
        title=title,
    )
    for name, channel in report.channels.items():
        pushed = (
            sum(1 for c in channel.changes if c.outcome == "planned")
            if report.dry_run
            else (channel.listings_pushed)
        )
        table.add_row(
            name,
            channel.status,
            str(channel.orders_fetched),
            str(channel.movements),
            str(pushed),
            str(channel.listings_unchanged),
            str(channel.conflicts_seen),
            str(channel.listings_failed),
        )
    out.print(table)
    if not show_changes:
        return
    changes = _table("channel", "listing", "sku", "before", "after", "outcome", title="\nListings")
    rows = 0
    for name, channel in report.channels.items():
        for change in channel.changes:
            rows += 1
            if rows > LISTING_ROWS_SHOWN:
                continue
            changes.add_row(
                name,
                change.listing_id,
                change.channel_sku,
                str(change.before),
                str(change.after),
                change.outcome,
            )
    if rows:
        out.print(changes)
    if rows > LISTING_ROWS_SHOWN:
        out.print(
            f"{rows - LISTING_ROWS_SHOWN:,} more listings not shown (`--json` lists every one)",
            markup=False,
        )
    if report.dry_run:
        for name, channel in report.channels.items():
            if channel.orders_applied:
                ids = channel.orders_applied
                more = (
                    f" and {len(ids) - ORDER_IDS_SHOWN:,} more"
                    if len(ids) > ORDER_IDS_SHOWN
                    else ""
                )
                out.print(
                    f"{name}: orders to apply: {', '.join(ids[:ORDER_IDS_SHOWN])}{more}",
                    markup=False,
                )


def has_problems(report: RunReport) -> bool:
    """Whether `sync_problems` has anything to say (a quiet run without any loads no rich)."""
    return bool(_problem_lines(report))


def sync_problems(err: Console, report: RunReport) -> None:
    for text, soft_wrap in _problem_lines(report):
        err.print(text, markup=False, highlight=False, soft_wrap=soft_wrap)


def _problem_lines(report: RunReport) -> list[tuple[str, bool | None]]:
    """Each problem of a run as a line, and whether it must never be broken (None: as the
    console does)."""
    lines: list[tuple[str, bool | None]] = []
    for name, channel in report.channels.items():
        lines += [(f"{name}: {error}", None) for error in channel.errors]
        lines += [(f"{name}: warning: {warning}", None) for warning in channel.warnings]
    for item in report.oversold:
        took = f" (last units taken by {', '.join(item.orders)})" if item.orders else ""
        text = (
            f"oversold: {item.sku} is at {item.available} available{took}; pushed 0 everywhere. "
            f"To clear it, count it and run `omnisync stock set {item.sku} N` with the count "
            f"(or cancel an order it cannot fill)"
        )
        lines.append((text, True))  # it names a command to copy: never broken across lines
    for unmapped in report.unmapped:
        where = [f"orders {', '.join(unmapped.orders)}"] if unmapped.orders else []
        if unmapped.listings:
            where.append(f"listings {', '.join(unmapped.listings)}")
        text = (
            f"unmapped: {unmapped.channel} SKU {unmapped.channel_sku!r} maps to no SKU "
            f"({'; '.join(where)}); add it with `omnisync stock add "
            f"{unmapped.channel_sku or 'SKU'} 0 --new` or a [mapping.{unmapped.channel}] entry"
        )
        lines.append((text, None))
    return lines


# A table of this many SKUs takes rich about 0.4 s; all 100,000 of a big shop took 38 s.
STOCK_ROWS_SHOWN = 1_000


def stock_table(
    out: Console,
    balances: Sequence[Balance],
    shown: Mapping[str, Mapping[str, int]],
    channels: Sequence[str],
    by_location: Mapping[str, Mapping[str, Balance]] | None = None,
    locations: Sequence[str] = (),
) -> None:
    """Per SKU its stock, and what its listing shows on each channel; past STOCK_ROWS_SHOWN
    SKUs, that many and how many more.

    With `by_location`, a column per location shows what is available there (`main 3`),
    before the totals over every location.
    """
    hidden = len(balances) - STOCK_ROWS_SHOWN
    balances = balances[:STOCK_ROWS_SHOWN]
    places = list(locations) if by_location else []
    table = _table(
        "sku",
        "name",
        *(f"at {place}" for place in places),
        "on_hand",
        "committed",
        "available",
        *channels,
    )
    for balance in balances:
        at = (by_location or {}).get(balance.sku, {})
        table.add_row(
            balance.sku,
            balance.name,
            *(str(at[place].available) if place in at else "0" for place in places),
            str(balance.on_hand),
            str(balance.committed),
            str(balance.available),
            *(str(shown.get(balance.sku, {}).get(c, "-")) for c in channels),
        )
    out.print(table)
    if hidden > 0:
        out.print(
            f"{hidden:,} more SKUs not shown: name them (`omnisync stock SKU ...`), keep the "
            "low ones (`--low N`), or list every one (`--json`)",
            markup=False,
        )


def demo(out: Console, demo: DemoRun) -> None:
    """The demo's story: what was written, what the sync did, the stock after, what next."""
    out.print(demo.intro(), markup=False)
    sync_summary(out, demo.report, show_changes=False)
    out.print()
    sync_problems(out, demo.report)
    out.print()
    stock_table(out, demo.balances, demo.shown, demo.channels, demo.by_location, demo.locations)
    # Never break a suggested command across lines: it is copied and run.
    out.print(demo.explanation(), markup=False, soft_wrap=True)


# A stock-take of a whole warehouse is 100,000 rows: a table that long takes rich half a minute
# and nobody reads it. Past this many, the rows that changed are shown, up to this many.
COUNTED_ROWS_SHOWN = 200


def counted_table(out: Console, counted: Sequence[CountedSku]) -> None:
    """The counted SKUs; past COUNTED_ROWS_SHOWN, only those whose count changed, that many."""
    shown = list(counted)
    if len(shown) > COUNTED_ROWS_SHOWN:
        shown = [row for row in counted if row.variance or row.new][:COUNTED_ROWS_SHOWN]
    if shown:
        table = _table("sku", "expected", "counted", "variance", "")
        for row in shown:
            table.add_row(
                row.sku,
                str(row.expected),
                str(row.counted),
                f"{row.variance:+d}",
                "new" if row.new else "",
            )
        out.print(table)
    hidden = len(counted) - len(shown)
    if hidden:
        same = sum(1 for row in counted if not (row.variance or row.new))
        out.print(
            f"{hidden:,} more rows not shown, {same:,} of all counts as the ledger expected "
            f"(`--json` lists every row)",
            markup=False,
        )


# Orders a table lists, newest first (rich takes about 0.25 s a thousand).
ORDER_ROWS_SHOWN = 1_000


def orders_table(out: Console, orders: Sequence[Mapping[str, Any]]) -> None:
    """The orders, newest update first; past ORDER_ROWS_SHOWN, that many and how many more."""
    table = _table("channel", "order", "status", "updated_at", "lines")
    for order in orders[:ORDER_ROWS_SHOWN]:
        lines = ", ".join(f"{line['quantity']}× {line['channel_sku']}" for line in order["lines"])
        table.add_row(order["channel"], order["id"], order["status"], order["updated_at"], lines)
    out.print(table)
    if len(orders) > ORDER_ROWS_SHOWN:
        out.print(
            f"{len(orders) - ORDER_ROWS_SHOWN:,} older orders not shown: narrow with `--since`, "
            "`--channel` or `--status`, or list every one (`--json`, `--csv FILE`)",
            markup=False,
        )


def log_table(out: Console, movements: Sequence[Mapping[str, Any]]) -> None:
    # Where each movement happened matters once stock is kept in several places (a transfer
    # is two rows that differ only there); a shop with one location is spared the column.
    located = any(m["location"] != "main" for m in movements)
    table = _table(
        "id",
        "time",
        "kind",
        "sku",
        *(("location",) if located else ()),
        "on_hand",
        "committed",
        "source",
        "reason",
    )
    for m in movements:
        source = f"{m['channel']}:{m['order_id']}/{m['line_id']}" if m["channel"] else ""
        table.add_row(
            str(m["id"]),
            m["time"],
            m["kind"],
            m["sku"],
            *((m["location"],) if located else ()),
            f"{m['on_hand']:+d}",
            f"{m['committed']:+d}",
            source,
            m["reason"],
        )
    out.print(table)


def runs_table(out: Console, runs: Sequence[Mapping[str, Any]]) -> None:
    table = _table("run", "started_at", "finished_at", "exit", "channels")
    for run in runs:
        channels = ", ".join(
            f"{name} {c['status']} ({c['orders_fetched']} orders, {c['listings_pushed']} pushed)"
            for name, c in run.get("channels", {}).items()
        )
        if run.get("interrupted"):
            channels = "interrupted before it finished"
        table.add_row(
            str(run["run_id"]),
            str(run["started_at"]),
            str(run["finished_at"] or "-"),
            str(run["exit_code"] if run["exit_code"] is not None else "-"),
            channels,
        )
    out.print(table)


def channel_rows(
    names_types: Sequence[tuple[str, str, bool]], states: Mapping[str, ChannelState]
) -> list[dict[str, Any]]:
    rows = []
    for name, type_, enabled in names_types:
        state = states.get(name)
        rows.append(
            {
                "name": name,
                "type": type_,
                "enabled": enabled,
                "start_time": to_iso(state.start_time) if state and state.start_time else None,
                "cursor": to_iso(state.cursor) if state and state.cursor else None,
                "last_run": state.last_run if state else None,
                "last_status": state.last_status if state else None,
                "last_error": state.last_error if state else None,
            }
        )
    return rows


def channels_table(out: Console, rows: Sequence[Mapping[str, Any]]) -> None:
    table = _table("channel", "type", "start_time", "cursor", "last run", "outcome")
    for row in rows:
        outcome = row["last_status"] or "never synced"
        if not row["enabled"]:
            outcome = "disabled"
        if row["last_error"]:
            outcome += f": {row['last_error']}"
        table.add_row(
            row["name"],
            row["type"],
            row["start_time"] or "-",
            row["cursor"] or "-",
            str(row["last_run"] or "-"),
            outcome,
        )
    out.print(table)


def check_report(out: Console, err: Console, report: CheckReport) -> None:
    for warning in report.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    for channel in report.channels:
        state = {None: "not reached", True: "reached", False: "FAILED"}[channel.reached]
        if channel.connected is False:
            state = "NOT CONNECTED"
        out.print(f"{channel.name} ({channel.type}): {state}", markup=False, highlight=False)
        for message in channel.messages:
            out.print(f"  {message}", markup=False, highlight=False)
        for channel_sku, count in Counter(channel.unmapped).items():
            times = f" ({count} listings)" if count > 1 else ""
            out.print(
                f"  unmapped listing: {channel_sku!r} maps to no SKU{times}",
                markup=False,
                highlight=False,
            )
        if channel.not_managed:
            out.print(
                f"  not managed (no SKU on the channel): {', '.join(channel.not_managed)}",
                markup=False,
                highlight=False,
            )
        for sku, ids in channel.duplicates.items():
            out.print(
                f"  {sku} is on {len(ids)} listings: {', '.join(ids)}",
                markup=False,
                highlight=False,
            )
    if report.unlisted_skus:
        out.print(
            f"SKUs listed on no channel: {', '.join(report.unlisted_skus)}",
            markup=False,
            highlight=False,
        )
    out.print("check: ok" if report.ok else "check: problems found", markup=False)
