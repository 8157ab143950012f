"""The Lazada adapter against the fake Lazada: tokens, `omnisync auth`, limits, clock, check."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from omnisync.channels.lazada import LazadaAuthorizer, LazadaChannel
from omnisync.errors import ChannelAuthError, ChannelResponseError, ChannelUnavailableError
from omnisync.ledger import Ledger
from tests.channels.conftest import run
from tests.fakes import lazada_api
from tests.fakes.lazada_api import FakeLazada
from tests.fakes.lazada_client import (
    BASE,
    FAST,
    HOUR_AGO,
    changes_for,
    channel,
    context,
    orders_of,
    settings,
)
from tests.fakes.server import Fault


@pytest.fixture
def fake() -> FakeLazada:
    return FakeLazada()


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(tmp_path / "inventory.db", write=True) as opened:
        yield opened


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


def test_a_token_is_refreshed_half_an_hour_before_it_expires(ledger: Any) -> None:
    # seller-authorization-introduction.md: "it is recommended to refresh it 30 minutes
    # before the token expires".
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
    fake.requests.clear()

    async def listings() -> Any:
        async with channel(fake, tokens=ledger, now=lambda: moment[0]) as lazada:
            return await lazada.list_listings()

    moment[0] += timedelta(minutes=29)  # 31 minutes left: used as it is
    run(listings())
    moment[0] += timedelta(minutes=2)  # 29 minutes left: refreshed first
    run(listings())
    paths = [r.path.removeprefix("/rest") for r in fake.requests]
    assert paths == ["/products/get", "/auth/token/refresh", "/products/get"]


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
