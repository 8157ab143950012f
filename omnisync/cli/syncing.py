"""The main job, `sync`, and the channels' state: `channels`, `channels reset`."""

from __future__ import annotations

from typing import Annotated

import typer

from omnisync.cli.app import (
    app,
    app_context,
    channels_app,
    parse_since,
    stderr,
    stdout,
)
from omnisync.errors import UsageError
from omnisync.timeparse import utcnow

# What a command needs beyond typer is imported inside it: start-up is paid by every call.


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
    import asyncio

    from omnisync.ledger import Ledger
    from omnisync.sync import SyncOptions, run_sync

    app_ctx = app_context(ctx)
    config = app_ctx.config()
    options = SyncOptions(
        dry_run=dry_run, channels=tuple(channel or ()), since=parse_since(since), force=force
    )
    # rich (the spinner, the tables) is loaded only when a person may watch the run, or
    # there is something to show: a `--json` run, or a `-q` one with no problem, never does.
    err = None if json_output or app_ctx.quiet else stderr()
    # Never created here: a sync on a new, empty ledger would start every channel over.
    with Ledger.open(app_ctx.ledger_path(config), write=True, create=False) as ledger:
        if err is not None and err.is_terminal:
            with err.status("Syncing…") as status:
                report = asyncio.run(
                    run_sync(config, ledger, options, progress=lambda m: status.update(m))
                )
        else:
            report = asyncio.run(run_sync(config, ledger, options))
    from omnisync import render

    if json_output:
        render.print_json(report.to_dict())
    else:
        if not app_ctx.quiet:
            out = stdout()
            render.sync_summary(out, report, show_changes=dry_run or out.is_terminal)
        if render.has_problems(report):
            render.sync_problems(err or stderr(), report)
    raise typer.Exit(int(report.exit_code))


@channels_app.callback(invoke_without_command=True)
def channels(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Each channel: type, start time, cursor, last run's outcome."""
    if ctx.invoked_subcommand is not None:
        return
    from omnisync import render
    from omnisync.ledger import Ledger

    app_ctx = app_context(ctx)
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
        render.print_json(rows)
    else:
        render.channels_table(stdout(), rows)


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
    from omnisync.ledger import Ledger
    from omnisync.sync.channel import reset_start_time, shown

    app_ctx = app_context(ctx)
    config = app_ctx.config()
    if name not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none"
        raise UsageError(f"no channel named {name!r} in {config.path} ({known})")
    when = parse_since(since)
    assert when is not None
    with Ledger.open(app_ctx.ledger_path(config), write=True, create=False) as ledger:
        old = reset_start_time(ledger, config.channels[name], since=when, now=utcnow())
    before = f" (was {shown(old)})" if old else ""
    stdout().print(
        f"{name}: start time {shown(when)}{before}; the next sync re-reads its orders from then.",
        markup=False,
    )
