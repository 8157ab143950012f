"""Benchmark: one `omnisync sync` against a loopback fake Lazada with latency and its limits.

Prints figures, asserts nothing. The fake adds a fixed latency to every request and enforces
Lazada's documented limits: 50 products a page (GetProducts), 100 orders a page and offsets
up to 4,500 (GetOrders: "Max Size:4500"), items of 50 orders a call (GetMultipleOrderItems),
50 SKUs a stock update and 50 stock-update calls a second per seller
(UpdateSellableQuantity), answering `901` beyond that. The sync runs as the installed CLI in
its own process.

    .venv/bin/python benchmarks/bench_lazada.py [--listings 5000] [--orders 2000]

Definitions of what is printed:
- minimal requests: the fewest requests the same work takes under those limits: the product
  pages, the order pages, the item batches, and per 50 changed SKUs one re-read and one
  write (Lazada has no compare-and-set; the spec requires the re-read).
- rate-limit floor: the least time the work can take. The documented rate limit (50 stock
  updates a second) and the chain of requests that must wait for one another (first
  product page, the rest; first order page, the rest, their items; re-read, write), times
  the latency: whichever is larger.
- floor at omnisync's concurrency: each phase's requests in rounds of the adapter's
  `PARALLEL` calls at once, times the latency (Lazada publishes no per-app read limit, so
  the adapter keeps to a few calls at a time).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402
from omnisync.channels.lazada.channel import (  # noqa: E402
    ITEMS_BATCH,
    ORDERS_PAGE,
    PARALLEL,
    PRODUCTS_PAGE,
    PUSH_BATCH,
)
from tests.fakes import lazada_api  # noqa: E402
from tests.fakes.lazada_api import INVENTORY_QPS, FakeLazada  # noqa: E402
from tests.fakes.server import serve  # noqa: E402

STOCK = 100
ENV = {
    "LZD_SECRET": lazada_api.APP_SECRET,
    "LZD_ACCESS": lazada_api.ACCESS_TOKEN,
    "LZD_REFRESH": lazada_api.REFRESH_TOKEN,
}


def build(listings: int, orders: int, latency: float) -> tuple[FakeLazada, list[str]]:
    """A shop of one-SKU products; the first `orders` SKUs each sold once, recently."""
    fake = FakeLazada(latency=latency)
    skus = [f"SKU-{n:05d}" for n in range(listings)]
    ids = [fake.add_product([(sku, STOCK)])[1][0] for sku in skus]
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for n in range(orders):
        fake.add_order(
            [(skus[n % listings], ids[n % listings], "pending")],
            updated=recent + timedelta(seconds=n),
        )
    return fake, skus


def measure(listings: int = 5000, orders: int = 2000, latency: float = 0.05) -> dict[str, float]:
    """Run one sync and return its figures (see the module docstring)."""
    fake, skus = build(listings, orders, latency)
    changed = min(orders, listings)
    product_pages = math.ceil(listings / PRODUCTS_PAGE)
    order_pages = max(1, math.ceil(orders / ORDERS_PAGE))
    item_calls = math.ceil(orders / ITEMS_BATCH)
    writes = math.ceil(changed / PUSH_BATCH)
    minimal = product_pages + order_pages + item_calls + 2 * writes
    with tempfile.TemporaryDirectory() as tmp, serve(fake) as url:
        root = Path(tmp)
        harness.import_stock(
            root,
            f"""
[ledger]
path = "inventory.db"

[channels.lzd]
type = "lazada"
app_key = "{lazada_api.APP_KEY}"
app_secret = "${{LZD_SECRET}}"
access_token = "${{LZD_ACCESS}}"
refresh_token = "${{LZD_REFRESH}}"
country = "id"
base_url = "{url}/rest"
timeout = 600
""",
            skus,
            STOCK,
            ENV,
        )
        fake.requests.clear()
        fake.throttled = 0
        result, process = harness.timed_sync(root, ENV)
    report = harness.sync_report(result)
    wall = harness.report_wall(report)
    chain = (2 + 3 + 2) * latency
    rate = writes / INVENTORY_QPS
    floor = max(chain, rate)
    rounds = (
        1
        + math.ceil((product_pages - 1) / PARALLEL)
        + 1
        + math.ceil((order_pages - 1) / PARALLEL)
        + math.ceil(item_calls / PARALLEL)
        + 2 * math.ceil(writes / PARALLEL)
    )
    channel = report["channels"]["lzd"]
    return {
        "exit_code": float(result.returncode),
        "orders_fetched": float(channel["orders_fetched"]),
        "listings_pushed": float(channel["listings_pushed"]),
        "requests": float(len(fake.requests)),
        "minimal_requests": float(minimal),
        "requests_per_minimal": len(fake.requests) / minimal,
        "throttled": float(fake.throttled),
        "wall": wall,
        "process": process,
        "floor": floor,
        "wall_per_floor": wall / floor,
        "concurrency_floor": rounds * latency,
        "wall_per_concurrency_floor": wall / (rounds * latency),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    args = parser.parse_args()
    figures = measure(args.listings, args.orders, args.latency)
    print(f"omnisync sync on Lazada: {args.listings} listings, {args.orders} changed orders, ")
    print(f"{args.latency * 1000:.0f} ms per request; exit code {figures['exit_code']:.0f}")
    print(
        f"orders fetched {figures['orders_fetched']:.0f}, "
        f"listings pushed {figures['listings_pushed']:.0f}"
    )
    print(f"requests            {figures['requests']:8.0f}")
    print(f"minimal requests    {figures['minimal_requests']:8.0f}")
    print(f"requests / minimal  {figures['requests_per_minimal']:8.3f}    (target ≤ 1.05)")
    print(f"901 answers         {figures['throttled']:8.0f}")
    print(f"wall time           {figures['wall']:8.2f} s   (the run, by its report)")
    print(f"process time        {figures['process']:8.2f} s   (start-up included)")
    print(f"rate-limit floor    {figures['floor']:8.2f} s")
    print(f"wall / floor        {figures['wall_per_floor']:8.3f}    (target ≤ 1.25)")
    print(
        f"floor at {PARALLEL} calls   {figures['concurrency_floor']:8.2f} s   "
        f"wall / it {figures['wall_per_concurrency_floor']:.3f}"
    )


if __name__ == "__main__":
    main()
