"""What the HTTP benchmarks share: seed a stock file and config, run one timed `omnisync sync`."""

from __future__ import annotations

import compileall
import csv
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent.parent / "omnisync"


@functools.cache
def installed_env() -> dict[str, str]:
    """os.environ as an installed omnisync runs in: its bytecode compiled and read.

    pip compiles a package's bytecode when it installs it. A checkout run with
    PYTHONDONTWRITEBYTECODE (set on some machines, CI's among them) would compile every module
    it imports on each call instead, 50-100 ms a sync that no installed omnisync pays.
    """
    compileall.compile_dir(PACKAGE, quiet=1)
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_omnisync(
    root: Path, env: Mapping[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the CLI on `root`'s omnisync.toml in its own process, with `env` over os.environ."""
    return subprocess.run(
        [sys.executable, "-m", "omnisync", "--config", str(root / "omnisync.toml"), *args],
        capture_output=True,
        text=True,
        env=installed_env() | dict(env),
        check=False,
    )


@functools.cache
def startup_seconds(calls: int = 7) -> float:
    """omnisync's own process start-up: the median wall time of `omnisync --version`.

    An HTTP benchmark's floor counts it: the least any run of the CLI takes before its first
    request (the issue's "the floor counts process start-up on the omnisync side").
    """
    times = []
    for _ in range(calls + 1):
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "omnisync", "--version"],
            capture_output=True,
            env=installed_env(),
            check=False,
        )
        times.append(time.monotonic() - started)
    return statistics.median(times[1:])  # the first call may still write bytecode


def started_floor(floor: float) -> float:
    """A rate-limit floor with omnisync's own process start-up (`startup_seconds`) added: the
    least a run of the CLI takes, as its process time counts the start-up too."""
    return floor + startup_seconds()


def process_ratio(process: float, floor: float) -> float:
    """A run's process time (start-up included) over its floor, start-up added
    (`started_floor`): the figure the ≤ 1.25 target is about."""
    return process / started_floor(floor)


def import_stock(
    root: Path, config: str, skus: Iterable[str], on_hand: int, env: Mapping[str, str]
) -> None:
    """Write omnisync.toml and stock.csv (`on_hand` of each SKU) and import it; exit if it fails."""
    with open(root / "stock.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "on_hand"])
        writer.writerows([sku, on_hand] for sku in skus)
    (root / "omnisync.toml").write_text(config)
    imported = run_omnisync(root, env, "stock", "import", str(root / "stock.csv"))
    if imported.returncode != 0:
        sys.exit(f"stock import failed: {imported.stderr}")


def timed_sync(
    root: Path, env: Mapping[str, str]
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `sync --json --since 2h`; return it and its process time (start-up included)."""
    started = time.monotonic()
    result = run_omnisync(root, env, "sync", "--json", "--since", "2h")
    return result, time.monotonic() - started


def sync_report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The sync's JSON report; exit if it printed none."""
    if not result.stdout.strip():
        sys.exit(f"sync printed no report (exit {result.returncode}): {result.stderr}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def report_wall(report: Mapping[str, Any]) -> float:
    """The run's own clock, from its report: start to finish, without interpreter start-up."""
    return (
        datetime.fromisoformat(report["finished_at"]) - datetime.fromisoformat(report["started_at"])
    ).total_seconds()
