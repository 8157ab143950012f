"""Every command's --help shows its options' help as written.

Help text goes through rich markup, where `[locations]` is a style tag and vanishes: the help
then read "a name under )". Each bracketed word in any option's help must reach the screen.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.testing import CliRunner

from omnisync.cli import app


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(command path, command) of every command under a group (typer's own click types)."""
    found = []
    for name, command in getattr(group, "commands", {}).items():
        found.append(((*path, name), command))
        found += _commands(command, (*path, name))
    return found


def test_bracketed_words_in_option_help_are_shown() -> None:
    checked = 0
    for path, command in _commands(typer.main.get_command(app)):
        wanted = [
            word
            for param in command.params
            for word in re.findall(r"\[[^\]\s]+\]", getattr(param, "help", None) or "")
        ]
        if not wanted:
            continue
        shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=200).stdout
        for word in wanted:
            assert word in shown, f"omnisync {' '.join(path)} --help lost {word}"
        checked += 1
    assert checked  # `stock set --location` at least says "[locations]"
