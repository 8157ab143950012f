"""The report's figures, computed from the ledger's summed rows: pure arithmetic, no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from omnisync.ledger.analytics import CURRENT, SOLD, ReportRows, RunMoves, StockStep
from omnisync.timeparse import from_iso, to_iso

CENT = Decimal("0.01")
DAY = 86400  # seconds


@dataclass(slots=True)
class PeriodFigures:
    """One channel's (or all channels') orders, units and money over one window."""

    orders: int = 0
    cancelled_orders: int = 0
    returned_orders: int = 0
    units: int = 0  # units of sold lines (not cancelled, not returned)
    revenue: dict[str, Decimal] = field(default_factory=dict)  # currency -> Σ quantity × price
    priced_orders: dict[str, int] = field(default_factory=dict)  # currency -> sold orders
    unpriced_lines: int = 0  # sold lines with no price: counted apart, never guessed
    unpriced_units: int = 0

    def average_order_value(self) -> dict[str, Decimal]:
        return {
            currency: (amount / self.priced_orders[currency]).quantize(CENT, ROUND_HALF_EVEN)
            for currency, amount in sorted(self.revenue.items())
            if self.priced_orders.get(currency)
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "units": self.units,
            "revenue": {c: str(v) for c, v in sorted(self.revenue.items())},
            "unpriced_lines": self.unpriced_lines,
            "unpriced_units": self.unpriced_units,
            "average_order_value": {c: str(v) for c, v in self.average_order_value().items()},
            "cancelled_orders": self.cancelled_orders,
            "returned_orders": self.returned_orders,
            "cancellation_rate": _ratio(self.cancelled_orders, self.orders),
            "return_rate": _ratio(self.returned_orders, self.orders),
        }


@dataclass(slots=True)
class ChannelFigures:
    """A channel's window, the window before it, and its share of all channels."""

    channel: str
    current: PeriodFigures
    previous: PeriodFigures
    unit_share: float | None = None
    revenue_share: dict[str, float] = field(default_factory=dict)

    def change(self) -> dict[str, Any]:
        """Relative change from the previous window (0.25 = +25 %); null where it was zero."""
        now, before = self.current, self.previous
        return {
            "orders": _change(now.orders, before.orders),
            "units": _change(now.units, before.units),
            "revenue": {
                currency: _change(now.revenue.get(currency, 0), before.revenue.get(currency, 0))
                for currency in sorted(set(now.revenue) | set(before.revenue))
            },
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            **self.current.to_dict(),
            "unit_share": self.unit_share,
            "revenue_share": self.revenue_share,
            "previous": self.previous.to_dict(),
            "change": self.change(),
        }


@dataclass(frozen=True, slots=True)
class Oversell:
    """An order that took a SKU's available below zero: it sold a unit that was not there."""

    time: datetime
    channel: str | None
    order_id: str | None
    available: int  # after it


@dataclass(slots=True)
class SkuFigures:
    sku: str
    name: str
    available: int
    units: dict[str, int]  # channel -> units sold in the window
    window: int  # the window's length in seconds
    out_of_stock: timedelta
    oversells: list[Oversell]
    units_total: int  # Σ units, kept: every figure below asks for it

    @property
    def average_daily_units(self) -> float:
        return self.units_total * DAY / self.window

    @property
    def days_of_cover(self) -> float | None:
        """available ÷ average daily units; None when nothing sold (cover without end)."""
        if self.available <= 0:
            return 0.0
        if self.units_total <= 0:
            return None
        return self.available * self.window / (self.units_total * DAY)

    def reorder(self, days: int) -> int | None:
        """Units that bring the cover back to `days`, when it is below; in whole numbers, so
        that a cover of exactly `days` is not short by a rounding error."""
        if self.units_total <= 0:
            return None
        wanted = days * self.units_total * DAY  # unit-seconds the cover needs
        held = self.available * self.window
        if held >= wanted:
            return None
        return -((held - wanted) // self.window)  # ceil((wanted − held) ÷ window)

    def to_dict(self) -> dict[str, Any]:
        cover = self.days_of_cover
        return {
            "sku": self.sku,
            "name": self.name,
            "available": self.available,
            "units": dict(sorted(self.units.items())),
            "units_total": self.units_total,
            "average_daily_units": round(self.average_daily_units, 3),
            "days_of_cover": None if cover is None else round(cover, 2),
            "out_of_stock_hours": round(self.out_of_stock.total_seconds() / 3600, 2),
            "oversells": [
                {
                    "time": to_iso(o.time),
                    "channel": o.channel,
                    "order_id": o.order_id,
                    "available": o.available,
                }
                for o in self.oversells
            ],
        }


@dataclass(frozen=True, slots=True)
class Reorder:
    sku: str
    available: int
    average_daily_units: float
    days_of_cover: float
    quantity: int  # units that bring the cover back to reorder_days

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "available": self.available,
            "average_daily_units": round(self.average_daily_units, 3),
            "days_of_cover": round(self.days_of_cover, 2),
            "quantity": self.quantity,
        }


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date  # in the seller's timezone
    channel: str
    units: int
    revenue: dict[str, Decimal]

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "channel": self.channel,
            "units": self.units,
            "revenue": {c: str(v) for c, v in sorted(self.revenue.items())},
        }


