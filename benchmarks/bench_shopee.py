"""Benchmark: one `omnisync sync` against a loopback fake Shopee with latency per request.

Prints figures, asserts nothing. The fake adds a fixed latency to every request and enforces
Shopee's documented limits: pages of ≤ 100 (items, orders, returns), ≤ 50 ids per
get_item_base_info / get_order_detail, update_stock one item and ≤ 50 models per call, order
and return windows of ≤ 15 days; and a rate: error_rate_limit past `--rate` calls in any one
second, the shop's calls together. Shopee documents the code but no figure (its API docs'
common_error_list, its developer guide, its partner rules: see
omnisync.channels.shopee.client.QPS): the default 50 a second is an assumption, the one the
adapter keeps to, not Shopee's word.

    .venv/bin/python benchmarks/bench_shopee.py [--listings 5000] [--orders 2000] [--rate 50]

Definitions:
- minimal requests: the fewest requests under those limits and the adapter's query shapes:
  item pages, item details (50 a call), one model list per item with variations, order pages,
  one return page, order details (50 a call), and for the push one re-read per 50 items
  without models (one model list per item with models) plus one update_stock per item.
- rate-limit floor: the least time any client could take under that rate
  (`benchmarks.paced`): listings (first item page; the other pages with the first page's
  details; the other details with the model lists) and orders (the cursor chain of pages,
  each page's details as it comes; the return page) side by side, then the tail of the
  order window (what changed while the listings were read: one order page and one return
  page at once), then the push (re-reads, then the writes), every call against the shop's
  one quota. The tail's two requests are not in the minimal count: a client reading one
  chain after the other needs none.
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
from benchmarks.paced import Calls, floor  # noqa: E402
from omnisync.channels.shopee.channel import (  # noqa: E402
    DETAIL_BATCH,
    MODELS_PER_CALL,
    PAGE,
)
from omnisync.channels.shopee.client import QPS  # noqa: E402
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


def minimal(listings: int, orders: int) -> int:
    """Minimal requests for `build`'s shop."""
    variation_items = listings // 5 // MODELS
    simple = listings - variation_items * MODELS
    items = simple + variation_items
    sold = min(orders, simple)
    reads = math.ceil(items / PAGE) + math.ceil(items / DETAIL_BATCH) + variation_items
    order_pages = max(1, math.ceil(orders / PAGE))
    fetch = order_pages + 1 + math.ceil(orders / DETAIL_BATCH)
    push = math.ceil(sold / DETAIL_BATCH) + sold
    assert MODELS <= MODELS_PER_CALL
    return reads + fetch + push


def least_time(listings: int, orders: int, latency: float, rate: float) -> float:
    """The rate-limit floor for `build`'s shop (see the module docstring)."""
    variation_items = listings // 5 // MODELS
    items = listings - variation_items * MODELS + variation_items
    sold = min(orders, listings - variation_items * MODELS)
    pages = math.ceil(items / PAGE)
    details = math.ceil(items / DETAIL_BATCH)
    first = math.ceil(min(items, PAGE) / DETAIL_BATCH)
    order_pages = [min(PAGE, orders - n * PAGE) for n in range(max(1, math.ceil(orders / PAGE)))]
    per_page = [math.ceil(count / DETAIL_BATCH) for count in order_pages]
    # Page n's call goes with page n − 1's details; the last page's details come after it.
    order_chain = [
        [Calls("shop", 1), Calls("shop", per_page[n - 1] if n else 0)]
        for n in range(len(order_pages))
    ] + [[Calls("shop", per_page[-1])]]
    return floor(
        [
            [
                [Calls("shop", 1)],
                [Calls("shop", pages - 1), Calls("shop", first)],
                [Calls("shop", details - first), Calls("shop", variation_items)],
            ],
            order_chain,
            [[Calls("shop", 1)]],  # returns
        ],
        then=[
            [Calls("shop", 2)],  # the window's tail: an order page and a return page
            [Calls("shop", math.ceil(sold / DETAIL_BATCH))],
            [Calls("shop", sold)],
        ],
        latency=latency,
        qps=rate or math.inf,
    )


def measure(
    listings: int, orders: int, latency: float, rate: float = float(QPS)
) -> dict[str, float]:
    """Run one sync; return requests, minimal requests, wall time and the floor."""
    fake, skus = build(listings, orders, latency, rate)
    least = minimal(listings, orders)
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
    least_seconds = least_time(listings, orders, latency, rate)
    return {
        "requests": float(len(fake.requests)),
        "minimal_requests": float(least),
        "requests_ratio": len(fake.requests) / least,
        "wall": wall,
        "process": process,
        "floor": least_seconds,
        "wall_ratio": wall / least_seconds,
        "process_ratio": process / least_seconds,
        "throttled": float(fake.throttled),
        "pushed": float(channel["listings_pushed"]),
        "orders": float(channel["orders_fetched"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument(
        "--rate", type=float, default=float(QPS), help="the fake's calls a second (0: none)"
    )
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
    print(f"wall / floor        {figures['wall_ratio']:8.3f}")
    print(f"process time        {figures['process']:8.2f} s   (start-up included)")
    print(f"process / floor     {figures['process_ratio']:8.3f}    (target ≤ 1.25)")
    print(f"error_rate_limit    {figures['throttled']:8.0f}")


if __name__ == "__main__":
    main()
