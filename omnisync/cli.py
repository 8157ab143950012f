"""The command line: parse, build objects, call the library, render, exit. Nothing more."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from omnisync import __version__, render
from omnisync.checks import run_check
from omnisync.config import Config, load_config, resolve_config_path
from omnisync.errors import ExitCode, OmnisyncError, UsageError
from omnisync.ledger import Ledger
from omnisync.ledger.connection import ledger_error
from omnisync.queries import shown_by_sku
from omnisync.redact import REDACTOR, RedactingFilter
from omnisync.stock import add_stock, export_stock, import_stock, set_stock, sku_argument
from omnisync.sync import SyncOptions, run_sync
from omnisync.timeparse import parse_when, utcnow

log = logging.getLogger("omnisync")


class _Group(TyperGroup):
    """Turns every OmnisyncError into `Error: …` on stderr and its exit code, once."""

    def invoke(self, ctx: Any) -> Any:
        try:
            try:
                return super().invoke(ctx)
            except sqlite3.Error as exc:
                # The ledger maps its file errors itself, except one met while walking a
                # query's rows (see `omnisync.ledger.connection._Cursor`): mapped here.
                mapped = ledger_error(Path("the ledger"), exc)
                if mapped is None:
                    raise
                raise mapped from exc
        except OmnisyncError as exc:
            _err().print(f"Error: {REDACTOR.scrub(str(exc))}", markup=False, highlight=False)
            raise typer.Exit(int(exc.exit_code)) from None


class _StockGroup(TyperGroup):
    """`stock` alone, or `stock SKU… --low N`, lists; `stock set|add|import|export` act."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    help="Keep one seller's stock true on every sales channel.",
)
stock_app = typer.Typer(cls=_StockGroup, help="Stock per SKU; set, add, import and export it.")
app.add_typer(stock_app, name="stock")


@dataclass(slots=True)
class AppContext:
    config_option: Path | None
    ledger_option: Path | None
    quiet: bool

    @property
    def config_path(self) -> Path:
        return resolve_config_path(self.config_option)

    def config(self) -> Config:
        config = load_config(self.config_path)
        for warning in config.warnings:
            log.warning(warning)
        return config

    def ledger_path(self, config: Config | None) -> Path:
        if self.ledger_option is not None:
            return self.ledger_option
        assert config is not None
        return config.ledger_path

    def optional_config(self) -> Config | None:
        """The config, or None where `--ledger` alone is enough and there is no config file."""
        if self.ledger_option is not None and not self.config_path.exists():
            return None
        return self.config()

    def ledger_only(self, *, write: bool, create: bool = False) -> Ledger:
        """The ledger for commands that need no channels (only `create` ones may make it)."""
        path = self.ledger_path(self.optional_config())
        return Ledger.open(path, write=write, create=create)


def _out() -> Console:
    # Piped or redirected output is read by scripts and grep: never cut a cell there.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _ctx(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj


def _version(value: bool) -> None:
    if value:
        typer.echo(f"omnisync {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Config file [default: $OMNISYNC_CONFIG or ./omnisync.toml]"),
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option("--ledger", help="Ledger file, instead of the config's [ledger] path"),
    ] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log more (to stderr)")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print only problems")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version")
    ] = False,
) -> None:
    """Keep one seller's stock true on every sales channel."""
    # -q drops the summaries, never a warning: warnings are problems, and -q keeps those.
    level = logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("omnisync")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    ctx.obj = AppContext(config, ledger, quiet)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, now=utcnow())
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


# -- init and demo ---------------------------------------------------------------------------


@app.command()
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config")] = False,
) -> None:
    """Write a starter omnisync.toml (or keep yours) and create the ledger."""
    from omnisync.starter import write_starter

    app_ctx = _ctx(ctx)
    path = app_ctx.config_path
    # Only init makes a ledger, so it must also serve a config written by hand: keep that one.
    kept = path.exists() and not force
    if kept and app_ctx.ledger_path(load_config(path)).exists():
        raise UsageError(
            f"{path} and its ledger already exist; pass --force to overwrite the config"
        )
    written = path if kept else write_starter(path, force=force)
    config = load_config(written)
    ledger_path = app_ctx.ledger_path(config)
    try:
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{ledger_path.parent}: cannot create the folder: {exc.strerror}"
        ) from None
    Ledger.open(ledger_path, write=True, create=True).close()
    _out().print(
        f"{'Kept' if kept else 'Wrote'} {written} and created the ledger {ledger_path}.\n"
        "Next: import a stock-take (`omnisync stock import counts.csv`), add your channels "
        "to the config, then `omnisync check` and `omnisync sync --dry-run`.",
        markup=False,
    )


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Where to write the demo")] = Path(
        "omnisync-demo"
    ),
) -> None:
    """Make a self-contained demo (fake channels, sample orders) and run a sync on it."""
    from omnisync.demo import run_demo

    render.demo(_out(), run_demo(directory))


# -- check and sync --------------------------------------------------------------------------


