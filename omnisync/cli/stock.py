"""`stock`: list, set, add, move, import and export stock per SKU and location."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from omnisync.cli.app import (
    app_context,
    stderr,
    stdout,
    stock_app,
)
from omnisync.errors import UsageError
from omnisync.timeparse import utcnow

# The stock operations, the ledger and rendering are imported by the commands that use them:
# every other command (cron's `sync`, `--version`) would pay for them at start-up.
if TYPE_CHECKING:
    from omnisync.ledger import Ledger

LOCATION_OPTION = typer.Option("--location", help="The location (a name under \\[locations])")


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
    from omnisync import render
    from omnisync.ledger import Ledger
    from omnisync.queries import shown_by_sku
    from omnisync.stock import sku_argument

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
        by_location = ledger.by_location(skus or None)
        # The config's locations in its order, then any the ledger holds stock at besides.
        named = list(config.locations) if config is not None else ["main"]
        places = list(dict.fromkeys([*named, *sorted(ledger.stock_locations())]))
    rows = [b for b in balances.values() if low is None or b.available <= low]
    if json_output:
        render.print_json(
            [
                {
                    "sku": b.sku,
                    "name": b.name,
                    "on_hand": b.on_hand,
                    "committed": b.committed,
                    "available": b.available,
                    "channels": dict(shown.get(b.sku, {})),
                    "locations": {
                        place: {
                            "on_hand": there.on_hand,
                            "committed": there.committed,
                            "available": there.available,
                        }
                        for place, there in by_location.get(b.sku, {}).items()
                    },
                }
                for b in rows
            ],
        )
    else:
        # One location is the whole shop: its column would only repeat `available`.
        render.stock_table(
            stdout(), rows, shown, channels, by_location if len(places) > 1 else {}, places
        )


@stock_app.command("set")
def stock_set(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The SKU")],
    quantity: Annotated[int, typer.Argument(help="The counted on_hand")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the log)")] = "count",
    new: Annotated[bool, typer.Option("--new", help="Create the SKU if it is unknown")] = False,
    name: Annotated[str, typer.Option("--name", help="The SKU's name")] = "",
    location: Annotated[str, LOCATION_OPTION] = "main",
) -> None:
    """Record a counted quantity: the difference becomes a movement."""
    from omnisync.stock import location_argument, set_stock

    with _ledger(ctx, write=True) as (ledger, known):
        row = set_stock(
            ledger,
            sku,
            quantity,
            reason=reason,
            now=utcnow(),
            create=new,
            name=name,
            location=location_argument(location, known),
        )
    at = "" if location == "main" else f" at {location}"
    stdout().print(
        f"{row.sku}: on_hand{at} {row.expected} → {row.counted} ({row.variance:+d})",
        markup=False,
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
    location: Annotated[str, LOCATION_OPTION] = "main",
    force: Annotated[
        bool, typer.Option("--force", help="Record a write-off that takes on_hand below 0")
    ] = False,
) -> None:
    """Record a receipt or an adjustment as a movement."""
    from omnisync.stock import add_stock, location_argument

    with _ledger(ctx, write=True) as (ledger, known):
        on_hand = add_stock(
            ledger,
            sku,
            delta,
            reason=reason,
            now=utcnow(),
            create=new,
            name=name,
            location=location_argument(location, known),
            force=force,
        )
    at = "" if location == "main" else f" at {location}"
    stdout().print(f"{sku}: {delta:+d}, on_hand{at} now {on_hand}", markup=False)


@stock_app.command("move")
def stock_move(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The SKU")],
    quantity: Annotated[int, typer.Argument(help="Units to move")],
    source: Annotated[str, typer.Option("--from", help="The location they leave")],
    destination: Annotated[str, typer.Option("--to", help="The location they arrive at")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the log)")] = "transfer",
    force: Annotated[
        bool, typer.Option("--force", help="Move more than is available at --from")
    ] = False,
) -> None:
    """A transfer between locations: two movements, written together or not at all."""
    from omnisync.stock import location_argument, move_stock

    with _ledger(ctx, write=True) as (ledger, known):
        moved = move_stock(
            ledger,
            sku,
            quantity,
            source=location_argument(source, known, option="--from"),
            destination=location_argument(destination, known, option="--to"),
            reason=reason,
            now=utcnow(),
            force=force,
        )
    stdout().print(
        f"{moved.sku}: moved {moved.quantity} from {moved.source} to {moved.destination}; "
        f"available now {moved.source_available} at {moved.source}, "
        f"{moved.destination_available} at {moved.destination}",
        markup=False,
    )


@stock_app.command("import")
def stock_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with columns sku,on_hand[,name][,location]")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    location: Annotated[str, LOCATION_OPTION] = "main",
) -> None:
    """A stock-take: set each SKU's on_hand from a CSV; unknown SKUs are created."""
    from omnisync import render
    from omnisync.stock import import_stock, location_argument

    # A stock-take is how a shop starts: it may make the ledger, as `init` does.
    with _ledger(ctx, write=True, create=True) as (ledger, known):
        counted = import_stock(
            ledger, file, now=utcnow(), location=location_argument(location, known), known=known
        )
    if json_output:
        render.print_json(
            [
                {
                    "sku": c.sku,
                    "expected": c.expected,
                    "counted": c.counted,
                    "variance": c.variance,
                    "new": c.new,
                    "location": c.location,
                }
                for c in counted
            ],
        )
        return
    render.counted_table(stdout(), counted)
    new = sum(1 for c in counted if c.new)
    stdout().print(f"{len(counted):,} SKUs counted, {new:,} new", markup=False)


@stock_app.command("export")
def stock_export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Write here instead of stdout")] = None,
    location: Annotated[
        str | None,
        typer.Option(
            "--location",
            help="Only this location's on_hand [default: every location, with a location "
            "column once stock is kept in more than one]",
        ),
    ] = None,
) -> None:
    """Write every SKU's on_hand as CSV (sku,on_hand,name; sku,location,on_hand,name)."""
    from omnisync.stock import export_stock, location_argument

    with _ledger(ctx, write=False) as (ledger, known):
        if location is not None:
            location_argument(location, known)
        if file is None:
            export_stock(ledger, sys.stdout, location=location)
            return
        try:
            out = file.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise UsageError(f"{file}: cannot write it: {exc.strerror}") from None
        with out:
            count = export_stock(ledger, out, location=location)
    stderr().print(f"wrote {count} rows to {file}", markup=False)


@contextmanager
def _ledger(
    ctx: typer.Context, *, write: bool, create: bool = False
) -> Iterator[tuple[Ledger, list[str]]]:
    """The ledger, and the locations a command may name (the config's, else the ledger's)."""
    from omnisync.ledger import Ledger
    from omnisync.stock import known_locations

    app_ctx = app_context(ctx)
    config = app_ctx.optional_config()  # read once: it names the ledger and the locations
    with Ledger.open(app_ctx.ledger_path(config), write=write, create=create) as ledger:
        named = list(config.locations) if config is not None else None
        yield ledger, known_locations(named, ledger)
