"""Setting up: `init`, `demo`, `check`, and `auth` to connect a marketplace shop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omnisync.cli.app import (
    app,
    app_context,
    stderr,
    stdout,
)
from omnisync.errors import ExitCode, UsageError

# What a command needs beyond typer is imported inside it: start-up is paid by every call.


@app.command()
def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing config")] = False,
) -> None:
    """Write a starter omnisync.toml (or keep yours) and create the ledger."""
    from omnisync.config import load_config
    from omnisync.ledger import Ledger
    from omnisync.starter import write_starter

    app_ctx = app_context(ctx)
    path = app_ctx.config_path
    # Only init makes a ledger, so it must also serve a config written by hand: keep that one.
    kept = path.exists() and not force
    if kept and app_ctx.ledger_path(load_config(path)).exists():
        raise UsageError(
            f"{path} and its ledger already exist; pass --force to overwrite the config"
        )
    backup = None if kept else write_starter(path, force=force)
    written = path
    config = load_config(written)
    ledger_path = app_ctx.ledger_path(config)
    try:
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{ledger_path.parent}: cannot create the folder: {exc.strerror}"
        ) from None
    existed = ledger_path.exists()
    Ledger.open(ledger_path, write=True, create=True).close()
    saved = f" (the one it replaced is kept as {backup})" if backup is not None else ""
    stdout().print(
        f"{'Kept' if kept else 'Wrote'} {written}{saved} and "
        f"{'kept' if existed else 'created'} the ledger {ledger_path}.\n"
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
    from omnisync import render
    from omnisync.demo import run_demo

    render.demo(stdout(), run_demo(directory))


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
    import asyncio

    from omnisync import render
    from omnisync.checks import run_check
    from omnisync.ledger import Ledger

    app_ctx = app_context(ctx)
    config = app_ctx.config(log_warnings=False)  # the report lists them, once
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
            {
                "ok": report.ok,
                "warnings": report.warnings,
                "channels": [c.to_dict() for c in report.channels],
                "unlisted_skus": report.unlisted_skus,
            },
        )
    else:
        render.check_report(stdout(), stderr(), report)
    raise typer.Exit(ExitCode.OK if report.ok else ExitCode.NEEDS_ATTENTION)


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
    import asyncio

    from omnisync.connect import authorizer_for, callback_answer, exchange_code
    from omnisync.ledger import Ledger

    app_ctx = app_context(ctx)
    config = app_ctx.config()
    answer = callback_answer(address, code=code, shop_id=shop_id)
    if answer is None:
        authorizer = authorizer_for(config, name, ledger=None)
        try:
            url = authorizer.authorization_url()
        finally:
            asyncio.run(authorizer.aclose())
        stdout().print(
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
    stdout().print(
        f"Connected {name} (shop {result.shop}){expiry}. Tokens are stored in the ledger; "
        f"next: `omnisync check`, then `omnisync sync --dry-run`.",
        markup=False,
    )
