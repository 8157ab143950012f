"""Crash safety: a sync killed with SIGKILL at any moment, then run again, loses no unit and
counts none twice.

Each iteration copies one prepared shop (three fake channels holding a few thousand orders,
one of them with a sale that lands mid-run), starts `omnisync sync` on the copy as a real
process, waits until it holds the ledger lock, sleeps a different fraction of an ordinary
run's length, and kills it with SIGKILL: during the fetch, inside or after the reconcile
transaction, between or during the channel writes, or after it finished. Then a normal
`sync` runs on the copy, and its ledger (balances, and every order line's recorded effect)
and every channel's quantities must equal those of an uninterrupted run on an identical copy.

`CRASH_KILLS=40 pytest tests/test_crash.py -s` runs more kill points and prints where each
one landed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnisync.cli import app
from omnisync.ledger import Ledger

OMNISYNC = Path(sys.executable).with_name("omnisync")
CHANNELS = ("a", "b", "c")
SKUS = [f"SKU-{number:02d}" for number in range(30)]
ORDERS_PER_CHANNEL = 600
KILLS = int(os.environ.get("CRASH_KILLS", "9"))
SEED = int(os.environ.get("CRASH_SEED", "2026"))


def _write_json(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content))


def _make_template(root: Path, runner: CliRunner, *, first_sync: bool = True) -> Path:
    """A shop after its first (empty) sync, with a backlog of orders waiting on every channel;
    without `first_sync`, a shop that counted its stock and never synced."""
    rng = random.Random(SEED)
    shop = root / ("template" if first_sync else "unsynced")
    (shop / "fake").mkdir(parents=True)
    config = shop / "omnisync.toml"
    config.write_text(
        '[ledger]\npath = "inventory.db"\n\n'
        + "".join(
            f'[channels.{name}]\ntype = "fake"\npath = "fake/{name}.json"\n' for name in CHANNELS
        )
    )
    for name in CHANNELS:
        _write_json(
            shop / "fake" / f"{name}.json",
            {
                "listings": [
                    {"id": f"{name}-{sku}", "sku": sku, "quantity": rng.randint(0, 9)}
                    for sku in SKUS
                ],
                "orders": [],
            },
        )
    counts = shop / "counts.csv"
    counts.write_text("sku,on_hand\n" + "".join(f"{sku},5000\n" for sku in SKUS))
    steps = [["stock", "import", str(counts)], ["sync", "--since", "2026-11-01", "--force"]]
    for args in steps if first_sync else steps[:1]:
        result = runner.invoke(app, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output

    statuses = ["pending", "paid", "shipped", "completed", "cancelled", "returned"]
    for name in CHANNELS:
        path = shop / "fake" / f"{name}.json"
        content = json.loads(path.read_text())
        for number in range(ORDERS_PER_CHANNEL):
            minute = number % 600
            content["orders"].append(
                {
                    "id": f"{name}{number}",
                    "status": rng.choice(statuses),
                    "created_at": f"2026-11-20T{8 + minute // 60:02d}:{minute % 60:02d}:00Z",
                    "updated_at": f"2026-11-20T{8 + minute // 60:02d}:{minute % 60:02d}:30Z",
                    "lines": [
                        {"id": str(line), "sku": rng.choice(SKUS), "quantity": rng.randint(1, 3)}
                        for line in range(1, rng.randint(1, 3) + 1)
                    ],
                }
            )
        if name == "a":
            content["sales_during_sync"] = [
                {
                    "id": "SALE-1",
                    "status": "paid",
                    "created_at": "2026-11-20T17:59:00Z",
                    "updated_at": "2026-11-20T17:59:45Z",
                    "lines": [{"id": "1", "sku": "SKU-00", "quantity": 2}],
                }
            ]
        _write_json(path, content)
    return shop


def _outcome(shop: Path) -> dict[str, Any]:
    """What a user can see: balances, every order line's net effect, channel quantities."""
    conn = sqlite3.connect(shop / "inventory.db")
    try:
        balances = sorted(conn.execute("SELECT sku, on_hand, committed FROM balances"))
        summed = sorted(
            conn.execute("SELECT sku, sum(on_hand), sum(committed) FROM movements GROUP BY sku")
        )
        lines = sorted(
            conn.execute(
                "SELECT channel, order_id, line_id, sku, sum(on_hand), sum(committed) "
                "FROM movements WHERE kind = 'order' GROUP BY channel, order_id, line_id, sku "
                "HAVING sum(on_hand) != 0 OR sum(committed) != 0"
            )
        )
    finally:
        conn.close()
    with Ledger.open(shop / "inventory.db", write=False) as ledger:
        # What reconcile reads as each line's recorded effect (kept on the order's row) must
        # be what its movements add up to, killed or not.
        effects_agree = ledger.stored_effects() == ledger.effects_from_movements()
    quantities = {
        name: {
            item["id"]: item["quantity"]
            for item in json.loads((shop / "fake" / f"{name}.json").read_text())["listings"]
        }
        for name in CHANNELS
    }
    return {
        "balances": balances,
        "movement_sums": summed,
        "lines": lines,
        "effects_agree": effects_agree,
        "quantities": quantities,
    }


