"""Benchmark: one `omnisync sync` against a loopback fake Lazada with latency and its limits.

Prints figures, asserts nothing. The fake adds a fixed latency to every request and enforces
Lazada's documented limits: 50 products a page (GetProducts), 100 orders a page and offsets
up to 4,500 (GetOrders: "Max Size:4500"), items of 50 orders a call (GetMultipleOrderItems),
50 SKUs a stock update and 50 stock-update calls a second per seller
(UpdateSellableQuantity), and 50 calls a second for each read API (an assumption, below),
answering `901` beyond that. The sync runs as the installed CLI in its own process.

    .venv/bin/python benchmarks/bench_lazada.py [--listings 5000] [--orders 2000]

Definitions of what is printed:
- minimal requests: the fewest requests the same work takes under those limits: the product
  pages, the order pages, the item batches, and per 50 changed SKUs one re-read and one
  write (Lazada has no compare-and-set; the spec requires the re-read).
- rate-limit floor: the least time any client could take under Lazada's limits
  (`benchmarks.paced`): 50 calls in any one second per API and seller. That figure is
  documented for the inventory API only ("Each seller can only call the inventory API 50
  times per second", inventory-management-api.md); for GetProducts, GetOrders and
  GetMultipleOrderItems Lazada documents that a per-API limit exists ("each API will have a
  different traffic limit", create-update-product-q-a.md Q10; 901 in their error lists) but
  not its figure, so 50 is an assumption, the one the fake enforces and the adapter keeps to.
  Listings and orders are read side by side (first product page, then the rest; first
  order page, then the rest with the first page's items, then the other items), then the
  tail of the order window (what changed while the listings were read: one order page),
  then the push: the re-reads, then the writes. The tail's request is not in the minimal
  count: a client reading one chain after the other needs none.
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
from benchmarks.paced import Calls, floor  # noqa: E402
from omnisync.channels.lazada.api import QPS  # noqa: E402
from omnisync.channels.lazada.channel import (  # noqa: E402
    ITEMS_BATCH,
    ORDERS_PAGE,
    PRODUCTS_PAGE,
    PUSH_BATCH,
)
from tests.fakes import lazada_api  # noqa: E402
from tests.fakes.lazada_api import FakeLazada  # noqa: E402
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
    first_items = math.ceil(min(orders, ORDERS_PAGE) / ITEMS_BATCH)
    least = floor(
        [
            [[Calls("products", 1)], [Calls("products", product_pages - 1)]],
            [
                [Calls("orders", 1)],
                [Calls("orders", order_pages - 1), Calls("items", first_items)],
                [Calls("items", item_calls - first_items)],
            ],
        ],
        # The window's tail (one order page), then the push.
        then=[[Calls("orders", 1)], [Calls("products", writes)], [Calls("update", writes)]],
        latency=latency,
        qps=QPS,
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
        "floor": least,
        "wall_per_floor": wall / least,
        "process_per_floor": process / least,
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
    print(f"wall / floor        {figures['wall_per_floor']:8.3f}")
    print(f"process / floor     {figures['process_per_floor']:8.3f}    (target ≤ 1.25)")


if __name__ == "__main__":
    main()
