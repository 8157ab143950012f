"""The Lazada adapter against the fake Lazada: listings, orders, pushes, tokens, limits."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from omnisync.channels.base import ChannelContext, TokenStore
from omnisync.channels.lazada import LazadaAuthorizer, LazadaChannel, LazadaSettings
from omnisync.errors import ChannelAuthError, ChannelResponseError, ChannelUnavailableError
from omnisync.httpclient import Budget, RetryPolicy
from omnisync.ledger import Ledger
from omnisync.models import Order, QuantityChange, Status
from tests.channels.conftest import run
from tests.fakes import lazada_api
from tests.fakes.lazada_api import FakeLazada
from tests.fakes.server import Fault

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)
BASE = "https://api.lazada.test/rest"
HOUR_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
SINCE = HOUR_AGO - timedelta(days=1)


def settings(**overrides: Any) -> LazadaSettings:
    values: dict[str, Any] = {
        "app_key": lazada_api.APP_KEY,
        "app_secret": lazada_api.APP_SECRET,
        "access_token": lazada_api.ACCESS_TOKEN,
        "refresh_token": lazada_api.REFRESH_TOKEN,
        "country": "id",
        "redirect_url": "https://seller.example/lazada/callback",
    }
    return LazadaSettings.model_validate({k: v for k, v in (values | overrides).items() if v})


def context(
    fake: FakeLazada, *, tokens: TokenStore | None = None, now: Callable[[], datetime] | None = None
) -> ChannelContext:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    return ChannelContext(
        budget=Budget("lzd", 20.0),
        http=client,
        tokens=tokens,
        now=now or (lambda: datetime.now(UTC)),
    )


@contextlib.asynccontextmanager
async def channel(
    fake: FakeLazada,
    *,
    tokens: TokenStore | None = None,
    now: Callable[[], datetime] | None = None,
    **overrides: Any,
) -> AsyncIterator[LazadaChannel]:
    ctx = context(fake, tokens=tokens, now=now)
    lazada = LazadaChannel("lzd", settings(**overrides), context=ctx, base_url=BASE, policy=FAST)
    try:
        yield lazada
    finally:
        await lazada.aclose()
        assert ctx.http is not None
        await ctx.http.aclose()


async def orders_of(lazada: LazadaChannel, **window: datetime) -> list[Order]:
    since = window.get("since", SINCE)
    until = window.get("until", datetime.now(UTC) + timedelta(minutes=1))
    return [o async for o in lazada.fetch_orders(updated_since=since, updated_until=until)]


@pytest.fixture
def fake() -> FakeLazada:
    return FakeLazada()


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(tmp_path / "inventory.db", write=True) as opened:
        yield opened


# -- listings ------------------------------------------------------------------------------


def test_listings_are_read_page_by_page_with_platform_ids(fake: FakeLazada) -> None:
    ids = {}
    for n in range(120):  # 120 products: three pages of the documented 50
        item, (sku_id,) = fake.add_product([(f"SKU-{n:03d}", n)])
        ids[f"SKU-{n:03d}"] = (item, sku_id)
    item, (with_sku, without) = fake.add_product([("TEE-M", 4), ("", 7)])

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.list_listings()

    listings = {listing.id: listing for listing in run(go())}
    assert len(listings) == 122
    first = listings[f"{ids['SKU-007'][0]}/{ids['SKU-007'][1]}"]
    assert (first.channel_sku, first.quantity) == ("SKU-007", 7)
    assert listings[f"{item}/{with_sku}"].channel_sku == "TEE-M"
    assert listings[f"{item}/{without}"].channel_sku == ""  # not managed, never written
    pages = [r for r in fake.requests if r.path.removeprefix("/rest") == "/products/get"]
    assert sorted(int(r.query["offset"]) for r in pages) == [0, 50, 100]
    assert {r.query["limit"] for r in pages} == {"50"} and {r.query["filter"] for r in pages} == {
        "all"
    }


def test_a_multi_warehouse_answer_is_read_from_the_default_warehouse(fake: FakeLazada) -> None:
    item, (sku_id,) = fake.add_product([("MUG", 9)], warehouses=True)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.list_listings()

    (listing,) = run(go())
    assert (listing.id, listing.quantity) == (f"{item}/{sku_id}", 9)


# -- orders --------------------------------------------------------------------------------


def test_orders_come_in_the_window_with_one_line_per_unit(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    two = fake.add_order(
        [("TEE-M", tee, "pending"), ("TEE-M", tee, "pending"), ("MUG", mug, "canceled")],
        updated=HOUR_AGO,
    )
    fake.add_order([("MUG", mug, "delivered")], updated=SINCE - timedelta(hours=1))  # too old

    async def go() -> Any:
        async with channel(fake) as lazada:
            first = await orders_of(lazada)
            again = await orders_of(lazada)
            return first, again

    first, again = run(go())
    assert [o.id for o in first] == [two]
    (order,) = first
    tees = [line for line in order.lines if line.channel_sku == "TEE-M"]
    assert [line.quantity for line in tees] == [1, 1]  # two units add up to 2
    assert len({line.id for line in order.lines}) == 3
    assert [order.line_status(line) for line in order.lines].count(Status.CANCELLED) == 1
    assert order.status is Status.PAID
    assert first == again  # line ids are stable across fetches
    search = next(r for r in fake.requests if r.path.removeprefix("/rest") == "/orders/get")
    assert (search.query["sort_by"], search.query["sort_direction"]) == ("updated_at", "ASC")
    assert datetime.fromisoformat(search.query["update_after"]) == SINCE


def test_pages_of_100_and_item_batches_of_50(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 1000)])
    for n in range(230):
        fake.add_order([("TEE-M", tee, "pending")], updated=HOUR_AGO + timedelta(seconds=n))

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await orders_of(lazada)

    orders = run(go())
    assert len(orders) == 230 and len({o.id for o in orders}) == 230
    pages = [r for r in fake.requests if r.path.removeprefix("/rest") == "/orders/get"]
    assert sorted(int(r.query["offset"]) for r in pages) == [0, 100, 200]
    batches = [r for r in fake.requests if r.path.removeprefix("/rest") == "/orders/items/get"]
    assert len(batches) == 5  # ceil(230 / 50)


def test_a_history_deeper_than_5000_orders_moves_the_window(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 100000)])
    start = HOUR_AGO - timedelta(hours=3)
    for n in range(5250):
        fake.add_order([("TEE-M", tee, "delivered")], updated=start + timedelta(seconds=n))

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await orders_of(lazada, since=start)

    orders = run(go())
    assert len(orders) == 5250 and len({o.id for o in orders}) == 5250
    pages = [r for r in fake.requests if r.path.removeprefix("/rest") == "/orders/get"]
    assert max(int(r.query["offset"]) for r in pages) == 5000  # never past Lazada's cap
    windows = {r.query["update_after"] for r in pages}
    assert len(windows) == 2  # the second window starts where the first one stopped


def test_an_item_without_seller_sku_maps_to_the_listing_by_sku_id(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    fake.add_order([("TEE-M", tee, "pending")], updated=HOUR_AGO, with_sku=False)

    async def go() -> Any:
        async with channel(fake) as lazada:
            await lazada.list_listings()  # the engine reads listings first
            return await orders_of(lazada)

    (order,) = run(go())
    assert [line.channel_sku for line in order.lines] == ["TEE-M"]


def test_refund_only_returns_never_restock(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    fake.add_order(
        [("TEE-M", tee, "returned"), ("TEE-M", tee, "returned")],
        updated=HOUR_AGO,
        reverse={0: ("7001", "ONLY_REFUND"), 1: ("7002", "RETURN")},
    )

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await orders_of(lazada)

    (order,) = run(go())
    assert [order.line_status(line) for line in order.lines] == [
        Status.COMPLETED,  # the buyer kept the goods
        Status.RETURNED,  # the goods came back; restock_returns decides
    ]


# -- push ----------------------------------------------------------------------------------


def changes_for(fake: FakeLazada, target: int) -> list[QuantityChange]:
    return [
        QuantityChange(f"{p['item_id']}/{row['SkuId']}", row["SellerSku"], row["quantity"], target)
        for p in fake.products.values()
        for row in p["skus"]
    ]


def test_push_writes_in_batches_of_50(fake: FakeLazada) -> None:
    for n in range(120):
        fake.add_product([(f"SKU-{n:03d}", 10)])
    changes = changes_for(fake, 3)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = run(go())
    assert {r.outcome for r in results} == {"written"} and len(results) == 120
    assert [len(update) for update in fake.updates] == [50, 50, 20]
    assert {row["quantity"] for p in fake.products.values() for row in p["skus"]} == {3}


def test_a_sale_between_read_and_write_is_a_conflict_not_overwritten(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    changes = changes_for(fake, 6)

    def sell(request: Any) -> None:
        if request.path.endswith("/products/get") and not fake.updates:
            fake.sell(tee, 1)  # a buyer takes one just before omnisync re-reads
            fake.before.clear()

    fake.before.append(sell)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = {r.listing_id.split("/")[1]: r for r in run(go())}
    assert results[str(tee)].outcome == "conflict" and results[str(tee)].current == 9
    assert results[str(mug)].outcome == "written"
    assert fake.stock(tee) == 9 and fake.stock(mug) == 6


def test_a_sku_locked_by_a_campaign_fails_alone_with_lazadas_reason(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    fake.locks[tee] = 5
    changes = changes_for(fake, 2)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = {r.listing_id.split("/")[1]: r for r in run(go())}
    assert results[str(tee)].outcome == "failed"
    assert "Campaign" in results[str(tee)].detail and "501" in results[str(tee)].detail
    assert results[str(mug)].outcome == "written"
    assert fake.stock(tee) == 10 and fake.stock(mug) == 2


def test_after_an_all_or_nothing_501_a_re_read_decides(fake: FakeLazada) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    fake.locks[tee] = 5
    fake.atomic_failures = True
    changes = changes_for(fake, 2)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = {r.listing_id.split("/")[1]: r for r in run(go())}
    assert results[str(tee)].outcome == "failed" and results[str(mug)].outcome == "failed"
    assert "not applied" in results[str(mug)].detail
    assert fake.stock(mug) == 10


# -- tokens and auth -----------------------------------------------------------------------


def test_an_access_token_expiring_mid_run_is_refreshed_once_and_saved(
    fake: FakeLazada, ledger: Any
) -> None:
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    fake.add_order([("TEE-M", tee, "pending")], updated=HOUR_AGO)

    async def go() -> Any:
        async with channel(fake, tokens=ledger) as lazada:
            await lazada.list_listings()
            fake.expire_access_tokens()
            return await orders_of(lazada)

    assert len(run(go())) == 1
    assert fake.refreshes == 1
    stored = ledger.load_tokens("lzd")
    assert stored["access_token"] in fake.access_tokens
    assert stored["access_token"] != lazada_api.ACCESS_TOKEN
    assert stored["refresh_token"] in fake.refresh_tokens  # the rotated one


def test_a_rotated_refresh_token_is_used_by_the_next_process(
    fake: FakeLazada, tmp_path: Path
) -> None:
    fake.add_product([("TEE-M", 10)])
    fake.expire_access_tokens()

    async def listings(tokens: Any) -> int:
        async with channel(fake, tokens=tokens) as lazada:
            return len(await lazada.list_listings())

    with Ledger.open(tmp_path / "inventory.db", write=True) as first:
        assert run(listings(first)) == 1
    assert fake.refreshes == 1
    # The config's refresh token was used up by that refresh; only the ledger's works now.
    fake.expire_access_tokens()
    with Ledger.open(tmp_path / "inventory.db", write=True) as second:
        assert run(listings(second)) == 1
    assert fake.refreshes == 2


def test_an_expired_refresh_token_names_the_auth_command(fake: FakeLazada) -> None:
    fake.add_product([("TEE-M", 10)])
    fake.expire_access_tokens()
    fake.refresh_tokens.clear()

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    assert "`omnisync auth lzd`" in str(caught.value)
    assert lazada_api.REFRESH_TOKEN not in str(caught.value)


def test_no_token_at_all_says_to_connect_the_shop(fake: FakeLazada) -> None:
    async def go() -> Any:
        async with channel(fake, access_token=None, refresh_token=None) as lazada:
            return await lazada.list_listings()

    with pytest.raises(ChannelAuthError, match="run `omnisync auth lzd`"):
        run(go())


def test_auth_url_and_code_exchange_store_tokens(fake: FakeLazada, ledger: Any) -> None:
    ctx = context(fake, tokens=ledger)
    authorizer = LazadaAuthorizer(
        "lzd", settings(access_token=None, refresh_token=None), context=ctx, base_url=BASE
    )
    url = urlsplit(authorizer.authorization_url())
    assert (url.scheme, url.netloc, url.path) == ("https", "auth.lazada.com", "/oauth/authorize")
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "force_auth": ["true"],
        "redirect_uri": ["https://seller.example/lazada/callback"],
        "client_id": [lazada_api.APP_KEY],
    }

    async def go() -> Any:
        try:
            return await authorizer.exchange({"code": lazada_api.CODE})
        finally:
            await authorizer.aclose()
            assert ctx.http is not None
            await ctx.http.aclose()

    result = run(go())
    assert result.shop.startswith("ID1XYZ")
    assert result.access_expires_at is not None and result.refresh_expires_at is not None
    stored = ledger.load_tokens("lzd")
    assert stored["access_token"] in fake.access_tokens
    create = next(r for r in fake.requests if r.path.removeprefix("/rest") == "/auth/token/create")
    assert "access_token" not in create.query  # token calls are signed with app keys only

    async def again() -> Any:
        ctx2 = context(fake, tokens=ledger)
        second = LazadaAuthorizer("lzd", settings(), context=ctx2, base_url=BASE)
        try:
            return await second.exchange({"code": lazada_api.CODE})
        finally:
            await second.aclose()

    with pytest.raises(ChannelAuthError, match="works once"):
        run(again())


# -- limits, clock, secrets ----------------------------------------------------------------

THROTTLED = {
    "type": "ISP",
    "code": "901",
    "message": "Limit service request speed in server side temporarily.",
    "request_id": "x",
}


def test_throttled_calls_wait_and_retry(fake: FakeLazada) -> None:
    fake.add_product([("TEE-M", 10)])
    fake.fail_next(Fault(status=200, body=THROTTLED, match="/products/get"))

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.list_listings()

    assert len(run(go())) == 1
    assert len([r for r in fake.requests if r.path.removeprefix("/rest") == "/products/get"]) == 2


def test_the_inventory_apis_50_per_second_is_respected(fake: FakeLazada) -> None:
    fake.qps["/product/stock/sellable/update"] = 2  # a tight limit, to see it bite
    for n in range(250):
        fake.add_product([(f"SKU-{n:03d}", 10)])
    changes = changes_for(fake, 1)

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.push_quantities(changes, run_id=1)

    results = run(go())
    assert {r.outcome for r in results} == {"written"}
    assert fake.throttled >= 1  # some writes were bounced with 901 and sent again


def test_a_used_up_call_allowance_stops_the_channel_for_this_run(fake: FakeLazada) -> None:
    fake.add_product([("TEE-M", 10)])
    fake.call_cap = 0

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.list_listings()

    with pytest.raises(ChannelUnavailableError, match="stops for this run"):
        run(go())
    assert len(fake.requests) == 1  # no spinning


def test_a_clock_three_hours_off_is_named_as_such(fake: FakeLazada) -> None:
    fake.add_product([("TEE-M", 10)])

    async def go() -> Any:
        ahead = lambda: datetime.now(UTC) + timedelta(hours=3)  # noqa: E731
        async with channel(fake, now=ahead) as lazada:
            return await lazada.list_listings()

    with pytest.raises(ChannelResponseError) as caught:
        run(go())
    message = str(caught.value)
    # 3 h = 10800 s, give or take the second an HTTP Date header rounds away and a slow,
    # busy test machine between the request and its answer.
    found = re.search(r"this machine's clock is (\d+) s off \(ahead", message)
    assert found is not None and abs(int(found.group(1)) - 10800) <= 5, message
    assert "signature" not in message.lower()


def test_a_wrong_secret_is_a_signature_refusal_without_secrets_in_the_text(
    fake: FakeLazada,
) -> None:
    fake.add_product([("TEE-M", 10)])

    async def go() -> Any:
        async with channel(fake, app_secret="not-the-secret-at-all") as lazada:
            return await lazada.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    text = str(caught.value)
    assert "IncompleteSignature" in text and "app_secret" in text
    for secret in ("not-the-secret-at-all", lazada_api.ACCESS_TOKEN, lazada_api.APP_SECRET):
        assert secret not in text


def test_every_call_goes_to_base_url_including_the_refresh(fake: FakeLazada) -> None:
    fake.add_product([("TEE-M", 10)])
    fake.expire_access_tokens()
    seen: list[str] = []

    async def go() -> Any:
        ctx = context(fake)
        assert ctx.http is not None
        ctx.http.event_hooks["request"].append(lambda r: _record(seen, r))
        lazada = LazadaChannel("lzd", settings(), context=ctx, base_url=BASE, policy=FAST)
        try:
            return await lazada.list_listings()
        finally:
            await lazada.aclose()
            await ctx.http.aclose()

    run(go())
    assert seen[0] == "https://api.lazada.test/rest/products/get"
    assert "https://api.lazada.test/rest/auth/token/refresh" in seen


async def _record(seen: list[str], request: httpx.Request) -> None:
    seen.append(str(request.url.copy_with(query=None)))


def test_probe_names_the_shop_and_what_the_token_may_do(fake: FakeLazada) -> None:
    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.probe()

    probe = run(go())
    assert probe.ok
    assert "Toko Fake" in probe.messages[0] and "1000123" in probe.messages[0]
    assert any("read orders" in m for m in probe.messages)


def test_probe_reports_a_refused_token(fake: FakeLazada) -> None:
    fake.expire_access_tokens()
    fake.refresh_tokens.clear()

    async def go() -> Any:
        async with channel(fake) as lazada:
            return await lazada.probe()

    probe = run(go())
    assert not probe.ok and "omnisync auth lzd" in probe.messages[-1]


def test_a_stored_expiry_refreshes_before_the_first_call(ledger: Any) -> None:
    moment = [datetime.now(UTC)]
    fake = FakeLazada(now=lambda: moment[0], access_ttl=3600)
    fake.add_product([("TEE-M", 10)])
    ctx = context(fake, tokens=ledger, now=lambda: moment[0])
    authorizer = LazadaAuthorizer("lzd", settings(), context=ctx, base_url=BASE)

    async def connect() -> Any:
        try:
            return await authorizer.exchange({"code": lazada_api.CODE})
        finally:
            await authorizer.aclose()

    run(connect())
    moment[0] += timedelta(hours=2)  # the stored access token expired an hour ago
    fake.requests.clear()

    async def go() -> Any:
        async with channel(fake, tokens=ledger, now=lambda: moment[0]) as lazada:
            return await lazada.list_listings()

    assert len(run(go())) == 1
    paths = [r.path.removeprefix("/rest") for r in fake.requests]
    assert paths == ["/auth/token/refresh", "/products/get"]  # never refused first