def _runs(shop: Path) -> list[tuple[int, str | None]]:
    conn = sqlite3.connect(shop / "inventory.db")
    try:
        return list(conn.execute("SELECT run_id, finished_at FROM runs ORDER BY run_id"))
    finally:
        conn.close()


def _start(shop: Path, *args: str) -> tuple[subprocess.Popen[bytes], float]:
    """Start `omnisync sync ARGS…` on `shop`; return it once it holds the ledger lock, and when."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMNISYNC_")}
    process = subprocess.Popen(
        [str(OMNISYNC), "--config", str(shop / "omnisync.toml"), "-q", "sync", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    lock_info = shop / "inventory.db.lock.json"
    deadline = time.monotonic() + 60
    while not lock_info.exists() and process.poll() is None:
        assert time.monotonic() < deadline, "the sync never took the ledger lock"
        time.sleep(0.001)
    return process, time.monotonic()


def _wait_for(process: subprocess.Popen[bytes], condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.0005)


def _wal_grew(shop: Path) -> Callable[[], bool]:
    """True once the run writes to the ledger's write-ahead log (its first transactions)."""
    wal = shop / "inventory.db-wal"
    start = wal.stat().st_size if wal.exists() else 0
    return lambda: wal.exists() and wal.stat().st_size > start


def _a_channel_written(shop: Path) -> Callable[[], bool]:
    """True once a push has rewritten any channel's file."""
    files = [shop / "fake" / f"{name}.json" for name in CHANNELS]
    inodes = [path.stat().st_ino for path in files]
    return lambda: any(
        path.stat().st_ino != inode for path, inode in zip(files, inodes, strict=True)
    )


def _reconciled(shop: Path, run_id: int) -> bool:
    """True once the run's main transaction is in: every order of the backlog moves stock."""
    conn = sqlite3.connect(shop / "inventory.db")
    try:
        return bool(conn.execute("SELECT 1 FROM movements WHERE run_id = ?", (run_id,)).fetchone())
    finally:
        conn.close()


def _phase(shop: Path, template: Path, runs_before: int, killed: bool) -> str:
    runs = _runs(shop)
    pushed = any(
        (shop / "fake" / f"{name}.json").read_bytes()
        != (template / "fake" / f"{name}.json").read_bytes()
        for name in CHANNELS
    )
    if not killed:
        return "finished before the kill"
    if len(runs) == runs_before:
        return "before the run was recorded as started"
    if runs[-1][1] is not None:
        return "after the run was recorded"
    if not _reconciled(shop, runs[-1][0]):
        return "before the reconcile commit"
    return "mid-push" if pushed else "after the reconcile commit, before any push"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_template(tmp_path_factory.mktemp("crash"), CliRunner())


