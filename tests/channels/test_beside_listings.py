"""Orders read beside the listings (TikTok, Lazada, Woo, Shopee): every sale counted, none lost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from omnisync.channels.base import Channel, ChannelConfig, ChannelContext
from omnisync.channels.lazada import LazadaChannel
from omnisync.channels.shopee import ShopeeChannel
from omnisync.channels.tiktok import TikTokChannel
from omnisync.channels.woocommerce import WooCommerceChannel
from omnisync.config import load_config
from omnisync.ledger import Ledger
from omnisync.report import RunReport
from omnisync.sync import SyncOptions, run_sync
from tests.channels.conftest import FAST, woo_settings
from tests.channels.test_tiktok import settings as tiktok_settings
from tests.fakes import lazada_client
from tests.fakes.lazada_api import FakeLazada
from tests.fakes.server import Fault, Request, Response
from tests.fakes.shopee_api import FakeShopee
from tests.fakes.shopee_channel import MemoryTokens
from tests.fakes.shopee_channel import config as shopee_config
from tests.fakes.tiktok_api import FakeTikTok
from tests.fakes.tiktok_protocol import error as tiktok_error
from tests.fakes.woocommerce_api import FakeWoo
from tests.helpers import Shop, invoke

STOCK = 50
LISTINGS = 250  # several pages on each platform (TikTok 100, Lazada 50, Woo 100 a page)
LATENCY = 0.02
# Whole seconds: the platforms stamp orders so, and the run's clock is set from here.
BASE = int(datetime.now(UTC).timestamp())


def moment(second: int) -> datetime:
    return datetime.fromtimestamp(second, UTC)


@dataclass
class Clock:
    """The run's wall clock: still, moved on by a test while the listings are read."""

    at: int = BASE

    def now(self) -> datetime:
        return moment(self.at)


@dataclass
class Market:
    """One platform's fake behind its adapter, with what these tests do to a shop there."""

    fake: Any
    open: Callable[[ChannelConfig, ChannelContext], Channel]
    listing_path: str
    order_path: str
    add_listing: Callable[[str], None]
    add_order: Callable[[str, int, int], str]  # sku, units, at (s) -> order id
    cancel: Callable[[str, int], None]  # order id, at (s)
    sell: Callable[[str, int], None]
    stock: Callable[[str], int]
    failure: Response
    # Listings and an order whose lines name no SKU the ledger knows: mapped through the
    # listings read this run. Returns the ledger SKU its units count against.
    add_mapped_order: Callable[[int, int], str]
    extra_skus: list[str] = field(default_factory=list)

    def requests(self, path: str) -> list[int]:
        return [n for n, r in enumerate(self.fake.requests) if r.path == path]


def tiktok() -> Market:
    fake = FakeTikTok(latency=LATENCY)

    def open_(config: ChannelConfig, context: ChannelContext) -> Channel:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
        # TikTok's clock agrees with the run's, as on a machine kept right: it refuses request
        # times over 5 minutes old, and BASE is from when this module was imported.
        fake.clock = lambda: context.now().timestamp()
        # The run's clock, as open_channel passes it: the tail it reads early ends by it.
        return TikTokChannel(
            config.name,
            tiktok_settings(fake),
            client=client,
            policy=FAST,
            budget=context.budget,
            now=context.now,
        )

    def add_order(sku: str, units: int, at: int) -> str:
        return fake.add_order([(sku, units)], update_time=at, create_time=at)

    def mapped(units: int, at: int) -> str:
        fake.add_product([("BLANK", STOCK)])
        oid = fake.add_order([("BLANK", units)], update_time=at, create_time=at, blank_sku=True)
        return "BLANK" if oid else ""

    return Market(
        fake=fake,
        open=open_,
        listing_path="/product/202502/products/search",
        order_path="/order/202309/orders/search",
        add_listing=lambda sku: None if fake.add_product([(sku, STOCK)]) else None,
        add_order=add_order,
        cancel=lambda oid, at: fake.set_status(oid, "CANCELLED", update_time=at),
        sell=fake.sell,
        stock=fake.stock,
        # search-products / get-order-list errors: a refused page size (not retried).
        failure=tiktok_error(400, 12019109, "page size is invalid"),
        add_mapped_order=mapped,
    )


