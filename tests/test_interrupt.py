"""Ctrl-C during a sync: exit 130 with a word on stderr, the run shown as interrupted, and the
next sync lands on the numbers an uninterrupted one would."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

OMNISYNC = [sys.executable, "-m", "omnisync"]

# `omnisync sync`, held two seconds before its reconcile step; it says when it is there. The
# Ctrl-C then lands mid-run: asyncio turns it into a cancel at the run's next wait (the push).
HELD_SYNC = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import omnisync.sync.run as run
    from omnisync.cli import main

    reconcile = run._reconcile_and_plan

    def held(*args, **kwargs):
        Path("held").write_text("")
        time.sleep(2)
        return reconcile(*args, **kwargs)

    run._reconcile_and_plan = held
    sys.argv = ["omnisync", "sync"]
    main()
    """
)


def stock(shop: Path) -> object:
    out = subprocess.run([*OMNISYNC, "stock", "--json"], cwd=shop, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_ctrl_c_mid_sync_says_so_and_the_next_sync_finishes_the_work(tmp_path: Path) -> None:
    shop, twin = tmp_path / "shop", tmp_path / "twin"
    for folder in (shop, twin):
        subprocess.run([*OMNISYNC, "demo", str(folder)], capture_output=True, check=True)
        # The demo synced once; new sales wait on a channel, for the next run to apply.
        path = folder / "fake" / "shopee.json"
        content = json.loads(path.read_text())
        sold = dict(content["orders"][0], id="LATE-1", updated_at="2099-01-01T00:00:00Z")
        content["orders"].append(sold)
        path.write_text(json.dumps(content))

    process = subprocess.Popen(
        [sys.executable, "-c", HELD_SYNC],
        cwd=shop,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (shop / "held").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sync never reached its reconcile step"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 130
    assert "Interrupted: the ledger keeps what was committed before" in err
    assert "Traceback" not in err
    runs = json.loads(
        subprocess.run(
            [*OMNISYNC, "runs", "--json"], cwd=shop, capture_output=True, text=True
        ).stdout
    )
    assert runs[0]["interrupted"] is True

    again = subprocess.run([*OMNISYNC, "sync"], cwd=shop, capture_output=True, text=True)
    once = subprocess.run([*OMNISYNC, "sync"], cwd=twin, capture_output=True, text=True)
    assert again.returncode == once.returncode
    assert stock(shop) == stock(twin)
