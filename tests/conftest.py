"""Fixtures shared by every test: a clean environment, a shop on fake channels, a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import Shop


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OMNISYNC_* variable from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("OMNISYNC_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return Shop(tmp_path)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