@app.command()
def check(
    ctx: typer.Context,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Check the config only; judge listings from the last sync"),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON document")] = False,
) -> None:
    """Validate the config, reach each channel, and report listings that do not map."""
    app_ctx = _ctx(ctx)
    config = app_ctx.config()
    path = app_ctx.ledger_path(config)
    # Reaching a channel may refresh its tokens, which are saved in the ledger at once.
    ledger = Ledger.open(path, write=not offline, create=False) if path.exists() else None
    try:
        report = asyncio.run(run_check(config, ledger, offline=offline))
    finally:
        if ledger is not None:
            ledger.close()
    if json_output:
        render.print_json(
            _out(),
            {
                "ok": report.ok,
                "warnings": report.warnings,
                "channels": [c.to_dict() for c in report.channels],
                "unlisted_skus": report.unlisted_skus,
            },
        )
    else:
        render.check_report(_out(), _err(), report)
    raise typer.Exit(ExitCode.OK if report.ok else ExitCode.NEEDS_ATTENTION)


@app.command()
def sync(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the plan; write nothing to the ledger or channels"),
    ] = False,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only this channel (repeatable)")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Re-read orders from this time (ISO 8601, or 2h, 7d); "
            "on a channel's first sync, also its start time",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Push even when max_change would refuse it")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the run report as JSON only")
    ] = False,
) -> None:
    """Fetch orders from every channel, reconcile the ledger, push corrected quantities."""
    app_ctx = _ctx(ctx)
    config = app_ctx.config()
    options = SyncOptions(
        dry_run=dry_run, channels=tuple(channel or ()), since=_since(since), force=force
    )
    err = _err()
    # Never created here: a sync on a new, empty ledger would start every channel over.
    with Ledger.open(app_ctx.ledger_path(config), write=True, create=False) as ledger:
        if err.is_terminal and not json_output and not app_ctx.quiet:
            with err.status("Syncing…") as status:
                report = asyncio.run(
                    run_sync(config, ledger, options, progress=lambda m: status.update(m))
                )
        else:
            report = asyncio.run(run_sync(config, ledger, options))
    if json_output:
        render.print_json(_out(), report.to_dict())
    else:
        if not app_ctx.quiet:
            out = _out()
            render.sync_summary(out, report, show_changes=dry_run or out.is_terminal)
        render.sync_problems(err, report)
    raise typer.Exit(int(report.exit_code))


# -- stock -----------------------------------------------------------------------------------


