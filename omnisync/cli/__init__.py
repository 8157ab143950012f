"""The command line: parse, build objects, call the library, render, exit. Nothing more.

Commands live by group, each module registering its own on the one typer `app`:
`setup` (init, demo, check, auth), `syncing` (sync, channels), `stock`, `history` (orders,
log, runs, report). `app.py` holds what they share.
"""

# ruff: noqa: I001 - commands are registered, and so listed by --help, in import order
from __future__ import annotations

from omnisync.cli.app import app
from omnisync.cli import setup, syncing, stock, history  # noqa: F401 - registers the commands

__all__ = ["app", "main"]


def main() -> None:
    """The `omnisync` entry point."""
    app()
