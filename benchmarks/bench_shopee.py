"""Benchmark: one `omnisync sync` against a loopback fake Shopee with latency per request.

Prints figures, asserts nothing. The fake adds a fixed latency to every request and enforces
Shopee's documented limits: pages of ≤ 100 (items, orders, returns), ≤ 50 ids per
get_item_base_info / get_order_detail, update_stock one item and ≤ 50 models per call, order
and return windows of ≤ 15 days. Shopee publishes no per-second rate limit; `--rate N` makes
the fake answer error_rate_limit past N calls a second (0: none, the default).

    .venv/bin/python benchmarks/bench_shopee.py [--listings 5000] [--orders 2000]

Definitions:
- minimal requests: the fewest requests under those limits and the adapter's query shapes:
  item pages, item details (50 a call), one model list per item with variations, order pages,
  one return page, order details (50 a call), and for the push one re-read per 50 items
  without models (one model list per item with models) plus one update_stock per item.
- rate-limit floor: the least time the work can take. With no documented rate, the chain of
  requests that must wait for each other (item pages, order pages, then one round of each
  parallel step) times the latency; with `--rate`, never less than minimal requests / rate.
  "in-flight floor" adds the adapter's own cap (8 requests at once), which no platform rule
  sets: minimal requests × latency / 8.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402
from omnisync.channels.shopee.channel import (  # noqa: E402
    CONCURRENCY,
    DETAIL_BATCH,
    MODELS_PER_CALL,
    PAGE,
)
from tests.fakes import shopee_api  # noqa: E402
from tests.fakes.server import serve  # noqa: E402
from tests.fakes.shopee_api import FakeShopee  # noqa: E402

STOCK = 100
ENV = {"SHOPEE_PARTNER_KEY": shopee_api.PARTNER_KEY}
MODELS = 10  # a fifth of the listings are models of items with 10 variations each


def build(listings: int, orders: int, latency: float, rate: float) -> tuple[FakeShopee, list[str]]:
    """A shop whose first `orders` simple items each sold one unit an hour ago."""
    fake = FakeShopee(latency=latency, rate=rate or None)
    variation_items = listings // 5 // MODELS
    simple = listings - variation_items * MODELS
    skus = [f"SKU-{n:05d}" for n in range(listings)]
    ids = [fake.add_item(sku, STOCK) for sku in skus[:simple]]
    for n in range(variation_items):
        chunk = skus[simple + n * MODELS : simple + (n + 1) * MODELS]
        ids += fake.add_variations(f"PARENT-{n}", [(sku, STOCK) for sku in chunk])
    recent = int(time.time()) - 3600
    for n in range(min(orders, simple)):
        fake.add_order([(ids[n], 1)], updated=recent + n % 3000)
    return fake, skus


def minimal(listings: int, orders: int) -> tuple[int, int]:
    """Minimal requests, and the chain of dependent requests, for `build`'s shop."""
    variation_items = listings // 5 // MODELS
    simple = listings - variation_items * MODELS
    items = simple + variation_items
    sold = min(orders, simple)
    reads = math.ceil(items / PAGE) + math.ceil(items / DETAIL_BATCH) + variation_items
    order_pages = max(1, math.ceil(orders / PAGE))
    fetch = order_pages + 1 + math.ceil(orders / DETAIL_BATCH)
    push = math.ceil(sold / DETAIL_BATCH) + sold
    assert MODELS <= MODELS_PER_CALL
    chain = math.ceil(items / PAGE) + 2 + order_pages + 1 + 2
    return reads + fetch + push, chain


def measure(listings: int, orders: int, latency: float, rate: float = 0.0) -> dict[str, float]:
    """Run one sync; return requests, minimal requests, wall time and floors."""
    fake, skus = build(listings, orders, latency, rate)
    least, chain = minimal(listings, orders)
    with tempfile.TemporaryDirectory() as tmp, serve(fake) as url:
        root = Path(tmp)
        harness.import_stock(
            root,
            f"""
[ledger]
path = "inventory.db"

[channels.shopee]
type = "shopee"
partner_id = {shopee_api.PARTNER_ID}
partner_key = "${{SHOPEE_PARTNER_KEY}}"
shop_id = {shopee_api.SHOP_ID}
access_token = "{shopee_api.ACCESS_TOKEN}"
refresh_token = "{shopee_api.REFRESH_TOKEN}"
base_url = "{url}"
timeout = 900
""",
            skus,
            STOCK,
            ENV,
        )
        fake.requests.clear()
        result, process = harness.timed_sync(root, ENV)  # process: start-up included
    report = harness.sync_report(result)
    channel = report["channels"]["shopee"]
    if channel["status"] != "ok":
        sys.exit(f"the Shopee channel failed: {channel['errors']}")
    wall = harness.report_wall(report)
    floor = chain * latency
    if rate:
        floor = max(floor, least / rate)
    in_flight = max(floor, least * latency / CONCURRENCY)
    return {
        "requests": float(len(fake.requests)),
        "minimal_requests": float(least),
        "requests_ratio": len(fake.requests) / least,
        "wall": wall,
        "process": process,
        "floor": floor,
        "wall_ratio": wall / floor,
        "in_flight_floor": in_flight,
        "wall_ratio_in_flight": wall / in_flight,
        "pushed": float(channel["listings_pushed"]),
        "orders": float(channel["orders_fetched"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--rate", type=float, default=0.0, help="fake's calls a second (0: none)")
    args = parser.parse_args()
    figures = measure(args.listings, args.orders, args.latency, args.rate)
    print(
        f"omnisync sync, Shopee: {args.listings} listings, {args.orders} changed orders, "
        f"{args.latency * 1000:.0f} ms per request, rate limit {args.rate or 'none'}"
    )
    print(f"  orders fetched {figures['orders']:.0f}, listings pushed {figures['pushed']:.0f}")
    print(f"requests            {figures['requests']:8.0f}")
    print(f"minimal requests    {figures['minimal_requests']:8.0f}")
    print(f"requests / minimal  {figures['requests_ratio']:8.3f}    (target ≤ 1.05)")
    print(f"wall time           {figures['wall']:8.2f} s")
    print(f"rate-limit floor    {figures['floor']:8.2f} s")
    print(f"wall / floor        {figures['wall_ratio']:8.3f}    (target ≤ 1.25)")
    print(f"in-flight floor     {figures['in_flight_floor']:8.2f} s   ({CONCURRENCY} at once)")
    print(f"wall / that floor   {figures['wall_ratio_in_flight']:8.3f}")


if __name__ == "__main__":
    main()
