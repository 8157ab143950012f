"""What the ledger remembers: `orders`, `log`, `runs` and the `report`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from omnisync.cli.app import (
    app,
    app_context,
    check_channels,
    check_skus,
    parse_since,
    parse_time,
    stderr,
    stdout,
)
from omnisync.errors import UsageError
from omnisync.timeparse import utcnow

# What a command needs beyond typer is imported inside it: start-up is paid by every call.


@app.command()
def orders(
    ctx: typer.Context,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only this channel")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="pending, paid, shipped, completed, cancelled, returned"),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Updated since (ISO 8601, 2h, 7d)")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the order lines to this CSV file (for accounting)"),
    ] = None,
) -> None:
    """Every channel's orders in one list, newest update first."""
    from omnisync import render

    statuses = ("pending", "paid", "shipped", "completed", "cancelled", "returned")
    if status is not None and status not in statuses:
        raise UsageError(f"--status: expected one of {', '.join(statuses)}, got {status!r}")
    since_time = parse_since(since)  # a bad --since is exit 2 even before there is a ledger
    from omnisync.ledger import Ledger  # here, not at start-up: every command would pay for it

    app_ctx = app_context(ctx)
    config = app_ctx.optional_config()
    with Ledger.open(app_ctx.ledger_path(config), write=False) as ledger:
        check_channels(channel or (), config, ledger)
        resolve = None
        if config is not None:
            from omnisync.catalog import catalog_of

            resolve = catalog_of(ledger, config).resolve
        rows = ledger.list_orders(
            channels=channel or (), status=status, since=since_time, resolve=resolve
        )
    if csv_file is not None:
        from omnisync.analytics.export import write_order_lines

        try:
            with csv_file.open("w", encoding="utf-8", newline="") as out:
                count = write_order_lines(rows, out)
        except OSError as exc:
            raise UsageError(f"{csv_file}: cannot write it: {exc.strerror}") from None
        stderr().print(f"wrote {count} order lines to {csv_file}", markup=False)
    elif json_output:
        render.print_json(rows)
    else:
        render.orders_table(stdout(), rows)


@app.command("log")
def log_command(
    ctx: typer.Context,
    sku: Annotated[
        list[str] | None, typer.Option("--sku", help="Only this SKU (repeatable)")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Since (ISO 8601, 2h, 7d)")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many movements")] = 100,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Movements, newest first."""
    from omnisync import render

    since_time = parse_since(since)
    with app_context(ctx).ledger_only(write=False) as ledger:
        check_skus(sku or (), ledger)
        rows = ledger.movements(skus=sku or (), since=since_time, limit=limit)
    if json_output:
        render.print_json(rows)
    else:
        render.log_table(stdout(), rows)


@app.command()
def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Past runs: when, how long, per-channel counts, errors."""
    from omnisync import render

    with app_context(ctx).ledger_only(write=False) as ledger:
        rows = ledger.runs(limit=limit)
    if json_output:
        render.print_json(rows)
    else:
        render.runs_table(stdout(), rows)


@app.command()
def report(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Window start (ISO 8601, or 30d) [default: 30 days back]"),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Window end (ISO 8601, or 1d) [default: now]")
    ] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only this channel (repeatable)")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print every figure as JSON")] = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a page with charts to FILE")
    ] = None,
) -> None:
    """Per channel and per SKU performance, days of cover, reorder list, oversells."""
    from zoneinfo import ZoneInfo

    from omnisync import render
    from omnisync.analytics import build_report
    from omnisync.analytics.html import render_html
    from omnisync.analytics.terminal import print_report
    from omnisync.ledger import Ledger

    now = utcnow()
    until_time = parse_time("--until", until, now) or now
    since_time = parse_time("--since", since, now) or until_time - timedelta(days=30)
    if since_time >= until_time:
        raise UsageError(f"--since: the window must start before it ends ({until_time:%F %T}Z)")
    app_ctx = app_context(ctx)
    config = app_ctx.optional_config()
    with Ledger.open(app_ctx.ledger_path(config), write=False) as ledger:
        check_channels(channel or (), config, ledger)
        figures = build_report(
            ledger,
            since=since_time,
            until=until_time,
            now=now,
            timezone=ZoneInfo(config.timezone if config else "UTC"),
            reorder_days=config.reorder_days if config else 14,
            channels=channel or (),
        )
    if html is not None:
        try:
            html.write_text(render_html(figures), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{html}: cannot write it: {exc.strerror}") from None
        stderr().print(f"wrote {html}: open it in a browser", markup=False)
    if json_output:
        render.print_json(figures.to_dict())
    else:
        print_report(stdout(), figures)