def test_a_sync_killed_at_any_point_then_rerun_equals_an_uninterrupted_run(
    template: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    runs_before = len(_runs(template))

    reference = tmp_path / "reference"
    shutil.copytree(template, reference)
    process, locked = _start(reference)
    assert process.wait(timeout=120) == 0
    duration = time.monotonic() - locked
    expected = _outcome(reference)
    assert expected["balances"] == expected["movement_sums"]
    assert expected["effects_agree"]
    assert ("a", "SALE-1", "1", "SKU-00", 0, 2) in expected["lines"]

    rng = random.Random(SEED)
    landed: Counter[str] = Counter()
    for number in range(KILLS):
        shop = tmp_path / f"killed-{number}"
        shutil.copytree(template, shop)
        # A third of the kills at moments spread over the whole run (and a little past it),
        # a third as soon as the ledger's log grows (inside the first transactions), a third
        # as soon as the first channel file is rewritten (between channel writes).
        trigger = ("time", "ledger", "channel")[number % 3]
        delay = duration * (number + rng.random()) / KILLS * 1.15
        process, locked = _start(shop)
        if trigger == "time":
            time.sleep(max(0.0, locked + delay - time.monotonic()))
        else:
            delay = rng.random() * 0.003
            _wait_for(process, _wal_grew(shop) if trigger == "ledger" else _a_channel_written(shop))
            time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        code = process.wait(timeout=60)
        killed = code == -signal.SIGKILL
        phase = _phase(shop, template, runs_before, killed)
        landed[phase] += 1

        result = runner.invoke(app, ["--config", str(shop / "omnisync.toml"), "sync", "--json"])

        assert result.exit_code == 0, (number, trigger, delay, result.output)
        outcome = _outcome(shop)
        assert outcome == expected, f"kill {number} ({trigger}, {delay:.3f}s, {phase}) differs"
        # A run killed after it was recorded as started shows as interrupted in `runs`.
        reports = json.loads(
            runner.invoke(app, ["--config", str(shop / "omnisync.toml"), "runs", "--json"]).stdout
        )
        interrupted = [report["run_id"] for report in reports if report.get("interrupted")]
        # Recorded before any fetch: a run killed at any point after that shows as interrupted.
        mid_run = phase in (
            "before the reconcile commit",
            "mid-push",
            "after the reconcile commit, before any push",
        )
        assert interrupted == ([runs_before + 1] if mid_run else []), phase

    print(f"\n{KILLS} kills over a {duration:.2f}s run: {dict(landed)}")
    assert landed["finished before the kill"] < KILLS, "no kill landed inside a run"


def test_a_first_sync_since_killed_at_its_first_write_keeps_its_start_time(
    tmp_path: Path,
) -> None:
    """The run and the start time asked for are committed before any fetch: killed right
    after, the next plain `sync` still counts the orders since then, instead of starting the
    channels "now" and ignoring them."""
    runner = CliRunner()
    unsynced = _make_template(tmp_path, runner, first_sync=False)
    since = "2026-11-01"

    reference = tmp_path / "reference"
    shutil.copytree(unsynced, reference)
    for args in (["sync", "--since", since], ["sync"]):
        runner.invoke(app, ["--config", str(reference / "omnisync.toml"), *args])
    expected = _outcome(reference)
    assert expected["lines"], "the reference run counted no order"

    shop = tmp_path / "killed"
    shutil.copytree(unsynced, shop)
    process, _ = _start(shop, "--since", since)
    # Killed as soon as the run is on record: before its fetch ends, most times.
    _wait_for(process, lambda: bool(_runs(shop)))
    process.send_signal(signal.SIGKILL)
    killed = process.wait(timeout=60) == -signal.SIGKILL

    result = runner.invoke(app, ["--config", str(shop / "omnisync.toml"), "sync", "--json"])

    assert result.exit_code == 0, result.output
    assert _outcome(shop) == expected
    if killed:
        reports = json.loads(
            runner.invoke(app, ["--config", str(shop / "omnisync.toml"), "runs", "--json"]).stdout
        )
        assert [report.get("interrupted", False) for report in reports] == [False, True]
