"""`omnisync demo`: what a newcomer runs first must work, twice, and do what it says."""

from __future__ import annotations

import json
import os
import shlex
import sys
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnisync.cli import app
from omnisync.config import load_config


def run(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def demo(tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Any]:
    # As in an activated venv: `omnisync` is on PATH, so the demo suggests it by that name.
    bin_dir = Path(sys.executable).parent
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    directory = tmp_path / "demo"
    result = run(runner, "demo", str(directory))
    assert result.exit_code == 0, result.output
    return directory, result


def test_demo_prints_the_summary_and_the_problems_it_plants(demo: tuple[Path, Any]) -> None:
    directory, result = demo

    out = result.stdout
    assert out.startswith(f"Demo shop written to {directory}/: 20 SKUs counted in")
    summary = {line.split()[0]: line.split()[1:] for line in out.splitlines() if " ok " in line}
    assert set(summary) == {"shopee", "tokopedia", "toko"}
    assert (
        "oversold: BATIK-PRG-XL is at -1 available (last units taken by shopee:SHP20005); "
        "pushed 0 everywhere. To clear it, count it and run `omnisync stock set BATIK-PRG-XL N` "
        "with the count (or cancel an order it cannot fill)\n"
    ) in out
    assert "unmapped: tokopedia SKU 'SCARF-SUTRA-01' maps to no SKU (orders TKP20007)" in out
    assert "Try next:" in out


def test_after_the_demo_every_listing_shows_its_target(
    demo: tuple[Path, Any], runner: CliRunner
) -> None:
    directory, _ = demo
    config = load_config(directory / "omnisync.toml")
    stock = json.loads(run(runner, "--config", str(config.path), "stock", "--json").stdout)
    available = {row["sku"]: row["available"] for row in stock}

    checked = 0
    for name, channel in config.channels.items():
        if channel.type == "csv":
            continue  # the till, below
        content = json.loads((directory / "fake" / f"{name}.json").read_text())
        for item in content["listings"]:
            sku = config.mapping.get(name, {}).get(item["sku"], item["sku"])
            parts = config.bundles.get(sku, {sku: 1})
            units = min(available[part] // count for part, count in parts.items())
            target = max(0, floor(max(units, 0) * Fraction(channel.share)) - channel.buffer)
            assert item["quantity"] == target, (name, item)
            checked += 1
    assert checked == 42
    assert available["BATIK-PRG-XL"] == -1
    # The till at the shop lists every SKU the shop holds, at what is available there.
    at_shop = {
        row["sku"]: row["locations"]["store"]["available"]
        for row in stock
        if "store" in row["locations"]
    }
    rows = (directory / "till" / "stock.csv").read_text().splitlines()
    assert rows[0] == "sku,quantity"
    assert {sku: int(q) for sku, q in (r.split(",") for r in rows[1:])} == {
        sku: max(0, units) for sku, units in at_shop.items()
    }
    assert len(rows) - 1 == 19  # every product but the batik cloth, kept at the warehouse


def test_the_demo_sale_during_the_run_is_in_the_ledger_and_not_overwritten(
    demo: tuple[Path, Any], runner: CliRunner
) -> None:
    directory, _ = demo
    config = str(directory / "omnisync.toml")

    orders = json.loads(run(runner, "--config", config, "orders", "--json").stdout)
    runs = json.loads(run(runner, "--config", config, "runs", "--json").stdout)

    assert ("shopee", "SHP30001") in {(row["channel"], row["id"]) for row in orders}
    assert runs[0]["channels"]["shopee"]["conflicts_seen"] == 1


def test_a_sync_right_after_the_demo_has_nothing_left_to_do(
    demo: tuple[Path, Any], runner: CliRunner
) -> None:
    directory, _ = demo

    result = run(runner, "--config", str(directory / "omnisync.toml"), "sync", "--json")

    report = json.loads(result.stdout)
    assert result.exit_code == 1  # the planted oversold SKU and unmapped line remain
    for channel in report["channels"].values():
        assert (channel["status"], channel["movements"], channel["listings_pushed"]) == (
            "ok",
            0,
            0,
        )


def test_every_command_the_demo_suggests_works(demo: tuple[Path, Any], runner: CliRunner) -> None:
    directory, result = demo
    suggested = [
        line.strip()
        for line in result.stdout.split("Try next:")[1].splitlines()
        if line.strip().startswith("omnisync ")
    ]
    assert len(suggested) >= 4

    for line in suggested:
        for command in line.split("&&"):
            words = shlex.split(command)
            assert words[0] == "omnisync"
            outcome = run(runner, *words[1:])
            assert outcome.exit_code in (0, 1), (command, outcome.output)

    # The suggested `stock add SCARF-SUTRA-01 5 --new && … sync` applied the waiting order.
    report = json.loads(
        run(runner, "--config", str(directory / "omnisync.toml"), "sync", "--json").stdout
    )
    assert report["unmapped"] == []
    stock = json.loads(
        run(runner, "--config", str(directory / "omnisync.toml"), "stock", "--json").stdout
    )
    scarf = next(row for row in stock if row["sku"] == "SCARF-SUTRA-01")
    assert (scarf["on_hand"], scarf["committed"]) == (5, 1)


def test_the_demo_runs_twice_in_the_same_folder(demo: tuple[Path, Any], runner: CliRunner) -> None:
    directory, first = demo
    (directory / "notes.txt").write_text("mine\n")

    again = run(runner, "demo", str(directory))

    assert again.exit_code == 0, again.output
    assert "oversold: BATIK-PRG-XL is at -1 available" in again.stdout
    runs = json.loads(
        run(runner, "--config", str(directory / "omnisync.toml"), "runs", "--json").stdout
    )
    assert [r["run_id"] for r in runs] == [1]  # a fresh demo, not a second run on the old one
    assert (directory / "notes.txt").read_text() == "mine\n"


def test_the_demo_defaults_to_a_folder_in_the_current_directory(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = run(runner, "demo")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "omnisync-demo" / "omnisync.toml").exists()
    assert (tmp_path / "omnisync-demo" / "inventory.db").exists()


def test_the_demo_refuses_a_folder_that_is_a_file(tmp_path: Path, runner: CliRunner) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")

    result = run(runner, "demo", str(target))

    assert result.exit_code == 2
    assert result.stderr == f"Error: {target}: cannot write the demo there: File exists\n"
    assert target.read_text() == "mine\n"


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/opt/shop/.venv/bin/omnisync", "/opt/shop/.venv/bin/omnisync"),
        (".venv/bin/omnisync", "{cwd}/.venv/bin/omnisync"),
        ("/opt/shop/.venv/lib/python3/site-packages/omnisync/__main__.py", "{python} -m omnisync"),
    ],
)
def test_without_omnisync_on_path_the_demo_suggests_the_command_as_invoked(
    tmp_path: Path,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    argv0: str,
    expected: str,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "argv", [argv0, "demo"])
    command = expected.format(cwd=Path.cwd(), python=sys.executable)

    result = run(runner, "demo", str(tmp_path / "demo"))

    assert result.exit_code == 0, result.output
    suggested = result.stdout.split("Try next:")[1].splitlines()[1]
    assert suggested == f"  {command} --config {tmp_path / 'demo' / 'omnisync.toml'} stock"
