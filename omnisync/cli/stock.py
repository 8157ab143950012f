"""`stock`: list, set, add, import and export stock per SKU."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from omnisync import render
from omnisync.cli.app import (
    app_context,
    stderr,
    stdout,
    stock_app,
)
from omnisync.errors import UsageError
from omnisync.ledger import Ledger
from omnisync.queries import shown_by_sku
from omnisync.stock import add_stock, export_stock, import_stock, set_stock, sku_argument
from omnisync.timeparse import utcnow


@stock_app.command("list")
def stock_list(
    ctx: typer.Context,
    skus: Annotated[list[str] | None, typer.Argument(help="Only these SKUs")] = None,
    low: Annotated[
        int | None, typer.Option("--low", help="Only SKUs with at most N available")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """on_hand, committed and available per SKU, and what each channel was last pushed."""
    app_ctx = app_context(ctx)
    config = app_ctx.optional_config()
    skus = [sku_argument(sku) for sku in skus or ()]  # as `stock set` spells them
    with Ledger.open(app_ctx.ledger_path(config), write=False) as ledger:
        balances = ledger.balances(skus or None)
        missing = [sku for sku in skus or () if sku not in balances]
        if missing:
            raise UsageError(f"unknown SKU {', '.join(missing)}")
        shown = shown_by_sku(ledger, config)
        channels = [state.channel for state in ledger.channel_states()]
    rows = [b for b in balances.values() if low is None or b.available <= low]
    if json_output:
        render.print_json(
            stdout(),
            [
                {
                    "sku": b.sku,
                    "name": b.name,
                    "on_hand": b.on_hand,
                    "committed": b.committed,
                    "available": b.available,
                    "channels": dict(shown.get(b.sku, {})),
                }
                for b in rows
            ],
        )
    else:
        render.stock_table(stdout(), rows, shown, channels)


@stock_app.command("set")
def stock_set(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The SKU")],
    quantity: Annotated[int, typer.Argument(help="The counted on_hand")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the log)")] = "count",
    new: Annotated[bool, typer.Option("--new", help="Create the SKU if it is unknown")] = False,
    name: Annotated[str, typer.Option("--name", help="The SKU's name")] = "",
) -> None:
    """Record a counted quantity: the difference becomes a movement."""
    with app_context(ctx).ledger_only(write=True) as ledger:
        row = set_stock(ledger, sku, quantity, reason=reason, now=utcnow(), create=new, name=name)
    stdout().print(
        f"{row.sku}: on_hand {row.expected} → {row.counted} ({row.variance:+d})", markup=False
    )


# A write-off is typed as `stock add MUG -2`: "-2" is a number here, not an option.
@stock_app.command("add", context_settings={"ignore_unknown_options": True})
def stock_add(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The SKU")],
    delta: Annotated[int, typer.Argument(help="Units received (or negative: written off)")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the log)")] = "adjust",
    new: Annotated[bool, typer.Option("--new", help="Create the SKU if it is unknown")] = False,
    name: Annotated[str, typer.Option("--name", help="The SKU's name")] = "",
) -> None:
    """Record a receipt or an adjustment as a movement."""
    with app_context(ctx).ledger_only(write=True) as ledger:
        on_hand = add_stock(ledger, sku, delta, reason=reason, now=utcnow(), create=new, name=name)
    stdout().print(f"{sku}: {delta:+d}, on_hand now {on_hand}", markup=False)


@stock_app.command("import")
def stock_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with columns sku,on_hand[,name]")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """A stock-take: set each SKU's on_hand from a CSV; unknown SKUs are created."""
    # A stock-take is how a shop starts: it may make the ledger, as `init` does.
    with app_context(ctx).ledger_only(write=True, create=True) as ledger:
        counted = import_stock(ledger, file, now=utcnow())
    if json_output:
        render.print_json(
            stdout(),
            [
                {
                    "sku": c.sku,
                    "expected": c.expected,
                    "counted": c.counted,
                    "variance": c.variance,
                    "new": c.new,
                }
                for c in counted
            ],
        )
        return
    render.counted_table(stdout(), counted)
    new = sum(1 for c in counted if c.new)
    stdout().print(f"{len(counted)} SKUs counted, {new} new", markup=False)


@stock_app.command("export")
def stock_export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Write here instead of stdout")] = None,
) -> None:
    """Write every SKU's on_hand as CSV (sku,on_hand,name)."""
    with app_context(ctx).ledger_only(write=False) as ledger:
        if file is None:
            export_stock(ledger, sys.stdout)
            return
        try:
            out = file.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise UsageError(f"{file}: cannot write it: {exc.strerror}") from None
        with out:
            count = export_stock(ledger, out)
    stderr().print(f"wrote {count} SKUs to {file}", markup=False)
