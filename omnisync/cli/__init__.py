"""The command line: parse, build objects, call the library, render, exit. Nothing more.

Commands live by group, each module registering its own on the one typer `app`:
`setup` (init, demo, check, auth), `syncing` (sync, channels), `stock`, `history` (orders,
log, runs, report). `app.py` holds what they share.
"""

# ruff: noqa: I001 - commands are registered, and so listed by --help, in import order
from __future__ import annotations

import copy
import sys
from collections.abc import Sequence

import typer
from typer.main import get_command_name

from omnisync.cli.app import app
from omnisync.cli import setup, syncing, stock, history  # noqa: F401 - registers the commands

__all__ = ["ROOT_VALUE_OPTIONS", "app", "main", "only_the_command"]

# The global options that take a value: the word after one is that value, not a command.
ROOT_VALUE_OPTIONS = frozenset({"--config", "--ledger"})


def main() -> None:
    """The `omnisync` entry point."""
    only_the_command(app, sys.argv[1:])()


def only_the_command(whole: typer.Typer, args: Sequence[str]) -> typer.Typer:
    """`whole` holding only the command `args` run, or `whole` itself when unsure which.

    typer builds every command's click parameters (evaluating each one's annotations) before
    it runs one: ~10 ms of each cron `sync` for the other commands. A command line that names
    none, names an unknown one (to be told the near ones), or asks `--help` before the
    command name (to list them all) gets every command, as without this.
    """
    value_next = False
    for arg in args:
        if value_next:
            value_next = False
        elif arg in ROOT_VALUE_OPTIONS:
            value_next = True
        elif arg in ("--help", "--"):
            return whole
        elif not arg.startswith("-"):
            commands = [
                info
                for info in whole.registered_commands
                if (info.name or get_command_name(getattr(info.callback, "__name__", ""))) == arg
            ]
            groups = [info for info in whole.registered_groups if info.name == arg]
            if not commands and not groups:
                return whole
            # A copy with new lists: `whole` keeps every command (tests invoke it in-process).
            only = copy.copy(whole)
            only.registered_commands = commands
            only.registered_groups = groups
            return only
    return whole
