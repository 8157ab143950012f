"""Benchmark the core: a big ledger, one run that applies 10,000 changed orders.

    python benchmarks/bench_core.py [--skus 100000] [--lines 1000000] [--changed 10000] [--runs 3]

Builds, in a temporary folder, a ledger of 1,000,000 historical order lines over 100,000 SKUs
and four fake channels with 100,000 listings in all, whose files hold 10,000 changed orders
(half new, half status changes of historical ones; all updated in the hour before the run).
Then runs one `sync` in a fresh process (or `--runs` of them, each on a fresh copy), so that
its peak memory is its own, and prints the figures. Targets (issue 11): reconcile and plan
under 0.6 s of CPU at 10,000 changed, under 2 s and 200 MB at 50,000. Last, `omnisync
report` over a window holding every order line of the ledger, and over the last 30 days, each
in a fresh process: under 2 s.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from omnisync.ledger import Ledger
from omnisync.ledger.effects import encode
from omnisync.models import Effect
from omnisync.timeparse import to_iso

CHANNELS = ("shopee", "tokopedia", "lazada", "toko")
COUNTED = 1_000


def build(root: Path, *, skus: int, lines: int, changed: int) -> None:
    """Write the ledger, the config and the channel files under `root`."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    start = now - timedelta(days=300)
    cursor = now - timedelta(hours=1)
    sku_names = [f"SKU-{n:06d}" for n in range(skus)]
    shipped = [0] * skus

    clock = time.perf_counter()
    ledger = Ledger.open(root / "inventory.db", write=True)
    conn = ledger.conn
    conn.execute("PRAGMA synchronous = OFF")
    with ledger.atomic():
        stamp = to_iso(start)
        conn.executemany(
            "INSERT INTO skus (sku, name, created_at) VALUES (?, '', ?)",
            ((sku, stamp) for sku in sku_names),
        )
        conn.executemany(
            "INSERT INTO movements (time, kind, sku, on_hand, committed, reason) "
            "VALUES (?, 'count', ?, ?, 0, 'stock-take')",
            ((stamp, sku, COUNTED) for sku in sku_names),
        )
        orders, order_lines, movements = [], [], []
        per_order = 2
        for number in range(lines // per_order):
            channel = CHANNELS[number % len(CHANNELS)]
            order_id = f"H{number:07d}"
            created = start + timedelta(seconds=number * 20)
            effects: dict[tuple[str, str, str], Effect] = {}
            for line in range(per_order):
                index = rng.randrange(skus)
                quantity = 1
                shipped[index] += quantity
                # Priced as the channels send them, so `report` sums real money.
                price, currency = ("12.50", "USD") if channel == "toko" else ("185000", "IDR")
                order_lines.append(
                    (channel, order_id, str(line), sku_names[index], quantity, price, currency)
                )
                movements.append(
                    (to_iso(created), sku_names[index], -quantity, channel, order_id, str(line))
                )
                key = (str(line), sku_names[index], "main")
                effects[key] = effects.get(key, Effect()) + Effect(on_hand=-quantity)
            # What each line's movements add up to, on the order's row, as the ledger's own
            # writer keeps it (omnisync.ledger.effects): without it every order would look
            # as if it had never taken stock.
            orders.append(
                (channel, order_id, "completed", to_iso(created), to_iso(created), encode(effects))
            )
        conn.executemany(
            "INSERT INTO orders (channel, order_id, status, created_at, updated_at, effects) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            orders,
        )
        conn.executemany(
            "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, quantity, "
            "unit_price, currency) VALUES (?, ?, ?, ?, ?, ?, ?)",
            order_lines,
        )
        conn.executemany(
            "INSERT INTO movements (time, kind, sku, on_hand, committed, channel, order_id, "
            "line_id) VALUES (?, 'order', ?, ?, 0, ?, ?, ?)",
            movements,
        )
        # Written straight to the tables for speed, so the running totals are summed here.
        conn.execute(
            "INSERT INTO balances (sku, location, on_hand, committed) "
            "SELECT sku, location, sum(on_hand), sum(committed) FROM movements "
            "GROUP BY sku, location"
        )
        for channel in CHANNELS:
            ledger.ensure_channel(channel, "fake", start_time=start)
            ledger.set_cursor(channel, cursor)
    ledger.close()
    print(
        f"built ledger: {len(movements):,} order lines, {skus:,} SKUs "
        f"in {time.perf_counter() - clock:.1f} s"
    )

    # Channel files: each channel lists a quarter of the SKUs, at the quantity it should show
    # before this run, so only what the changed orders move needs a push.
    per_channel = skus // len(CHANNELS)
    files: dict[str, dict[str, list[dict[str, object]]]] = {}
    for c, channel in enumerate(CHANNELS):
        files[channel] = {
            "listings": [
                {"id": f"{channel}-{n}", "sku": sku_names[n], "quantity": COUNTED - shipped[n]}
                for n in range(c * per_channel, (c + 1) * per_channel)
            ],
            "orders": [],
        }
    # Every changed order must fall inside the hour before the run: at a fixed 0.3 s apart,
    # orders past the 12,000th landed in the future and were never fetched.
    step = min(0.3, 3_000 / max(changed, 1))
    for number in range(changed):
        updated = to_iso(cursor + timedelta(seconds=1 + number * step))
        if number % 2 == 0:
            channel = CHANNELS[number % len(CHANNELS)]
            files[channel]["orders"].append(
                {
                    "id": f"N{number:07d}",
                    "status": "paid",
                    "created_at": updated,
                    "updated_at": updated,
                    "lines": [{"id": "1", "sku": sku_names[rng.randrange(skus)], "quantity": 1}],
                }
            )
        else:
            historical = rng.randrange(lines // 2)
            channel = CHANNELS[historical % len(CHANNELS)]
            row = order_lines[historical * 2 : historical * 2 + 2]
            files[channel]["orders"].append(
                {
                    "id": f"H{historical:07d}",
                    "status": "returned",
                    "created_at": to_iso(start + timedelta(seconds=historical * 20)),
                    "updated_at": updated,
                    # Sent again as the channel sent them (price and currency too): a status
                    # change, not an edit of the lines.
                    "lines": [
                        {
                            "id": r[2],
                            "sku": r[3],
                            "quantity": r[4],
                            "unit_price": r[5],
                            "currency": r[6],
                        }
                        for r in row
                    ],
                }
            )
    # The ledger has run before: it holds every listing as last read, as a live shop's does.
    with Ledger.open(root / "inventory.db", write=True) as ledger, ledger.atomic():
        ledger.conn.executemany(
            "INSERT INTO listings (channel, listing_id, channel_sku, last_read, shown) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                (channel, item["id"], item["sku"], item["quantity"], item["quantity"])
                for channel, content in files.items()
                for item in content["listings"]
            ),
        )
    (root / "fake").mkdir()
    config = ["[ledger]", 'path = "inventory.db"', "", "[sync]", "max_change = 0.5", ""]
    for channel in CHANNELS:
        config += [f"[channels.{channel}]", 'type = "fake"', f'path = "fake/{channel}.json"', ""]
    (root / "omnisync.toml").write_text("\n".join(config))
    # A run with no new orders first, as the previous cron run of a live shop: it leaves each
    # listing's planned target in the ledger. Then the changed orders arrive.
    for channel, content in files.items():
        quiet = {"listings": content["listings"], "orders": []}
        (root / "fake" / f"{channel}.json").write_text(json.dumps(quiet))
    warm_up = sync_once(root)
    print(f"previous run: {warm_up['listings_unchanged']:,} listings already right")
    for channel, content in files.items():
        (root / "fake" / f"{channel}.json").write_text(json.dumps(content))


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: on Linux ru_maxrss carries
    the high-water mark of the parent that forked us (the builder, several hundred MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(root: Path) -> None:
    """One sync in this (fresh) process; print its report's figures as JSON."""
    print(json.dumps(sync_once(root)))


def sync_once(root: Path) -> dict[str, object]:
    import asyncio

    from omnisync.config import load_config
    from omnisync.sync import SyncOptions, run_sync

    config = load_config(root / "omnisync.toml")
    clock, cpu = time.perf_counter(), time.process_time()
    with Ledger.open(config.ledger_path, write=True) as ledger:
        report = asyncio.run(run_sync(config, ledger, SyncOptions()))
        # Pages the run wrote to the write-ahead log (none is copied back before the ledger
        # closes): a count that stays put on a busy machine, where CPU seconds do not.
        page_size = ledger.conn.execute("PRAGMA page_size").fetchone()[0]
        wal = Path(str(config.ledger_path) + "-wal")
        wal_pages = (wal.stat().st_size - 32) // (page_size + 24) if wal.exists() else 0
    figures = {
        "wall_s": time.perf_counter() - clock,
        "cpu_s": time.process_time() - cpu,
        "peak_rss_mb": peak_rss_mb(),
        "timings": report.timings,
        "orders_fetched": sum(c.orders_fetched for c in report.channels.values()),
        "movements": sum(c.movements for c in report.channels.values()),
        "listings_pushed": sum(c.listings_pushed for c in report.channels.values()),
        "listings_unchanged": sum(c.listings_unchanged for c in report.channels.values()),
        "exit_code": int(report.exit_code),
        "wal_pages": wal_pages,
    }
    return figures


def report_once(root: Path) -> dict[str, float]:
    """`omnisync report` as the CLI builds it and prints it, in three windows: the last 30 days
    (the default: the run's 10,000 changed orders), a busy month of history (about 260,000
    lines, and the month before it), and all history (every line of the ledger)."""
    from zoneinfo import ZoneInfo

    from omnisync.analytics import build_report
    from omnisync.analytics.terminal import print_report
    from omnisync.config import load_config

    config = load_config(root / "omnisync.toml")
    now = datetime.now(UTC)
    figures: dict[str, float] = {}
    with Ledger.open(config.ledger_path, write=False) as ledger:
        windows = {
            "last_30_days": (now - timedelta(days=30), now),
            "busy_month": (now - timedelta(days=280), now - timedelta(days=250)),
            "all_history": (now - timedelta(days=400), now),
        }
        for name, (since, until) in windows.items():
            clock = time.perf_counter()
            report = build_report(
                ledger,
                since=since,
                until=until,
                now=now,
                timezone=ZoneInfo("Asia/Jakarta"),
                reorder_days=14,
            )
            print_report(Console(file=io.StringIO(), width=80), report)
            figures[f"{name}_s"] = time.perf_counter() - clock
            figures[f"{name}_units"] = sum(c.current.units for c in report.channels)
    return figures


def measure(
    *, skus: int, lines: int, changed: int, reports: bool = True, runs: int = 1
) -> dict[str, Any]:
    """Build the shop, run one sync and (with `reports`) the reports, each in a fresh process;
    their figures. With `runs` > 1 the same sync runs that often, each on a fresh copy of the
    shop, and the run with the median reconcile CPU is kept (the others are in `cpu_runs`)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "shop"
        root.mkdir()
        build(root, skus=skus, lines=lines, changed=changed)
        size = (root / "inventory.db").stat().st_size / 1e6
        measured = []
        for number in range(runs):
            shop = root
            if number < runs - 1:  # the last run may change the original
                shop = Path(folder) / f"copy{number}"
                shutil.copytree(root, shop)
            out = subprocess.run(
                [sys.executable, __file__, "--run", str(shop)],
                capture_output=True,
                text=True,
                check=True,
            )
            measured.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if shop != root:
                shutil.rmtree(shop)
        measured.sort(key=lambda f: f["timings"]["reconcile_cpu"])
        figures = measured[len(measured) // 2]
        figures["cpu_runs"] = [f["timings"]["reconcile_cpu"] for f in measured]
        with sqlite3.connect(root / "inventory.db") as conn:
            total = conn.execute("SELECT count(*) FROM movements").fetchone()[0]
        reported = {}
        if reports:
            out = subprocess.run(
                [sys.executable, __file__, "--report", str(root)],
                capture_output=True,
                text=True,
                check=True,
            )
            reported = json.loads(out.stdout.strip().splitlines()[-1])
    return {"run": figures, "report": reported, "ledger_mb": size, "movements": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1, help="syncs to run, each on a fresh copy")
    parser.add_argument(
        "--build", type=Path, metavar="DIR", help="only build the shop in DIR (to profile a run)"
    )
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run(args.run)
        return
    if args.report:
        print(json.dumps(report_once(args.report)))
        return
    if args.build:
        args.build.mkdir(parents=True)
        build(args.build, skus=args.skus, lines=args.lines, changed=args.changed)
        return
    measured = measure(skus=args.skus, lines=args.lines, changed=args.changed, runs=args.runs)
    figures, reported = measured["run"], measured["report"]
    size, total = measured["ledger_mb"], measured["movements"]
    t = figures["timings"]
    print(f"ledger: {size:.0f} MB, {total:,} movements after the run")
    print(
        f"run: {figures['orders_fetched']:,} orders fetched, {figures['movements']:,} "
        f"movements, {figures['listings_pushed']:,} listings pushed, "
        f"{figures['listings_unchanged']:,} unchanged"
    )
    print(f"fetch (4 fake channels, JSON parse):  {t['fetch']:.3f} s")
    print(
        f"reconcile + plan:                     {t['reconcile']:.3f} s wall, "
        f"{t['reconcile_cpu']:.3f} s CPU   (median of {figures['cpu_runs']})"
    )
    print(f"push (fake files rewritten):          {t['push']:.3f} s")
    print(f"pages written (write-ahead log):      {figures['wal_pages']:,}")
    print(
        f"whole run:                            {figures['wall_s']:.3f} s wall, "
        f"{figures['cpu_s']:.3f} s CPU"
    )
    print(
        f"peak memory (RSS):                    {figures['peak_rss_mb']:.0f} MB   (target < 200 MB)"
    )

    for name, label in (
        ("last_30_days", "last 30 days"),
        ("busy_month", "a busy month"),
        ("all_history", "all history"),
    ):
        print(
            f"report, {label + ',':13} {reported[name + '_units']:>9,.0f} units:  "
            f"{reported[name + '_s']:.3f} s   (target < 2 s)"
        )


if __name__ == "__main__":
    main()