@app.command()
def auth(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The channel's name in the config")],
    address: Annotated[
        str | None,
        typer.Argument(help="The whole address the browser was sent back to after approving"),
    ] = None,
    code: Annotated[
        str | None, typer.Option("--code", help="The code from that address, instead of it")
    ] = None,
    shop_id: Annotated[
        str | None, typer.Option("--shop-id", help="Shopee: the shop_id from that address")
    ] = None,
) -> None:
    """Connect a marketplace shop: print the address to approve omnisync, then store tokens."""
    from omnisync.connect import authorizer_for, callback_answer, exchange_code

    app_ctx = _ctx(ctx)
    config = app_ctx.config()
    answer = callback_answer(address, code=code, shop_id=shop_id)
    if answer is None:
        authorizer = authorizer_for(config, name, ledger=None)
        try:
            url = authorizer.authorization_url()
        finally:
            asyncio.run(authorizer.aclose())
        _out().print(
            "Open this address in a browser, sign in as the seller and approve omnisync:\n\n"
            f"  {url}\n\n"
            "The browser is then sent to the app's redirect address. Copy that whole address "
            f"and run:\n\n  omnisync auth {name} 'ADDRESS'",
            markup=False,
            soft_wrap=True,
        )
        return
    # Connecting a shop is part of setting one up: like `init`, it may make the ledger.
    with Ledger.open(app_ctx.ledger_path(config), write=True, create=True) as ledger:
        result = asyncio.run(exchange_code(config, name, answer, ledger=ledger))
    expiry = ""
    if result.access_expires_at is not None:
        expiry = f"; access token valid until {result.access_expires_at:%Y-%m-%d %H:%M} UTC"
    if result.refresh_expires_at is not None:
        expiry += f", renewable until {result.refresh_expires_at:%Y-%m-%d} UTC"
    _out().print(
        f"Connected {name} (shop {result.shop}){expiry}. Tokens are stored in the ledger; "
        f"next: `omnisync check`, then `omnisync sync --dry-run`.",
        markup=False,
    )


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
    app_ctx = _ctx(ctx)
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
            _out(),
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
        render.stock_table(_out(), rows, shown, channels)


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
    with _ctx(ctx).ledger_only(write=True) as ledger:
        row = set_stock(ledger, sku, quantity, reason=reason, now=utcnow(), create=new, name=name)
    _out().print(
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
    with _ctx(ctx).ledger_only(write=True) as ledger:
        on_hand = add_stock(ledger, sku, delta, reason=reason, now=utcnow(), create=new, name=name)
    _out().print(f"{sku}: {delta:+d}, on_hand now {on_hand}", markup=False)


@stock_app.command("import")
def stock_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with columns sku,on_hand[,name]")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """A stock-take: set each SKU's on_hand from a CSV; unknown SKUs are created."""
    # A stock-take is how a shop starts: it may make the ledger, as `init` does.
    with _ctx(ctx).ledger_only(write=True, create=True) as ledger:
        counted = import_stock(ledger, file, now=utcnow())
    if json_output:
        render.print_json(
            _out(),
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
    render.counted_table(_out(), counted)
    new = sum(1 for c in counted if c.new)
    _out().print(f"{len(counted)} SKUs counted, {new} new", markup=False)


@stock_app.command("export")
def stock_export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Write here instead of stdout")] = None,
) -> None:
    """Write every SKU's on_hand as CSV (sku,on_hand,name)."""
    with _ctx(ctx).ledger_only(write=False) as ledger:
        if file is None:
            export_stock(ledger, sys.stdout)
            return
        try:
            out = file.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise UsageError(f"{file}: cannot write it: {exc.strerror}") from None
        with out:
            count = export_stock(ledger, out)
    _err().print(f"wrote {count} SKUs to {file}", markup=False)


# -- history ---------------------------------------------------------------------------------


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
    statuses = ("pending", "paid", "shipped", "completed", "cancelled", "returned")
    if status is not None and status not in statuses:
        raise UsageError(f"--status: expected one of {', '.join(statuses)}, got {status!r}")
    since_time = _since(since)  # a bad --since is exit 2 even before there is a ledger
    with _ctx(ctx).ledger_only(write=False) as ledger:
        rows = ledger.list_orders(channels=channel or (), status=status, since=since_time)
    if csv_file is not None:
        from omnisync.analytics.export import write_order_lines

        try:
            with csv_file.open("w", encoding="utf-8", newline="") as out:
                count = write_order_lines(rows, out)
        except OSError as exc:
            raise UsageError(f"{csv_file}: cannot write it: {exc.strerror}") from None
        _err().print(f"wrote {count} order lines to {csv_file}", markup=False)
    elif json_output:
        render.print_json(_out(), rows)
    else:
        render.orders_table(_out(), rows)


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
    since_time = _since(since)
    with _ctx(ctx).ledger_only(write=False) as ledger:
        rows = ledger.movements(skus=sku or (), since=since_time, limit=limit)
    if json_output:
        render.print_json(_out(), rows)
    else:
        render.log_table(_out(), rows)


@app.command()
def runs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Past runs: when, how long, per-channel counts, errors."""
    with _ctx(ctx).ledger_only(write=False) as ledger:
        rows = ledger.runs(limit=limit)
    if json_output:
        render.print_json(_out(), rows)
    else:
        render.runs_table(_out(), rows)


channels_app = typer.Typer(help="Each channel's state; `channels reset` corrects a start time.")
app.add_typer(channels_app, name="channels")


@channels_app.callback(invoke_without_command=True)
def channels(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Each channel: type, start time, cursor, last run's outcome."""
    if ctx.invoked_subcommand is not None:
        return
    app_ctx = _ctx(ctx)
    config = app_ctx.config()
    path = app_ctx.ledger_path(config)
    states = {}
    if path.exists():
        with Ledger.open(path, write=False) as ledger:
            states = {state.channel: state for state in ledger.channel_states()}
    rows = render.channel_rows(
        [(c.name, c.type, c.enabled) for c in config.channels.values()], states
    )
    if json_output:
        render.print_json(_out(), rows)
    else:
        render.channels_table(_out(), rows)


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

    from omnisync.analytics import build_report
    from omnisync.analytics.html import render_html
    from omnisync.analytics.terminal import print_report

    now = utcnow()
    until_time = _when("--until", until, now) or now
    since_time = _when("--since", since, now) or until_time - timedelta(days=30)
    if since_time >= until_time:
        raise UsageError(f"--since: the window must start before it ends ({until_time:%F %T}Z)")
    app_ctx = _ctx(ctx)
    config = app_ctx.optional_config()
    with Ledger.open(app_ctx.ledger_path(config), write=False) as ledger:
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
        _err().print(f"wrote {html}: open it in a browser", markup=False)
    if json_output:
        render.print_json(_out(), figures.to_dict())
    else:
        print_report(_out(), figures)


def _when(option: str, value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, now=now)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


@channels_app.command("reset")
def channels_reset(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The channel's name in the config")],
    since: Annotated[
        str,
        typer.Option("--since", help="Its new start time (ISO 8601, or 2h, 7d; not in the future)"),
    ],
) -> None:
    """Correct a channel's start time: orders are re-read from WHEN; nothing is rewritten."""
    from omnisync.sync.channel import reset_start_time, shown

    app_ctx = _ctx(ctx)
    config = app_ctx.config()
    if name not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none"
        raise UsageError(f"no channel named {name!r} in {config.path} ({known})")
    when = _since(since)
    assert when is not None
    with Ledger.open(app_ctx.ledger_path(config), write=True, create=False) as ledger:
        old = reset_start_time(ledger, config.channels[name], since=when, now=utcnow())
    before = f" (was {shown(old)})" if old else ""
    _out().print(
        f"{name}: start time {shown(when)}{before}; the next sync re-reads its orders from then.",
        markup=False,
    )


def main() -> None:
    """The `omnisync` entry point."""
    app()
