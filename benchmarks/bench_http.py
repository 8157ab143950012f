"""Benchmark: one `omnisync sync` against loopback Shopify and WooCommerce fakes with latency,
then one against each marketplace's fake (Shopee, Lazada, TikTok Shop) at the same sizes.

Prints figures, asserts nothing. Each fake adds a fixed latency to every request and
enforces its documented limits (Shopify: the 1,000-point single-query cap and the leaky
cost bucket, THROTTLED when it runs dry; WooCommerce: none beyond 100 per page / batch).
The sync runs as the installed CLI in its own process, so the fakes' threads do not share
its interpreter lock.

    .venv/bin/python benchmarks/bench_http.py [--listings 5000] [--orders 2000] [--only shopify]

Each marketplace's own script (benchmarks/bench_shopee.py, bench_lazada.py, bench_tiktok.py)
defines its fake's documented limits, its minimal request count and its floor; this one runs
them and prints their figures beside Shopify's and WooCommerce's.

Definitions of what is printed:
- minimal requests: the fewest requests the same work takes under each channel's documented
  limits and omnisync's query shapes: pages of at most the documented size (Shopify's as many
  orders as fit the 1,000-point cap by Shopify's cost rules, FULL_ORDER_PAGE), writes of at
  most 250 (Shopify) / 100 (Woo) items, and on Woo one re-read per write batch (Woo has no
  compare-and-set; the spec requires the re-read).
- rate-limit floor: the least time the work can take. Shopify: points actually spent minus
  the bucket's starting content, over the restore rate. Never less than the run's chain of
  dependent requests times the latency: the longest channel's fetch chain, then the longest
  push chain, since every channel's targets wait for every channel's orders (a sale on
  Shopify lowers the Woo listing). Shopify's fetch chain is its order cursor pages, which
  may run beside its listing pages but must end after them (the last order page must hold
  every sale a listing read can reflect), so max(order pages, listing pages + 1); its push
  one round of mutations (only the bucket limits them). Woo's fetch chain, as the adapter
  walks it (shorter than Shopify's at every size here): the listings (products page 1, the
  rest, asked together once X-WP-TotalPages is known, then variations) beside the orders
  (page 1, the rest), then the order window's tail (one page: what changed while the
  listings were read); its push one re-read then one write (the requests omnisync keeps in
  flight, adapted to the host from 8 up, are no documented limit: the fake has room for any
  number, as a host with enough PHP workers). Woo's tail request is not in its minimal count.
  Not modelled (so the floor is lower than it could be): Shopify charges a query's requested
  cost up front, so a read must also find its whole requested cost in the bucket.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402
from omnisync.channels.shopify import LISTING_PAGE, MAX_PAGE  # noqa: E402
from omnisync.channels.shopify import queries as shopify_queries  # noqa: E402
from omnisync.channels.woocommerce import BATCH, PAGE  # noqa: E402
from tests.fakes import shopify_api, woocommerce_api  # noqa: E402
from tests.fakes.server import serve  # noqa: E402
from tests.fakes.shopify_api import Bucket, FakeShopify  # noqa: E402
from tests.fakes.woocommerce_api import FakeWoo  # noqa: E402

STOCK = 100
# Orders a page can hold at Shopify's 1,000-point cap: a connection costs 2 plus `first` times
# its node (https://shopify.dev/docs/api/usage/limits, "Cost calculation"), as omnisync asks.
FULL_ORDER_PAGE = min(
    MAX_PAGE,
    (shopify_queries.MAX_QUERY_COST - 2)
    // shopify_queries.order_node_cost(
        shopify_queries.ORDER_LINES,
        shopify_queries.ORDER_REFUNDS,
        shopify_queries.ORDER_REFUND_LINES,
    ),
)
ENV = {
    "SHOPIFY_TOKEN": shopify_api.TOKEN,
    "WOO_KEY": woocommerce_api.KEY,
    "WOO_SECRET": woocommerce_api.SECRET,
}


def build(args: argparse.Namespace) -> tuple[FakeShopify, FakeWoo, list[str]]:
    """Both shops with the same SKUs; each gets `orders` recent one-unit orders."""
    skus = [f"SKU-{n:05d}" for n in range(args.listings)]
    # All orders inside the run's window: from an hour ago, one a second.
    recent = datetime.now(UTC) - timedelta(hours=1)
    shopify = FakeShopify(
        latency=args.latency,
        bucket=Bucket(maximum=args.bucket, rate=args.restore_rate, available=args.bucket),
    )
    for sku in skus:
        shopify.add_variant(sku, STOCK)
    for n in range(args.orders):  # Shopify sells the first `orders` SKUs
        stamp = (recent + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        shopify.add_order(100000 + n, [(skus[n], 1)], updated=stamp)

    woo = FakeWoo(latency=args.latency)
    per_parent = 10
    variable = args.listings // 5 // per_parent  # a fifth of the listings are variations
    simple = args.listings - variable * per_parent
    for sku in skus[:simple]:
        woo.add_product(sku, STOCK)
    for p in range(variable):
        chunk = skus[simple + p * per_parent : simple + (p + 1) * per_parent]
        woo.add_variable(f"PARENT-{p}", [(sku, STOCK) for sku in chunk])
    for n in range(args.orders):  # Woo sells the last `orders` SKUs
        stamp = (recent + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S")
        woo.add_order([(skus[-1 - n], 1)], status="processing", modified=stamp)
    return shopify, woo, skus


def minimal(args: argparse.Namespace, skus: list[str], woo: FakeWoo) -> tuple[int, int, int]:
    """Minimal requests for Shopify and Woo, and how many listings change on each."""
    sold = set(skus[: args.orders]) | set(skus[-args.orders :])
    changed = len(sold)
    shopify = (
        math.ceil(args.listings / LISTING_PAGE)
        + max(1, math.ceil(args.orders / FULL_ORDER_PAGE))
        + math.ceil(changed / MAX_PAGE)
    )
    simple_changed = sum(
        1 for p in woo.products.values() if p["type"] == "simple" and p["sku"] in sold
    )
    # Orders: the pages of `status=any` (trashed orders are not read: see the adapter).
    woo_min = math.ceil(len(woo.products) / PAGE) + max(1, math.ceil(args.orders / PAGE))
    woo_min += 2 * math.ceil(simple_changed / BATCH)
    for variations in woo.variations.values():
        woo_min += math.ceil(len(variations) / PAGE)
        hit = sum(1 for v in variations.values() if v["sku"] in sold)
        woo_min += 2 * math.ceil(hit / BATCH)
    return shopify, woo_min, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--bucket", type=float, default=2000.0, help="Shopify maximumAvailable")
    parser.add_argument(
        "--restore-rate", type=float, default=2000.0, help="Shopify points restored per second"
    )
    parser.add_argument(
        "--only",
        choices=["all", "shopify", "marketplaces"],
        default="all",
        help="run Shopify + WooCommerce, the marketplaces, or all",
    )
    args = parser.parse_args()
    if args.only != "marketplaces":
        shopify_and_woo(args)
    if args.only != "shopify":
        marketplaces(args)


def marketplaces(args: argparse.Namespace) -> None:
    """Shopee, Lazada and TikTok Shop, one sync each, as their own scripts measure it."""
    from benchmarks import bench_lazada, bench_shopee, bench_tiktok

    rows = []
    for name, module in (
        ("Shopee", bench_shopee),
        ("Lazada", bench_lazada),
        ("TikTok Shop", bench_tiktok),
    ):
        figures = module.measure(args.listings, args.orders, args.latency)
        minimal = figures.get("minimal_requests", figures.get("minimal", float("nan")))
        rows.append((name, figures["requests"], minimal, figures["wall"], figures["floor"]))
    print()
    print(f"marketplaces: {args.listings} listings, {args.orders} changed orders each")
    print(
        f"{'':14}{'requests':>10}{'minimal':>9}{'req/min':>9}{'wall s':>9}{'floor s':>9}"
        f"{'wall/floor':>12}"
    )
    for name, requests, minimal, wall, floor in rows:
        print(
            f"{name:14}{requests:>10.0f}{minimal:>9.0f}{requests / minimal:>9.3f}"
            f"{wall:>9.2f}{floor:>9.2f}{wall / floor:>12.3f}"
        )
    print("targets: req/min ≤ 1.05, wall/floor ≤ 1.25 (floors: see each bench_<channel>.py)")


def shopify_and_woo(args: argparse.Namespace) -> None:
    """One sync of Shopify and WooCommerce together; prints its figures."""
    m = measure_shopify_woo(args)
    report, changed = m["report"], m["changed"]
    print(f"omnisync sync: {args.listings} listings per channel, {args.orders} changed orders")
    print(f"per channel, {changed} listings to push, {args.latency * 1000:.0f} ms per request")
    print(f"Shopify bucket {args.bucket:g} points, restoring {args.restore_rate:g}/s")
    print(f"exit code {m['exit_code']}")
    for name, channel in report["channels"].items():
        print(
            f"  {name}: {channel['status']}, {channel['orders_fetched']} orders, "
            f"{channel['listings_pushed']} pushed, errors {channel['errors']}"
        )
    print(f"engine timings: {report.get('timings')}")
    print()
    print(f"{'':24}{'Shopify':>12}{'WooCommerce':>14}")
    print(f"{'requests':24}{m['shopify_requests']:>12}{m['woo_requests']:>14}")
    print(f"{'minimal requests':24}{m['shopify_minimal']:>12}{m['woo_minimal']:>14}")
    print(
        f"{'requests / minimal':24}{m['shopify_requests'] / m['shopify_minimal']:>12.3f}"
        f"{m['woo_requests'] / m['woo_minimal']:>14.3f}"
    )
    print(f"{'THROTTLED answers':24}{m['throttled']:>12}{'-':>14}")
    print(f"{'most requests at once':24}{'-':>12}{m['woo_peak']:>14}")
    print(f"{'points spent':24}{m['points']:>12.0f}{'-':>14}")
    print(f"{'floor, s':24}{m['shopify_floor']:>12.2f}{m['woo_floor']:>14.2f}")
    print()
    print(f"wall time           {m['wall']:8.2f} s   (the run, by its report)")
    print(f"process time        {m['process']:8.2f} s   (the CLI process, start-up included)")
    print(f"rate-limit floor    {m['floor']:8.2f} s   (+ {m['startup']:.2f} s start-up)")
    print(f"process / floor     {m['process_ratio']:8.3f}    (target ≤ 1.25)")
    print(f"requests / minimal  {m['requests_ratio']:8.3f}    (target ≤ 1.05)")


def measure_shopify_woo(args: argparse.Namespace) -> dict[str, Any]:
    """Run one sync against both fakes; return its requests, floors and times."""
    shopify, woo, skus = build(args)
    shopify_min, woo_min, changed = minimal(args, skus, woo)
    with tempfile.TemporaryDirectory() as tmp, serve(shopify) as s_url, serve(woo) as w_url:
        root = Path(tmp)
        harness.import_stock(
            root,
            f"""
