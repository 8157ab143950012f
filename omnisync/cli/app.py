"""What every command shares: the typer app and its groups, global options, consoles."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from omnisync import __version__
from omnisync.errors import ExitCode, OmnisyncError, UsageError
from omnisync.redact import REDACTOR, RedactingFilter
from omnisync.timeparse import parse_when, utcnow

# The config (pydantic), the ledger and rich are imported by the commands that use them, never
# at start-up: `--version`, `--help` and cron's every call would pay for them otherwise.
if TYPE_CHECKING:
    from rich.console import Console

    from omnisync.config import Config
    from omnisync.ledger import Ledger

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
                from omnisync.ledger.connection import ledger_error

                mapped = ledger_error(Path("the ledger"), exc)
                if mapped is None:
                    raise
                raise mapped from exc
        except OmnisyncError as exc:
            stderr().print(f"Error: {REDACTOR.scrub(str(exc))}", markup=False, highlight=False)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            # Ctrl-C: every write is a transaction, so the ledger holds what was committed and
            # nothing half-done; a sync stopped here shows as interrupted in `omnisync runs`.
            stderr().print(
                "Interrupted: the ledger keeps what was committed before, nothing half-done. "
                "Run the command again to finish.",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


class _StockGroup(TyperGroup):
    """`stock` alone, or `stock SKU… --low N`, lists; `stock set|add|move|import|export` act."""

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
stock_app = typer.Typer(
    cls=_StockGroup, help="Stock per SKU and location; set, add, move, import and export it."
)
app.add_typer(stock_app, name="stock")


@dataclass(slots=True)
class AppContext:
    config_option: Path | None
    ledger_option: Path | None
    quiet: bool

    @property
    def config_path(self) -> Path:
        from omnisync.config import resolve_config_path

        return resolve_config_path(self.config_option)

    def config(self, *, log_warnings: bool = True) -> Config:
        """The config; its warnings are logged, unless the command reports them itself."""
        from omnisync.config import load_config

        config = load_config(self.config_path)
        for warning in config.warnings if log_warnings else ():
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
        from omnisync.ledger import Ledger

        path = self.ledger_path(self.optional_config())
        return Ledger.open(path, write=write, create=create)


# Text is printed as it is: a SKU or order id like "A:tea:B" is not turned into an emoji (and
# rich's emoji table, 2 ms to load, is not read on every run).
def stdout() -> Console:
    from rich.console import Console

    # Piped or redirected output is read by scripts and grep: never cut a cell there.
    return Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 200)


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)


def app_context(ctx: typer.Context) -> AppContext:
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
        typer.Option("--ledger", help="Ledger file, instead of the config's ledger path"),
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


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, now=utcnow())
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


channels_app = typer.Typer(help="Each channel's state; `channels reset` corrects a start time.")
app.add_typer(channels_app, name="channels")


def parse_time(option: str, value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, now=now)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def check_channels(names: Sequence[str], config: Config | None, ledger: Ledger) -> None:
    """`--channel` of a history command: one in the config or with orders in the ledger."""
    known = sorted({*(config.channels if config else ()), *ledger.order_channels()})
    for name in names:
        if name not in known:
            raise UsageError(
                f"--channel {name}: no such channel in the config or the ledger's orders "
                f"(known: {', '.join(known) or 'none'})"
            )


def check_skus(names: Sequence[str], ledger: Ledger) -> None:
    """`--sku` of a history command: a SKU the ledger knows; a long list names near ones."""
    known = sorted(ledger.known_skus())
    for name in names:
        if name not in known:
            shown = known
            if len(known) > 20:
                import difflib  # only for this message

                close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
                shown = [*close, f"… {len(known)} in all: see `omnisync stock`"]
            raise UsageError(
                f"--sku {name}: no such SKU in the ledger (known: {', '.join(shown) or 'none'})"
            )
