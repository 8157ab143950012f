"""Start-up pays only for what a command uses: `--help` no config, a file-only shop no httpx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from omnisync.channels import CHANNEL_TYPES
from tests.helpers import Shop, listing

ADAPTERS = ("csvfile", "lazada", "shopee", "shopify", "tiktok", "woocommerce")

# Runs the CLI in a fresh interpreter and prints, as JSON, which modules it imported.
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["omnisync", *sys.argv[1:]]
from omnisync.cli import main
main()
"""


def imported_by(*args: str, cwd: Path | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    last = done.stderr.strip().splitlines()[-1]
    return set(json.loads(last))


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("sync", "--help")])
def test_version_and_help_import_no_config_ledger_or_channel(args: tuple[str, ...]) -> None:
    modules = imported_by(*args)
    assert "omnisync.cli.syncing" in modules  # the commands are registered, so listed
    for heavy in ("httpx", "omnisync.config", "omnisync.ledger", "omnisync.channels"):
        assert heavy not in modules, heavy


def test_a_sync_of_fake_channels_imports_no_http_adapter(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    shop.write_channel("web", listings=[listing("L1", "MUG", 5)])
    shop.write_config({"web": {}})
    modules = imported_by("--config", str(shop.config), "sync", cwd=tmp_path)
    assert "omnisync.channels.fake" in modules  # the run did reach its channel
    assert "httpx" not in modules
    for adapter in ADAPTERS:
        assert f"omnisync.channels.{adapter}" not in modules, adapter


def test_channel_types_are_known_before_their_modules_load() -> None:
    assert sorted(CHANNEL_TYPES) == [
        "csv",
        "fake",
        "lazada",
        "shopee",
        "shopify",
        "tiktok",
        "woocommerce",
    ]
    assert "nosuch" not in CHANNEL_TYPES
    with pytest.raises(KeyError):
        CHANNEL_TYPES["nosuch"]
    assert CHANNEL_TYPES["csv"].http is False
    assert CHANNEL_TYPES["shopify"].settings.__name__ == "ShopifySettings"
