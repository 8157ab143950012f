"""`omnisync report` in the terminal: plain tables, block bars and sparklines in 80 columns.

Nothing depends on colour: the same text reads in a cron mail. Bars and sparklines are
Unicode block characters, so their length carries the figure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from omnisync.analytics.figures import Report, SkuFigures

SPARKS = "▁▂▃▄▅▆▇█"
EIGHTHS = " ▏▎▍▌▋▊▉"
BAR_WIDTH = 12
SPARK_WIDTH = 40  # a longer window is folded, several days to a character
TOP_SKUS = 10


def print_report(out: Console, report: Report) -> None:
    """The whole report as text; every figure is also in `--json`."""
    days = float(report.days)
    out.print(
        f"Report {report.since:%Y-%m-%d %H:%M} → {report.until:%Y-%m-%d %H:%M} UTC "
        f"({days:g} days; daily figures in {report.timezone}). Compared with the "
        f"{days:g} days before.",
        markup=False,
        highlight=False,
    )
    out.print()
    if not report.channels:
        out.print("No orders in this window or the one before.", markup=False)
    else:
        _channels(out, report)
        _revenue(out, report)
        _daily(out, report)
    _top_skus(out, report.skus)
    _reorder(out, report)
    _oversells(out, report.skus)


def _table(title: str, *columns: str, numeric: Sequence[str] = ()) -> Table:
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for column in columns:
        right = column in numeric
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    return table


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar `width` characters at full scale, to an eighth of a character."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


def sparkline(values: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """One character per value (values summed in groups when there are more than `width`)."""
    if not values:
        return ""
    group = -(-len(values) // width)
    folded = [sum(values[i : i + group]) for i in range(0, len(values), group)]
    top = max(folded)
    if top <= 0:
        return SPARKS[0] * len(folded)
    return "".join(SPARKS[round(max(v, 0) / top * (len(SPARKS) - 1))] for v in folded)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _change(value: float | None) -> str:
    return "new" if value is None else f"{value:+.0%}"


def _money(amount: Decimal) -> str:
    return f"{amount:,}"


def _channels(out: Console, report: Report) -> None:
    table = _table(
        "Channels",
        "channel",
        "orders",
        "units",
        "share of units",
        "",
        "cancel",
        "return",
        "Δ orders",
        "Δ units",
        numeric=("orders", "units", "", "cancel", "return", "Δ orders", "Δ units"),
    )
    for item in report.channels:
        now, change = item.current, item.change()
        table.add_row(
            item.channel,
            str(now.orders),
            str(now.units),
            bar(item.unit_share or 0.0),
            _percent(item.unit_share),
            _percent(_rate(now.cancelled_orders, now.orders)),
            _percent(_rate(now.returned_orders, now.orders)),
            _change(change["orders"]) if item.previous.orders or now.orders else "-",
            _change(change["units"]) if item.previous.units or now.units else "-",
        )
    out.print(table)
    out.print()


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _revenue(out: Console, report: Report) -> None:
    table = _table(
        "Revenue (from line prices)",
        "channel",
        "currency",
        "revenue",
        "avg order",
        "share",
        "Δ",
        numeric=("revenue", "avg order", "share", "Δ"),
    )
    rows = 0
    for item in report.channels:
        change = item.change()["revenue"]
        average = item.current.average_order_value()
        for currency, amount in sorted(item.current.revenue.items()):
            rows += 1
            table.add_row(
                item.channel,
                currency,
                _money(amount),
                _money(average[currency]) if currency in average else "-",
                _percent(item.revenue_share.get(currency)),
                _change(change.get(currency)),
            )
    if rows:
        out.print(table)
    unpriced = [c for c in report.channels if c.current.unpriced_lines]
    for item in unpriced:
        out.print(
            f"{item.channel}: {_count(item.current.unpriced_lines, 'sold line')} "
            f"({_count(item.current.unpriced_units, 'unit')}) without a price, "
            "counted in no revenue",
            markup=False,
            highlight=False,
        )
    if rows or unpriced:
        out.print()


def _daily(out: Console, report: Report) -> None:
    units: dict[str, list[int]] = defaultdict(list)
    for day in report.daily:
        units[day.channel].append(day.units)
    if not report.daily:
        return
    first, last = report.daily[0].day, report.daily[-1].day
    table = _table(
        f"Units per day, {first:%d %b} to {last:%d %b}",
        "channel",
        "",
        "max/day",
        numeric=("max/day",),
    )
    for channel, values in units.items():
        table.add_row(channel, sparkline(values), str(max(values, default=0)))
    out.print(table)
    out.print()


def _cover(sku: SkuFigures) -> str:
    cover = sku.days_of_cover
    return "-" if cover is None else f"{float(cover):.1f}"


def _top_skus(out: Console, skus: Sequence[SkuFigures]) -> None:
    top = sorted((s for s in skus if s.units_total > 0), key=lambda s: (-s.units_total, s.sku))
    if not top:
        return
    most = top[0].units_total
    table = _table(
        f"Top SKUs by units (of {len(top)} sold)",
        "sku",
        "units",
        "",
        "per day",
        "available",
        "cover",
        "out of stock",
        numeric=("units", "per day", "available", "cover", "out of stock"),
    )
    for sku in top[:TOP_SKUS]:
        hours = sku.out_of_stock.total_seconds() / 3600
        table.add_row(
            sku.sku,
            str(sku.units_total),
            bar(sku.units_total / most, 8),
            f"{float(sku.average_daily_units):.1f}",
            str(sku.available),
            _cover(sku),
            f"{hours:.0f} h" if hours else "-",
        )
    out.print(table)
    out.print("cover: days the available stock lasts at the window's daily rate", markup=False)
    out.print()


def _reorder(out: Console, report: Report) -> None:
    if not report.reorder:
        out.print(
            f"Reorder: no SKU has less than {report.reorder_days} days of cover.", markup=False
        )
        out.print()
        return
    table = _table(
        f"Reorder: cover below {report.reorder_days} days, most urgent first",
        "sku",
        "available",
        "per day",
        "cover",
        "",
        "order",
        numeric=("available", "per day", "cover", "order"),
    )
    for item in report.reorder:
        cover = float(item.days_of_cover)
        table.add_row(
            item.sku,
            str(item.available),
            f"{float(item.average_daily_units):.1f}",
            f"{cover:.1f}",
            bar(cover / report.reorder_days, 8),
            str(item.quantity),
        )
    out.print(table)
    out.print(f"order: units that bring the cover back to {report.reorder_days} days", markup=False)
    out.print()


def _oversells(out: Console, skus: Sequence[SkuFigures]) -> None:
    incidents = [(sku, o) for sku in skus for o in sku.oversells]
    if not incidents:
        return
    table = _table(
        "Oversells: orders that took a unit that was not there",
        "sku",
        "time (UTC)",
        "channel",
        "order",
        "available",
        numeric=("available",),
    )
    for sku, item in sorted(incidents, key=lambda pair: pair[1].time):
        table.add_row(
            sku.sku,
            f"{item.time:%Y-%m-%d %H:%M}",
            item.channel or "-",
            item.order_id or "-",
            str(item.available),
        )
    out.print(table)
    out.print()
