"""`omnisync report --html`: one self-contained page, its charts SVG drawn by pygal.

pygal is told to link no script (`js=[]`), so the page needs no network: every chart is
inline SVG, the style sheet is in the page, and no font is fetched. Tooltips, which need
pygal's script, are replaced by values printed on the bars.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import Decimal
from html import escape

import pygal
from pygal.style import Style

from omnisync import __version__
from omnisync.analytics.figures import Report, SkuFigures

# pygal 3 appends a legacy import hook (for its map plugins) to sys.meta_path; on Python 3.11
# every import that then misses, anywhere in the process, warns (ImportWarning). omnisync draws
# no maps, so the hook is taken out again.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

TOP = 15  # SKUs per bar chart: more would not read on a phone
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_STYLE = Style(
    background="white",
    plot_background="white",
    font_family=_FONT,
    label_font_family=_FONT,
    major_label_font_family=_FONT,
    value_font_family=_FONT,
    title_font_family=_FONT,
    legend_font_family=_FONT,
    tooltip_font_family=_FONT,
    value_label_font_family=_FONT,
    title_font_size=22,
    label_font_size=14,
    major_label_font_size=14,
    legend_font_size=15,
    value_font_size=13,
    value_label_font_size=13,
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d2330; background: #f5f6f8; line-height: 1.4; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
p.lead { color: #4a5265; margin-top: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr));
          gap: 1rem; }
figure { margin: 0; background: white; border-radius: 8px; padding: .5rem;
         box-shadow: 0 1px 3px rgba(0, 0, 0, .08); }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: .9rem; color: #4a5265; padding: .25rem .5rem; }
.scroll { overflow-x: auto; background: white; border-radius: 8px;
          box-shadow: 0 1px 3px rgba(0, 0, 0, .08); }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { padding: .4rem .6rem; text-align: right; white-space: nowrap;
         border-bottom: 1px solid #e4e6eb; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef0f4; }
footer { color: #7a8194; font-size: .8rem; margin: 2rem 0 1rem; }
"""