[ledger]
path = "inventory.db"

[channels.shop]
type = "shopify"
store = "bench.myshopify.com"
token = "${{SHOPIFY_TOKEN}}"
location = "1"
base_url = "{s_url}"
timeout = 600

[channels.woo]
type = "woocommerce"
url = "https://bench.example"
key = "${{WOO_KEY}}"
secret = "${{WOO_SECRET}}"
base_url = "{w_url}"
timeout = 600
""",
            skus,
            STOCK,
            ENV,
        )
        shopify.requests.clear()
        woo.requests.clear()
        shopify.spent = 0.0
        shopify.bucket.available, shopify.bucket.stamp = args.bucket, time.monotonic()

        result, process = harness.timed_sync(root, ENV)
    report = harness.sync_report(result)
    # The run's own clock: from the run's start to its report, without interpreter start-up.
    # What a seller or cron waits for is `process`, start-up included: the figure judged.
    wall = harness.report_wall(report)

    shopify_requests, woo_requests = len(shopify.requests), len(woo.requests)
    cost_floor = max(0.0, shopify.spent - args.bucket) / args.restore_rate
    listing_pages = math.ceil(args.listings / LISTING_PAGE)
    order_pages = max(1, math.ceil(args.orders / FULL_ORDER_PAGE))
    shopify_fetch, shopify_push = max(order_pages, listing_pages + 1), 1
    # max(products p1, rest, variations; orders p1, rest) + the orders' tail | read; write
    woo_fetch, woo_push = max(3, 2) + 1, 2
    shopify_chain = (shopify_fetch + shopify_push) * args.latency
    woo_chain = (woo_fetch + woo_push) * args.latency
    chain = (max(shopify_fetch, woo_fetch) + max(shopify_push, woo_push)) * args.latency
    floor = max(cost_floor, chain)

    total = shopify_requests + woo_requests
    return {
        "report": report,
        "changed": changed,
        "exit_code": result.returncode,
        "shopify_requests": shopify_requests,
        "woo_requests": woo_requests,
        "shopify_minimal": shopify_min,
        "woo_minimal": woo_min,
        "throttled": shopify.throttled,
        "woo_peak": woo.peak,
        "points": shopify.spent,
        "shopify_floor": max(cost_floor, shopify_chain),
        "woo_floor": woo_chain,
        "wall": wall,
        "process": process,
        "floor": floor,
        "startup": harness.startup_seconds(),
        # The floor counts omnisync's own process start-up (`omnisync --version`), as
        # `process` counts it.
        "process_ratio": harness.process_ratio(process, floor),
        "requests_ratio": total / (shopify_min + woo_min),
    }


if __name__ == "__main__":
    main()
