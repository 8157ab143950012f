"""The README and the code are checked against each other: commands, exit codes, config keys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from omnisync import config
from omnisync.channels import CHANNEL_TYPES
from omnisync.cli import app
from omnisync.errors import ExitCode

README = Path(__file__).parent.parent / "README.md"
CLI: Any = typer.main.get_command(app)
STOCK: Any = CLI.commands["stock"]

COMMANDS = sorted(name for name in CLI.commands if name != "stock")
# `stock list` is spelled `stock` (with SKUs or --low) in the docs, as users type it.
STOCK_COMMANDS = sorted(name for name in STOCK.commands if name != "list")
CONFIG_KEYS = sorted(
    set(config.TOP_LEVEL_KEYS)
    | set(config.LEDGER_KEYS)
    | set(config.SYNC_KEYS)
    | set(config.REPORT_KEYS)
    | set(config.COMMON_KEYS)
    | set(config.HTTP_KEYS)
    | {key for kind in CHANNEL_TYPES.values() for key in kind.settings.model_fields}
)


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def _mentions_command(readme: str, words: str) -> bool:
    """`omnisync [global options] WORDS`, or WORDS at the start of a code span (a table)."""
    spelled = re.escape(words).replace(r"\ ", r"\s+")
    return bool(
        re.search(rf"omnisync(\s+--?\S+(\s+[^\s-]\S*)?)*\s+{spelled}\b", readme)
        or re.search(rf"`{spelled}\b", readme)
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(readme: str, command: str) -> None:
    assert _mentions_command(readme, command), f"README.md does not show `omnisync {command}`"


@pytest.mark.parametrize("command", ["stock", *(f"stock {sub}" for sub in STOCK_COMMANDS)])
def test_every_stock_command_is_in_the_readme(readme: str, command: str) -> None:
    assert _mentions_command(readme, command), f"README.md does not show `omnisync {command}`"


@pytest.mark.parametrize("code", [int(code) for code in ExitCode])
def test_every_exit_code_is_in_the_readme(readme: str, code: int) -> None:
    assert re.search(rf"(\|\s*`?{code}`?\s*\|)|(\bexits?(\s+code)?\s+`?{code}\b)", readme), (
        f"README.md does not document exit code {code}"
    )


def test_every_exit_code_in_the_readme_exists(readme: str) -> None:
    section = re.search(r"^#+ [^\n]*[Ee]xit codes?[^\n]*$(.*?)(?=^#+ |\Z)", readme, re.M | re.S)
    assert section, "README.md has no 'Exit codes' section"
    documented = {int(code) for code in re.findall(r"^\|\s*`?(\d+)`?\s*\|", section[1], re.M)}
    assert documented, "the README's exit code section has no table of codes"
    assert documented == {int(code) for code in ExitCode}


@pytest.mark.parametrize("key", CONFIG_KEYS)
def test_every_config_key_is_in_the_readme(readme: str, key: str) -> None:
    pattern = rf"(`{key}`)|(^\s*\[?{key}\]?\s*(=|$))|(\[{key}[.\]])|(`{key}\s*=)"
    assert re.search(pattern, readme, re.M), f"README.md does not describe config key {key!r}"


def test_every_command_has_help_text() -> None:
    for name, command in [*CLI.commands.items(), *STOCK.commands.items()]:
        assert command.help and command.help.strip(), f"`{name}` has no help text"
        for param in command.params:
            if param.param_type_name == "option":
                assert getattr(param, "help", None), f"`{name} {param.opts[0]}` has no help"
