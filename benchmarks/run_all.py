"""Every figure issue 11 sets a target for, in one table, with a naive baseline beside HTTP.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only startup,core,http] [--runs 3]

- start-up: the median wall time of `omnisync --version`, `--help`, and a `sync` of the demo
  that has nothing to do (its second run), each in a fresh process, over `--runs` × 3 calls.
- core: `bench_core.py` (1,000,000 order lines, 100,000 SKUs and listings) at 1,000, 10,000
  and 50,000 changed orders: reconcile + plan CPU (median of `--runs` syncs), peak memory.
- HTTP: one `omnisync sync` per row, as the CLI in its own process, against the loopback
  fakes at 500 listings / 200 orders and 5,000 / 2,000, at 50 and 200 ms a request; Shopify
  (with WooCommerce in the same run) at 100, 1,000 and 2,000 points/s (Standard, Plus,
  Enterprise), and Shopee, Lazada and TikTok Shop at their documented limits (see each
  bench_<channel>.py; where a platform publishes no figure, Shopee's rate and Lazada's read
  rates, the bench names the assumption its fake enforces). `time` is the process, start-up
  included, run as installed (bytecode compiled); `floor` is the rate-limit floor plus
  omnisync's own process start-up, the median wall time of `omnisync --version` measured
  beside the rows (the issue: "the floor counts process start-up on the omnisync side"). The
  row also shows the ratio against the bare rate-limit floor.
- naive: a model, not a run, of a tool that reads each listing with its own request and
  writes each changed listing with its own request, one at a time: requests × latency, and
  on Shopify never under the points it spends (4 a single-variant read, 10 a mutation) over
  the restore rate. `--quick` runs 50 ms and Shopify at 2,000 points/s only, and the core at
  10,000 changed only.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    bench_core,
    bench_http,
    bench_lazada,
    bench_shopee,
    bench_tiktok,
    harness,
)
from omnisync.channels.shopee.client import QPS as SHOPEE_QPS  # noqa: E402
from tests.fakes.lazada_api import INVENTORY_QPS  # noqa: E402

SIZES = ((500, 200), (5_000, 2_000))
LATENCIES = (0.05, 0.2)
SHOPIFY_PLANS = ((100.0, "Standard"), (1_000.0, "Plus"), (2_000.0, "Enterprise"))
SHOPIFY_BUCKET = 2_000.0  # maximumAvailable as a live store's throttleStatus reports it
SHOPIFY_READ_POINTS = 4  # one variant, its inventory item and level: 1 point each, + query
SHOPIFY_WRITE_POINTS = 10  # a mutation
TIKTOK_QPS = 50


@dataclass
class Row:
    section: str
    what: str
    figure: str
    target: str
    met: bool | None
    naive: str = ""


def median_ms(
    command: Sequence[str], *, runs: int, cwd: Path | None = None, env: dict[str, str] | None = None
) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def startup(runs: int) -> list[Row]:
    cli = [sys.executable, "-m", "omnisync"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        env = harness.installed_env()  # bytecode compiled, as pip installs omnisync
        demo = Path(folder) / "demo"
        subprocess.run([*cli, "demo", str(demo)], env=env, capture_output=True, check=False)
        subprocess.run([*cli, "sync"], cwd=demo, env=env, capture_output=True, check=False)
        subprocess.run([*cli, "--help"], env=env, capture_output=True, check=False)
        calls = runs * 3
        for label, args, limit in (
            ("omnisync --version", ["--version"], 150.0),
            ("omnisync --help", ["--help"], 150.0),
            ("no-op sync of the demo", ["sync"], 250.0),
        ):
            ms = median_ms([*cli, *args], runs=calls, cwd=demo, env=env)
            rows.append(Row("start-up", label, f"{ms:.0f} ms", f"< {limit:.0f} ms", ms < limit))
    return rows


def core(runs: int, quick: bool) -> list[Row]:
    rows = []
    for changed in (10_000,) if quick else (1_000, 10_000, 50_000):
        measured = bench_core.measure(
            skus=100_000, lines=1_000_000, changed=changed, reports=False, runs=runs
        )
        run = measured["run"]
        cpu = run["timings"]["reconcile_cpu"]
        limit = {1_000: 0.1, 10_000: 0.6, 50_000: 2.0}[changed]
        what = (
            f"reconcile + plan CPU, {changed:,} changed ({run['orders_fetched']:,} fetched, "
            f"{run['movements']:,} movements)"
        )
        rows.append(Row("core", what, f"{cpu:.3f} s", f"< {limit} s", cpu < limit))
        if changed == 50_000:
            mb = run["peak_rss_mb"]
            rows.append(
                Row("core", "peak memory, 50,000 changed", f"{mb:.0f} MB", "< 200 MB", mb < 200)
            )
    return rows


def naive_seconds(
    requests: float, latency: float, *, points: float = 0.0, rate: float = 0.0
) -> float:
    """One request at a time; on a points budget, never faster than it refills."""
    seconds = requests * latency
    if rate:
        seconds = max(seconds, max(0.0, points - SHOPIFY_BUCKET) / rate)
    return seconds


def http_row(
    name: str,
    listings: int,
    orders: int,
    latency: float,
    figures: dict[str, Any],
    naive: float,
) -> Row:
    requests_ratio = figures["requests"] / figures["minimal"]
    floor = harness.started_floor(figures["floor"])
    ratio = harness.process_ratio(figures["process"], figures["floor"])
    bare = figures["process"] / figures["floor"]
    what = f"{name}, {listings:,} listings / {orders:,} orders, {latency * 1000:.0f} ms"
    figure = (
        f"{figures['process']:.2f} s / floor {floor:.2f} s = {ratio:.2f}× "
        f"({bare:.2f}× the rate limit alone); requests {requests_ratio:.3f}× minimal"
    )
    met = ratio <= 1.25 and requests_ratio <= 1.05
    baseline = f"{naive:.1f} s ({naive / figures['process']:.0f}× omnisync)"
    return Row("HTTP", what, figure, "≤ 1.25× floor, ≤ 1.05× req", met, baseline)


def http(quick: bool) -> list[Row]:
    rows = []
    latencies = LATENCIES[:1] if quick else LATENCIES
    plans = SHOPIFY_PLANS[-1:] if quick else SHOPIFY_PLANS
    for listings, orders in SIZES:
        for latency in latencies:
            for rate, plan in plans:
                args = argparse.Namespace(
                    listings=listings,
                    orders=orders,
                    latency=latency,
                    bucket=SHOPIFY_BUCKET,
                    restore_rate=rate,
                )
                m = bench_http.measure_shopify_woo(args)
                figures = {
                    "requests": m["shopify_requests"] + m["woo_requests"],
                    "minimal": m["shopify_minimal"] + m["woo_minimal"],
                    "process": m["process"],
                    "floor": m["floor"],
                }
                # The naive tool writes both shops at once, each one request at a time.
                changed = m["changed"]
                shopify_naive = naive_seconds(
                    listings + changed,
                    latency,
                    points=listings * SHOPIFY_READ_POINTS + changed * SHOPIFY_WRITE_POINTS,
                    rate=rate,
                )
                woo_naive = naive_seconds(listings + changed, latency)
                name = f"Shopify {plan} ({rate:,.0f} pt/s) + WooCommerce"
                naive = max(shopify_naive, woo_naive)
                rows.append(http_row(name, listings, orders, latency, figures, naive))
            for name, run, qps in (
                ("Shopee", bench_shopee.measure, float(SHOPEE_QPS)),
                ("Lazada", bench_lazada.measure, float(INVENTORY_QPS)),
                ("TikTok Shop", bench_tiktok.measure, float(TIKTOK_QPS)),
            ):
                got = run(listings, orders, latency)
                figures = {
                    "requests": got["requests"],
                    "minimal": got.get("minimal_requests", got.get("minimal")),
                    "process": got["process"],
                    "floor": got["floor"],
                }
                writes = got.get("listings_pushed", got.get("pushed", 0.0))
                naive = naive_seconds(listings + writes, latency)
                if qps:
                    naive = max(naive, (listings + writes) / qps)
                rows.append(http_row(name, listings, orders, latency, figures, naive))
    return rows


def print_table(rows: Sequence[Row]) -> None:
    widths = [max(len(getattr(row, key)) for row in rows) for key in ("section", "what", "figure")]
    target_width = max(len(row.target) for row in rows)
    for row in rows:
        verdict = "-" if row.met is None else ("met" if row.met else "MISSED")
        print(
            f"{row.section:<{widths[0]}}  {row.what:<{widths[1]}}  {row.figure:<{widths[2]}}  "
            f"{row.target:<{target_width}}  {verdict:<6}  {row.naive}".rstrip()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, latencies and plans")
    parser.add_argument("--runs", type=int, default=3, help="runs per core figure (median)")
    parser.add_argument("--only", default="startup,core,http", help="sections, comma-separated")
    args = parser.parse_args()
    sections: dict[str, Callable[[], list[Row]]] = {
        "startup": lambda: startup(args.runs),
        "core": lambda: core(args.runs, args.quick),
        "http": lambda: http(args.quick),
    }
    rows: list[Row] = []
    for name in args.only.split(","):
        rows += sections[name.strip()]()
    print_table(rows)
    if any(row.naive for row in rows):
        print(
            "\nnaive: a one-request-per-listing tool, modelled (see the docstring). The ratio "
            "shrinks where a points budget, not latency, bounds both: on Shopify Standard "
            "(100 pt/s) reading 5,000 listings costs omnisync about as many points as it costs "
            "anyone, so only the naive tool's per-listing mutations (10 points each, against "
            "10 a call of 250) still set them apart."
        )
    if any(row.met is False for row in rows):
        print("\nsome targets are missed: see MISSED above", file=sys.stderr)


if __name__ == "__main__":
    main()