def render_html(report: Report) -> str:
    """The page: figures as tables, and five charts."""
    days = float(report.days)
    title = f"omnisync report {report.since:%Y-%m-%d} to {report.until:%Y-%m-%d}"
    charts = [
        ("daily-units", "Units sold per day and channel", _daily_units(report)),
        *(
            (f"revenue-share-{currency.lower()}", f"Share of {currency} revenue", svg)
            for currency, svg in _revenue_shares(report)
        ),
        ("top-skus", f"Top {TOP} SKUs by units sold", _top_skus(report.skus)),
        ("days-of-cover", "Days of cover (shortest first)", _cover(report)),
        ("out-of-stock", "Hours out of stock in the window", _out_of_stock(report.skus)),
    ]
    figures = "\n".join(
        f'<figure id="chart-{key}" class="chart">{svg}<figcaption>{escape(caption)}'
        "</figcaption></figure>"
        for key, caption, svg in charts
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>{escape(title)}</h1>
<p class="lead">{days:g} days from {report.since:%Y-%m-%d %H:%M} UTC, compared with the
{days:g} days before. Daily figures in {escape(report.timezone)}.</p>
<h2>Channels</h2>
{_channel_table(report)}
<h2>Charts</h2>
<div class="charts">
{figures}
</div>
<h2>Reorder: cover below {report.reorder_days} days</h2>
{_reorder_table(report)}
<h2>Oversells</h2>
{_oversell_table(report.skus)}
<footer>Made by omnisync {escape(__version__)} from the ledger alone.</footer>
</main>
</body>
</html>
"""


def _config(**options: object) -> dict[str, object]:
    return {
        "js": [],  # no script from the network; the page must open offline
        "disable_xml_declaration": True,
        "style": _STYLE,
        "width": 640,
        "height": 420,
        "legend_at_bottom": True,
        "truncate_legend": 30,
        "truncate_label": 24,
        **options,
    }


def _daily_units(report: Report) -> str:
    dates = sorted({day.day for day in report.daily})
    chart = pygal.StackedBar(
        **_config(
            x_label_rotation=-45,
            show_minor_x_labels=len(dates) <= 14,  # else one date label a week
            x_labels_major_every=max(1, len(dates) // 7),
            show_legend=True,
        )
    )
    chart.x_labels = [f"{d:%d %b}" for d in dates]
    per_channel: dict[str, dict[object, int]] = {}
    for day in report.daily:
        per_channel.setdefault(day.channel, {})[day.day] = day.units
    for channel, values in per_channel.items():
        chart.add(channel, [values.get(d, 0) for d in dates])
    return _svg(chart)


def _revenue_shares(report: Report) -> list[tuple[str, str]]:
    currencies = sorted(report.totals.revenue)
    shares = []
    for currency in currencies:
        chart = pygal.Pie(**_config(inner_radius=0.45, print_values=True, height=380))
        chart.value_formatter = lambda value: f"{value:,.0f}"
        for item in report.channels:
            amount = item.current.revenue.get(currency, Decimal(0))
            if amount:
                chart.add(item.channel, float(amount))
        shares.append((currency, _svg(chart)))
    if not shares:  # no priced line at all: say so in the chart's place
        chart = pygal.Pie(**_config(no_data_text="No priced sales"))
        shares.append(("none", _svg(chart)))
    return shares


def _top_skus(skus: Sequence[SkuFigures]) -> str:
    top = sorted((s for s in skus if s.units_total > 0), key=lambda s: (-s.units_total, s.sku))
    top = top[:TOP][::-1]  # pygal draws a horizontal bar chart from the bottom up
    chart = pygal.HorizontalStackedBar(**_config(height=460, show_legend=True))
    chart.x_labels = [s.sku for s in top]
    channels = sorted({c for s in top for c in s.units})
    for channel in channels:
        chart.add(channel, [s.units.get(channel, 0) or None for s in top])
    return _svg(chart)


def _cover(report: Report) -> str:
    sold = [s for s in report.skus if s.days_of_cover is not None and s.average_daily_units > 0]
    shortest = sorted(sold, key=lambda s: (s.days_of_cover or 0, s.sku))[:TOP][::-1]
    chart = pygal.HorizontalBar(
        **_config(height=460, print_values=True, show_legend=False, no_data_text="No sales")
    )
    chart.value_formatter = lambda value: f"{value:.1f} d"
    chart.x_labels = [s.sku for s in shortest]
    chart.add(
        "days of cover",
        [
            {
                "value": round(float(s.days_of_cover or 0), 1),
                # Below the reorder threshold: drawn in the warning colour.
                "color": "#d9480f" if (s.days_of_cover or 0) < report.reorder_days else "#2f9e44",
            }
            for s in shortest
        ],
    )
    return _svg(chart)


def _out_of_stock(skus: Sequence[SkuFigures]) -> str:
    out = sorted(
        (s for s in skus if s.out_of_stock.total_seconds() > 0),
        key=lambda s: (-s.out_of_stock, s.sku),
    )[:TOP][::-1]
    chart = pygal.HorizontalBar(
        **_config(
            height=460,
            print_values=True,
            show_legend=False,
            no_data_text="No SKU was out of stock",
        )
    )
    chart.value_formatter = lambda value: f"{value:.1f} h"
    chart.x_labels = [s.sku for s in out]
    chart.add("hours", [round(s.out_of_stock.total_seconds() / 3600, 1) for s in out])
    return _svg(chart)


def _svg(chart: pygal.graph.graph.Graph) -> str:
    return str(chart.render(is_unicode=True))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _channel_table(report: Report) -> str:
    rows = []
    for item in report.channels:
        now, change = item.current, item.change()
        revenue = "; ".join(f"{c} {v:,}" for c, v in sorted(now.revenue.items())) or "-"
        average = "; ".join(f"{c} {v:,}" for c, v in now.average_order_value().items()) or "-"
        rows.append(
            [
                item.channel,
                now.orders,
                now.units,
                _percent(item.unit_share),
                revenue,
                average,
                now.unpriced_lines,
                _percent(now.cancelled_orders / now.orders if now.orders else None),
                _percent(now.returned_orders / now.orders if now.orders else None),
                "-" if change["units"] is None else f"{change['units']:+.0%}",
            ]
        )
    headers = [
        "channel",
        "orders",
        "units",
        "share",
        "revenue",
        "avg order",
        "unpriced lines",
        "cancelled",
        "returned",
        "Δ units",
    ]
    return _table(headers, rows, "No orders in this window.")


def _reorder_table(report: Report) -> str:
    rows = [
        [
            r.sku,
            r.available,
            f"{float(r.average_daily_units):.1f}",
            f"{float(r.days_of_cover):.1f}",
            r.quantity,
        ]
        for r in report.reorder
    ]
    headers = ["sku", "available", "per day", "days of cover", "order"]
    return _table(headers, rows, "No SKU is short of cover.")


def _oversell_table(skus: Sequence[SkuFigures]) -> str:
    rows = [
        [s.sku, f"{o.time:%Y-%m-%d %H:%M} UTC", o.channel or "-", o.order_id or "-", o.available]
        for s in skus
        for o in s.oversells
    ]
    headers = ["sku", "time", "channel", "order", "available after"]
    return _table(headers, rows, "No order took a unit that was not there.")