@dataclass(slots=True)
class Report:
    """Every figure of `omnisync report`; `to_dict` is the documented `--json` shape."""

    since: datetime
    until: datetime
    previous_since: datetime
    timezone: str
    reorder_days: int
    channels: list[ChannelFigures]
    totals: PeriodFigures
    skus: list[SkuFigures]
    reorder: list[Reorder]
    daily: list[DayFigures]

    @property
    def days(self) -> float:
        return _seconds(self.until - self.since) / DAY

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": to_iso(self.since),
            "until": to_iso(self.until),
            "previous_since": to_iso(self.previous_since),
            "days": round(float(self.days), 3),
            "timezone": self.timezone,
            "reorder_days": self.reorder_days,
            "channels": [c.to_dict() for c in self.channels],
            "totals": self.totals.to_dict(),
            "skus": [s.to_dict() for s in self.skus],
            "reorder": [r.to_dict() for r in self.reorder],
            "oversells": [
                {"sku": s.sku, **item} for s in self.skus for item in s.to_dict()["oversells"]
            ],
            "daily": [d.to_dict() for d in self.daily],
        }


def compute(
    rows: ReportRows,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    timezone: ZoneInfo,
    reorder_days: int,
    channels: Sequence[str] = (),
) -> Report:
    """Every figure of the report from the rows `report_rows` read for this window."""
    periods = _periods(rows)
    names = sorted(set(channels) | {channel for channel, _ in periods})
    figures = [
        ChannelFigures(name, periods[(name, CURRENT)], periods[(name, 1 - CURRENT)])
        for name in names
    ]
    totals = _sum_periods(f.current for f in figures)
    for item in figures:
        item.unit_share = _ratio(item.current.units, totals.units)
        item.revenue_share = {
            currency: float(round(amount / totals.revenue[currency], 4))
            for currency, amount in sorted(item.current.revenue.items())
            if totals.revenue[currency]
        }
    skus = _skus(rows, since=since, until=until, now=now)
    return Report(
        since=since,
        until=until,
        previous_since=since - (until - since),
        timezone=timezone.key,
        reorder_days=reorder_days,
        channels=figures,
        totals=totals,
        skus=skus,
        reorder=_reorder(skus, reorder_days),
        daily=_daily(rows, names, since=since, until=until, timezone=timezone),
    )


def _periods(rows: ReportRows) -> defaultdict[tuple[str, int], PeriodFigures]:
    periods: defaultdict[tuple[str, int], PeriodFigures] = defaultdict(PeriodFigures)
    for channel, period, status, currency, count in rows.order_counts:
        figures = periods[(channel, period)]
        figures.orders += count
        if currency:
            figures.priced_orders[currency] = figures.priced_orders.get(currency, 0) + count
        if status == "cancelled":
            figures.cancelled_orders += count
        elif status == "returned":
            figures.returned_orders += count
    for line in rows.line_sums:
        if line.status not in SOLD:
            continue
        figures = periods[(line.channel, line.period)]
        figures.units += line.units
        price = _price(line.unit_price)
        if price is None or not line.currency:
            figures.unpriced_lines += line.lines
            figures.unpriced_units += line.units
            continue
        figures.revenue[line.currency] = (
            figures.revenue.get(line.currency, Decimal(0)) + price * line.units
        )
    return periods


def _sum_periods(items: Iterable[PeriodFigures]) -> PeriodFigures:
    total = PeriodFigures()
    for item in items:
        total.orders += item.orders
        total.cancelled_orders += item.cancelled_orders
        total.returned_orders += item.returned_orders
        total.units += item.units
        total.unpriced_lines += item.unpriced_lines
        total.unpriced_units += item.unpriced_units
        for currency, amount in item.revenue.items():
            total.revenue[currency] = total.revenue.get(currency, Decimal(0)) + amount
        for currency, count in item.priced_orders.items():
            total.priced_orders[currency] = total.priced_orders.get(currency, 0) + count
    return total