def lazada() -> Market:
    fake = FakeLazada(latency=LATENCY)
    ids: dict[str, int] = {}

    def open_(config: ChannelConfig, context: ChannelContext) -> Channel:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
        ctx = ChannelContext(budget=context.budget, http=client)
        return LazadaChannel(
            config.name,
            lazada_client.settings(),
            context=ctx,
            base_url=lazada_client.BASE,
            policy=FAST,
        )

    def add_listing(sku: str) -> None:
        _, (sku_id,) = fake.add_product([(sku, STOCK)])
        ids[sku] = sku_id

    def add_order(sku: str, units: int, at: int, *, with_sku: bool = True) -> str:
        items = [(sku, ids[sku], "pending")] * units
        return str(fake.add_order(items, updated=moment(at), with_sku=with_sku))

    def cancel(oid: str, at: int) -> None:
        for index in range(len(fake.orders[oid]["items"])):
            fake.set_item_status(oid, index, "canceled", updated=moment(at))

    def mapped(units: int, at: int) -> str:
        add_listing("BLANK")
        add_order("BLANK", units, at, with_sku=False)
        return "BLANK"

    return Market(
        fake=fake,
        open=open_,
        listing_path="/rest/products/get",
        order_path="/rest/orders/get",
        add_listing=add_listing,
        add_order=add_order,
        cancel=cancel,
        sell=lambda sku, units: fake.sell(ids[sku], units),
        stock=lambda sku: fake.stock(ids[sku]),
        # getorders.json error codes: E019 Invalid Limit (an ISV error, not retried).
        failure=FakeLazada._error("19", "E019: Invalid Limit"),
        add_mapped_order=mapped,
    )


def woo(*, drop_auth_header: bool = False, plain_permalinks: bool = False) -> Market:
    fake = FakeWoo(
        latency=LATENCY, drop_auth_header=drop_auth_header, plain_permalinks=plain_permalinks
    )

    def open_(config: ChannelConfig, context: ChannelContext) -> Channel:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
        return WooCommerceChannel(
            config.name, woo_settings(), client=client, policy=FAST, budget=context.budget
        )

    def stamp(at: int) -> str:
        return moment(at).replace(tzinfo=None).isoformat(timespec="seconds")

    def cancel(oid: str, at: int) -> None:
        fake.orders[int(oid)] |= {"status": "cancelled", "date_modified_gmt": stamp(at)}

    def mapped(units: int, at: int) -> str:
        # A variation selling from its parent's stock: its line names its own SKU, and only
        # the listings say its sales count against the parent's.
        fake.add_variable("TEE", [("TEE-RED", None, "parent")], stock=STOCK)
        fake.add_order([("TEE-RED", units)], modified=stamp(at))
        return "TEE"

    return Market(
        fake=fake,
        open=open_,
        listing_path="/wp-json/wc/v3/products",
        order_path="/wp-json/wc/v3/orders",
        add_listing=lambda sku: None if fake.add_product(sku, STOCK) else None,
        add_order=lambda sku, units, at: str(fake.add_order([(sku, units)], modified=stamp(at))),
        cancel=cancel,
        sell=fake.sell,
        stock=lambda sku: fake.stock(sku) or 0,
        # WP REST's answer to a refused parameter (not retried).
        failure=Response(
            400, {"code": "rest_invalid_param", "message": "bad", "data": {"status": 400}}
        ),
        add_mapped_order=mapped,
    )


def shopee() -> Market:
    fake = FakeShopee(latency=LATENCY)
    ids: dict[str, str] = {}

    def open_(config: ChannelConfig, context: ChannelContext) -> Channel:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
        ctx = ChannelContext(budget=context.budget, http=client, tokens=MemoryTokens())
        return ShopeeChannel(shopee_config(config.name), ctx, policy=FAST)

    def add_listing(sku: str) -> None:
        ids[sku] = fake.add_item(sku, STOCK)

    def add_order(sku: str, units: int, at: int) -> str:
        return fake.add_order([(ids[sku], units)], updated=at, created=at)

    def cancel(sn: str, at: int) -> None:
        fake.orders[sn].status = "CANCELLED"
        fake.orders[sn].update_time = at

    def sell(sku: str, units: int) -> None:
        fake.model(ids[sku]).stock -= units

    def mapped(units: int, at: int) -> str:
        add_listing("BLANK")
        sn = add_order("BLANK", units, at)
        fake.orders[sn].lines[0].item_sku = ""  # an order line without the SKU
        return "BLANK"

    return Market(
        fake=fake,
        open=open_,
        listing_path="/api/v2/product/get_item_list",
        order_path="/api/v2/order/get_order_list",
        add_listing=add_listing,
        add_order=add_order,
        cancel=cancel,
        sell=sell,
        stock=lambda sku: fake.stock(ids[sku]),
        # Shopee's answer to a refused parameter (HTTP 400, error_param; not retried).
        failure=Response(400, {"error": "error_param", "message": "Wrong parameters"}),
        add_mapped_order=mapped,
    )


