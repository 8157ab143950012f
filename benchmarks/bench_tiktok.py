"""Benchmark: one `omnisync sync` against the loopback TikTok Shop fake with latency.

Prints figures, asserts nothing. The fake adds a fixed latency to every request and enforces
TikTok's documented limits: 50 requests a second per API (HTTP 429 beyond), pages of at most
100 products / 100 orders / 50 returns, Inventory Search of at most 600 SKUs, one product per
stock update. The sync runs as the CLI in its own process.

    .venv/bin/python benchmarks/bench_tiktok.py [--listings 5000] [--orders 2000]

Definitions of what is printed:
- minimal requests: the fewest requests the same work takes under those limits: every page of
  active products (5 SKUs each), every page of orders in the window, one page of returns for
  the window, one Inventory Search per 600 SKUs to push (the re-read that stands in for
  compare-and-set), and one update per product with a SKU to push.
- rate-limit floor: the least time any client could take under TikTok's documented rate, 50
  requests a second per API, app and shop (rate-limits.json; `benchmarks.paced`): the chain
  of product pages followed by the tail of the order window (what changed while the listings
  were read: one order page and one return page at once, which need only the listings to be
  read), beside the chain of order pages and the return page; then the push (the re-reads,
  then the writes at no more than 50 in any one second). The tail's two requests are not in
  the minimal count: a client reading one chain after the other needs none, so the requests
  ratio shows their cost; it never finishes sooner (listings + orders is at least the longer
  of listings + tail and orders, the tail being one page).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402
from benchmarks.paced import Calls, floor  # noqa: E402
from omnisync.channels.tiktok.client import QPS  # noqa: E402
from omnisync.channels.tiktok.search import (  # noqa: E402
    INVENTORY_SKUS,
    ORDER_PAGE,
    PRODUCT_PAGE,
)
from tests.fakes import tiktok_api  # noqa: E402
from tests.fakes.server import serve  # noqa: E402
from tests.fakes.tiktok_api import FakeTikTok  # noqa: E402

STOCK = 100
ENV = {"TIKTOK_SECRET": tiktok_api.APP_SECRET}
PER_PRODUCT = 5
# The order window's tail, read once the listings are (omnisync.sync.channel._read_beside;
# the adapter starts it as soon as they are, beside the order chain's last pages).
TAIL = [Calls("orders", 1), Calls("returns", 1)]


def build(
    listings: int, orders: int, latency: float
) -> tuple[FakeTikTok, list[str], dict[str, str]]:
    """A shop of `listings` SKUs, 5 to a product; the first `orders` SKUs sell one unit each."""
    fake = FakeTikTok(latency=latency)
    skus = [f"SKU-{n:05d}" for n in range(listings)]
    for start in range(0, listings, PER_PRODUCT):
        fake.add_product([(sku, STOCK) for sku in skus[start : start + PER_PRODUCT]])
    recent = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    for n in range(orders):
        fake.add_order([(skus[n], 1)], update_time=recent + n % 3000)
    issued = fake.issue()
    return fake, skus, issued


def minimal(listings: int, orders: int) -> int:
    """Minimal requests for `build`'s shop (no tail: see the module docstring)."""
    return sum(sum(calls.count for calls in stage) for stage in _stages(listings, orders))


def _stages(listings: int, orders: int) -> list[list[Calls]]:
    return [stage for chain in _chains(listings, orders) for stage in chain] + _push(
        listings, orders
    )


def _chains(listings: int, orders: int) -> list[list[list[Calls]]]:
    """The reads, as chains of dependent pages (see the module docstring)."""
    product_pages = math.ceil(math.ceil(listings / PER_PRODUCT) / PRODUCT_PAGE)
    order_pages = max(1, math.ceil(orders / ORDER_PAGE))
    return [
        [[Calls("products", 1)]] * product_pages,
        [[Calls("orders", 1)]] * order_pages,
        [[Calls("returns", 1)]],
    ]


def _timed_chains(listings: int, orders: int) -> list[list[list[Calls]]]:
    """The reads as the floor times them: the tail follows the listings' chain."""
    products, *others = _chains(listings, orders)
    return [[*products, TAIL], *others]


def _push(listings: int, orders: int) -> list[list[Calls]]:
    changed = min(orders, listings)
    return [
        [Calls("inventory", math.ceil(changed / INVENTORY_SKUS))],
        [Calls("update", math.ceil(changed / PER_PRODUCT))],
    ]


def measure(listings: int = 5000, orders: int = 2000, latency: float = 0.05) -> dict[str, float]:
    """Run one sync; the figures bench_http.py prints for each channel."""
    fake, skus, issued = build(listings, orders, latency)
    least = minimal(listings, orders)
    with tempfile.TemporaryDirectory() as tmp, serve(fake) as url:
        root = Path(tmp)
        harness.import_stock(
            root,
            f"""
[ledger]
path = "inventory.db"

[channels.tiktok]
type = "tiktok"
app_key = "{tiktok_api.APP_KEY}"
app_secret = "${{TIKTOK_SECRET}}"
access_token = "{issued["access_token"]}"
refresh_token = "{issued["refresh_token"]}"
shop_cipher = "{tiktok_api.SHOP_CIPHER}"
base_url = "{url}"
timeout = 600
""",
            skus,
            STOCK,
            ENV,
        )
        fake.requests.clear()
        result, process = harness.timed_sync(root, ENV)  # process: start-up included
    report = harness.sync_report(result)
    wall = harness.report_wall(report)
    least_seconds = floor(
        _timed_chains(listings, orders),
        then=_push(listings, orders),
        latency=latency,
        qps=QPS,
    )
    requests = len(fake.requests)
    return {
        "requests": float(requests),
        "minimal": float(least),
        "requests_ratio": requests / least,
        "wall": wall,
        "process": process,
        "floor": least_seconds,
        "wall_ratio": wall / least_seconds,
        "process_ratio": process / least_seconds,
        "exit_code": float(result.returncode),
        "pushed": float(report["channels"]["tiktok"]["listings_pushed"]),
        "orders": float(report["channels"]["tiktok"]["orders_fetched"]),
        "throttled": float(fake.throttled),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    args = parser.parse_args()
    started = time.monotonic()
    figures = measure(args.listings, args.orders, args.latency)
    print(f"omnisync sync: TikTok Shop, {args.listings} listings, {args.orders} changed orders,")
    print(f"{args.latency * 1000:.0f} ms per request, 50 requests/s per API enforced")
    print(
        f"exit code {figures['exit_code']:.0f}, {figures['orders']:.0f} orders fetched, "
        f"{figures['pushed']:.0f} listings pushed"
    )
    throttled = f"({figures['throttled']:.0f} answered 429)"
    print(f"requests            {figures['requests']:8.0f}   {throttled}")
    print(f"minimal requests    {figures['minimal']:8.0f}")
    print(f"requests / minimal  {figures['requests_ratio']:8.3f}    (target ≤ 1.05)")
    print(f"wall time           {figures['wall']:8.2f} s   (the run, by its report)")
    print(f"rate-limit floor    {figures['floor']:8.2f} s")
    print(f"wall / floor        {figures['wall_ratio']:8.3f}")
    print(f"process time        {figures['process']:8.2f} s   (start-up included)")
    print(f"process / floor     {figures['process_ratio']:8.3f}    (target ≤ 1.25)")
    print(f"benchmark total     {time.monotonic() - started:8.2f} s")


if __name__ == "__main__":
    main()