def _skus(rows: ReportRows, *, since: datetime, until: datetime, now: datetime) -> list[SkuFigures]:
    window = _seconds(until - since)
    units: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for sku, channel, count in rows.sku_units:
        units[sku][channel] = count
    steps: defaultdict[str, list[StockStep]] = defaultdict(list)
    for step in rows.stock_steps:
        steps[step.sku].append(step)
    runs: defaultdict[str, dict[int, RunMoves]] = defaultdict(dict)
    for (sku, run_id), run in rows.runs.items():
        runs[sku][run_id] = run
    end = min(until, max(now, since))
    figures = []
    # A hundred thousand SKUs, most of which neither sold nor ran out: they skip the work.
    never = timedelta(0)
    for sku, name, available in rows.skus:
        history = steps.get(sku)
        run_moves = runs.get(sku)
        sold = units.get(sku) or {}
        figures.append(
            SkuFigures(
                sku=sku,
                name=name,
                available=available,
                units=sold,
                window=window,
                out_of_stock=_out_of_stock(history, since=since, end=end) if history else never,
                oversells=[
                    incident
                    for _, run in sorted(run_moves.items())
                    for incident in oversells_in_run(run)
                ]
                if run_moves
                else [],
                units_total=sum(sold.values()) if sold else 0,
            )
        )
    return figures


def _out_of_stock(steps: Sequence[StockStep], *, since: datetime, end: datetime) -> timedelta:
    """Time at or below zero available within [since, end).

    `steps` are the SKU's movements where available was ≤ 0 before or after; between them it
    stayed where the last one left it. Before its first movement a SKU is not counted out.
    """
    out = timedelta(0)
    out_since: datetime | None = None
    for step in steps:
        moment = from_iso(step.time)
        if step.available <= 0 and out_since is None:
            out_since = moment
        elif step.available > 0 and out_since is not None:
            out += _overlap(out_since, moment, since, end)
            out_since = None
    if out_since is not None:
        out += _overlap(out_since, end, since, end)
    return out


def oversells_in_run(run: RunMoves) -> list[Oversell]:
    """The orders of one run that each took the SKU's available from ≥ 0 to below zero.

    The run's movements are replayed in the order their orders were placed (other movements
    first, as they were not sales): the order placed after the last unit was gone oversold.
    """
    moves = sorted(
        enumerate(run.moves),
        key=lambda item: (item[1][5] is not None, item[1][5] or "", item[0]),
    )
    available = run.before
    incidents = []
    for _, (time, kind, channel, order_id, delta, _placed) in moves:
        if kind == "order" and available + delta < 0 <= available:
            incidents.append(Oversell(from_iso(time), channel, order_id, available + delta))
        available += delta
    return incidents


def _reorder(skus: Sequence[SkuFigures], reorder_days: int) -> list[Reorder]:
    """SKUs whose cover is below reorder_days, the shortest first."""
    items = []
    for sku in skus:
        quantity = sku.reorder(reorder_days)
        if quantity is None:
            continue
        cover = sku.days_of_cover or 0.0
        items.append(Reorder(sku.sku, sku.available, sku.average_daily_units, cover, quantity))
    return sorted(items, key=lambda r: (r.days_of_cover, -r.quantity, r.sku))


def _daily(
    rows: ReportRows,
    channels: Sequence[str],
    *,
    since: datetime,
    until: datetime,
    timezone: ZoneInfo,
) -> list[DayFigures]:
    """Units and revenue per channel per day of the seller's calendar, days without sales too."""
    units: defaultdict[tuple[date, str], int] = defaultdict(int)
    revenue: defaultdict[tuple[date, str], dict[str, Decimal]] = defaultdict(dict)
    for line in rows.line_sums:
        if line.period != CURRENT or line.status not in SOLD:
            continue
        bucket = datetime.fromisoformat(line.hour + (":00" if len(line.hour) == 13 else ""))
        day = bucket.replace(tzinfo=UTC).astimezone(timezone).date()
        units[(day, line.channel)] += line.units
        price = _price(line.unit_price)
        if price is not None and line.currency:
            money = revenue[(day, line.channel)]
            money[line.currency] = money.get(line.currency, Decimal(0)) + price * line.units
    first = since.astimezone(timezone).date()
    last = (until - timedelta(microseconds=1)).astimezone(timezone).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [
        DayFigures(day, channel, units[(day, channel)], revenue.get((day, channel), {}))
        for day in days
        for channel in channels
    ]


def _price(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        price = Decimal(text)
    except InvalidOperation:
        return None  # a price the channel sent that is not a number: not guessed either
    return price if price.is_finite() else None


def _seconds(span: timedelta) -> int:
    return max(1, int(span.total_seconds()))  # a window is never empty (the CLI sees to it)


def _overlap(start: datetime, stop: datetime, since: datetime, end: datetime) -> timedelta:
    return max(timedelta(0), min(stop, end) - max(start, since))


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _change(now: int | Decimal, before: int | Decimal) -> float | None:
    return round(float((Decimal(now) - Decimal(before)) / Decimal(before)), 4) if before else None