MARKETS = {"tiktok": tiktok, "lazada": lazada, "woo": woo, "shopee": shopee}


@pytest.fixture(params=list(MARKETS))
def market(request: pytest.FixtureRequest) -> Market:
    return MARKETS[request.param]()


def prepare(
    shop: Shop, runner: CliRunner, market: Market, *, last: Callable[[], str] | None = None
) -> list[str]:
    """The shop's listings, and its counted stock in the ledger; `last` adds one more
    listing (on the last page) and returns its SKU."""
    skus = [f"SKU-{n:03d}" for n in range(LISTINGS)]
    for sku in skus:
        market.add_listing(sku)
    extra = [last()] if last else []
    shop.write_channel("a")
    shop.write_config({"a": {}})
    counted = shop.root / "stock.csv"
    every = [*skus, *extra]
    counted.write_text("sku,on_hand\n" + "".join(f"{sku},{STOCK}\n" for sku in every))
    result = invoke(runner, shop, "stock", "import", str(counted))
    assert result.exit_code == 0, result.output
    return skus


def sync(shop: Shop, market: Market, clock: Clock) -> RunReport:
    config = load_config(shop.config)
    with Ledger.open(shop.ledger, write=True) as ledger:
        options = SyncOptions(since=moment(BASE - 3600))
        return asyncio.run(run_sync(config, ledger, options, now=clock.now, opener=market.open))


def committed(runner: CliRunner, shop: Shop) -> dict[str, int]:
    result = invoke(runner, shop, "stock", "--json")
    assert result.exit_code == 0, result.output
    return {row["sku"]: row["committed"] for row in json.loads(result.stdout)}


def cursor(shop: Shop) -> datetime | None:
    with Ledger.open(shop.ledger, write=False) as ledger:
        state = ledger.channel_state("a")
    return state.cursor if state else None


def on_last_listing_page(market: Market, action: Callable[[], None]) -> list[int]:
    """Run `action` once, as the listings' last page is asked for (the order search, one
    page, was answered long before); the list gets that request's place in the log."""
    pages = -(-LISTINGS // {"lazada": 50}.get(_kind(market), 100))
    seen: list[Request] = []
    mark: list[int] = []

    def hook(request: Request) -> None:
        if request.path.endswith(market.listing_path.removeprefix("/rest")):
            seen.append(request)
            if len(seen) == pages:
                mark.append(next(n for n, r in enumerate(market.fake.requests) if r is request))
                action()

    market.fake.before.append(hook)
    return mark


def _kind(market: Market) -> str:
    kinds = {FakeTikTok: "tiktok", FakeLazada: "lazada", FakeWoo: "woo", FakeShopee: "shopee"}
    return kinds[type(market.fake)]


def test_a_sale_made_while_the_listings_are_read_is_counted_not_written_over(
    shop: Shop, runner: CliRunner, market: Market
) -> None:
    clock = Clock()
    skus = prepare(shop, runner, market)
    market.add_order(skus[0], 2, BASE - 100)
    late = skus[-1]

    def sale() -> None:
        # A buyer takes 3 now: the listing drops, the order appears, the run's clock moves.
        market.sell(late, 3)
        market.add_order(late, 3, BASE + 5)
        clock.at = BASE + 10

    mark = on_last_listing_page(market, sale)

    report = sync(shop, market, clock)

    assert report.exit_code == 0, report.channels["a"].errors
    assert report.channels["a"].orders_fetched == 2
    assert committed(runner, shop)[late] == 3
    # The listing showed 47 when read and 47 are left: above all, the 3 sold units were not
    # written back; the early sale was pushed.
    assert market.stock(late) == STOCK - 3
    assert market.stock(skus[0]) == STOCK - 2
    # Side by side: the order search began before the last listings page was asked; after
    # the listings, one more order request (the tail), no more.
    [first, tail] = market.requests(market.order_path)
    assert first < mark[0] < tail


def test_an_order_changed_while_the_listings_are_read_applies_once_at_its_newest_state(
    shop: Shop, runner: CliRunner, market: Market
) -> None:
    clock = Clock()
    skus = prepare(shop, runner, market)
    oid = market.add_order(skus[0], 1, BASE - 100)

    def cancel() -> None:
        market.cancel(oid, BASE + 5)  # after its page was read
        clock.at = BASE + 10

    on_last_listing_page(market, cancel)

    report = sync(shop, market, clock)

    # Read twice (paid, then cancelled); counted once, as cancelled.
    assert report.exit_code == 0, report.channels["a"].errors
    assert report.channels["a"].orders_fetched == 1
    assert committed(runner, shop)[skus[0]] == 0
    assert market.stock(skus[0]) == STOCK


@pytest.mark.parametrize("failing", ["orders", "tail", "listings"])
def test_a_failed_read_fails_the_channel_and_keeps_its_cursor(
    shop: Shop, runner: CliRunner, market: Market, failing: str
) -> None:
    clock = Clock()
    skus = prepare(shop, runner, market)
    market.add_order(skus[1], 1, BASE - 100)
    assert sync(shop, market, clock).exit_code == 0
    before = cursor(shop)
    assert before is not None
    # Sold since: if this run's orders were lost, the ledger would write the unit back.
    market.sell(skus[0], 1)
    market.add_order(skus[0], 1, BASE + 5)
    clock.at = BASE + 20
    path = market.listing_path if failing == "listings" else market.order_path
    fault = Fault(status=market.failure.status, body=market.failure.body, match=path)
    mark = []
    if failing == "tail":
        # The head's order search is done by then: the next one is the tail's.
        def fail_the_tail() -> None:
            market.fake.fail_next(fault)
            clock.at += 10

        mark = on_last_listing_page(market, fail_the_tail)
    else:
        market.fake.fail_next(fault)

    report = sync(shop, market, clock)

    assert report.exit_code == 1
    assert report.channels["a"].status == "failed"
    assert cursor(shop) == before  # read again from there next run
    assert committed(runner, shop)[skus[0]] == 0  # nothing half-read applied
    assert market.stock(skus[0]) == STOCK - 1  # and nothing written over the sale
    if failing == "tail":
        assert [n for n in market.requests(market.order_path) if n > mark[0]]


def test_order_lines_that_need_the_listings_still_map(
    shop: Shop, runner: CliRunner, market: Market
) -> None:
    clock = Clock()
    # Its listing is on the last page: mapped before that was read, it would be unmapped.
    skus = prepare(shop, runner, market, last=lambda: market.add_mapped_order(2, BASE - 100))
    sku = next(s for s in committed(runner, shop) if s not in skus)
    mark = on_last_listing_page(market, lambda: None)

    report = sync(shop, market, clock)

    assert report.exit_code == 0, (report.channels["a"].errors, report.channels["a"].warnings)
    assert committed(runner, shop)[sku] == 2
    # Read while the listings still were: mapped then, it would have been left unmapped.
    assert market.requests(market.order_path)[0] < mark[0]


@pytest.mark.parametrize("quirk", ["drop_auth_header", "plain_permalinks"])
def test_woo_fallbacks_learned_by_one_read_do_not_fail_the_other(
    shop: Shop, runner: CliRunner, quirk: str
) -> None:
    # Both reads' first requests go out before either answer teaches the fallback (the key
    # in the query string, routes at ?rest_route=): each is judged by how it was sent.
    market = woo(**{quirk: True})
    fake = market.fake
    skus = prepare(shop, runner, market)
    fake.add_order([(skus[0], 2)], modified=moment(BASE - 100).strftime("%Y-%m-%dT%H:%M:%S"))

    report = sync(shop, market, Clock())

    assert report.exit_code == 0, report.channels["a"].errors
    assert committed(runner, shop)[skus[0]] == 2
    assert fake.stock(skus[0]) == STOCK - 2
