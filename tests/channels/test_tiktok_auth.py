"""TikTok Shop tokens and `omnisync auth`: renewal, rotation through the ledger, the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from omnisync.channels.base import ChannelConfig, ChannelContext
from omnisync.channels.tiktok import TikTokAuthorizer
from omnisync.cli import app
from omnisync.errors import ChannelAuthError, ConfigError
from omnisync.httpclient import Budget
from omnisync.ledger import Ledger
from tests.channels.conftest import run
from tests.channels.test_tiktok import HOUR_AGO, SOON, all_orders, channel, paths, settings
from tests.fakes import tiktok_api
from tests.fakes.server import serve
from tests.fakes.tiktok_api import FakeTikTok


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "inventory.db", write=True) as opened:
        yield opened


def test_an_access_token_that_expires_mid_run_is_renewed_once_and_saved(ledger: Ledger) -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 5)])
    fake.add_order([("TEE-M", 1)], update_time=int(HOUR_AGO.timestamp()) + 5)

    async def go() -> int:
        async with channel(fake, store=ledger) as shop:
            await shop.list_listings()
            fake.expire_access()  # seven days are up between two calls
            return len(await all_orders(shop, HOUR_AGO, SOON))

    assert run(go()) == 1
    assert paths(fake, "/api/v2/token/refresh") == 1
    stored = ledger.load_tokens("tiktok")
    assert stored["access_token"] in fake.access and fake.access[stored["access_token"]] > 0
    assert stored["refresh_token"] in fake.refresh
    assert "access_token_expires_at" in stored


def test_a_rotated_refresh_token_is_used_by_the_next_process(ledger: Ledger) -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 5)])
    config = settings(fake)  # the config keeps the first pair for good

    async def once() -> None:
        async with channel(fake, store=ledger, config=config) as shop:
            fake.expire_access()
            await shop.list_listings()

    run(once())
    first = ledger.load_tokens("tiktok")["refresh_token"]
    assert first != config.refresh_token.reveal()  # type: ignore[union-attr]
    # The config's refresh token was used up; the next run must take the ledger's.
    run(once())
    assert paths(fake, "/api/v2/token/refresh") == 2
    second = ledger.load_tokens("tiktok")["refresh_token"]
    assert second != first and second in fake.refresh


def test_a_known_expiry_renews_before_any_call_is_refused(ledger: Ledger) -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 5)])
    issued = fake.issue(access_ttl=60)  # dies in a minute: inside the 5-minute margin
    ledger.save_tokens(
        "tiktok",
        {
            "access_token": issued["access_token"],
            "refresh_token": issued["refresh_token"],
            "access_token_expires_at": datetime.fromtimestamp(
                issued["access_token_expire_in"], UTC
            ).isoformat(),
        },
    )

    async def go() -> None:
        async with channel(fake, store=ledger, config=settings(None)) as shop:
            await shop.list_listings()

    run(go())
    # Renewed first, so no call was refused for an expired token on the way.
    assert [r.path for r in fake.requests] == [
        "/api/v2/token/refresh",
        "/authorization/202309/shops",  # no shop_cipher configured: the token's only shop
        "/product/202502/products/search",
    ]


def test_an_expired_refresh_token_names_the_auth_command(ledger: Ledger) -> None:
    fake = FakeTikTok()
    config = settings(fake)
    fake.refresh.clear()  # revoked, or past its lifetime

    async def go() -> None:
        async with channel(fake, store=ledger, config=config) as shop:
            fake.expire_access()
            await shop.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    message = str(caught.value)
    assert "`omnisync auth tiktok`" in message
    for secret in (tiktok_api.APP_SECRET, config.refresh_token.reveal()):  # type: ignore[union-attr]
        assert secret not in message


def test_no_token_at_all_says_to_connect_the_shop() -> None:
    fake = FakeTikTok()

    async def go() -> None:
        async with channel(fake, config=settings(None)) as shop:
            await shop.list_listings()

    with pytest.raises(ChannelAuthError, match="no access token.*`omnisync auth tiktok`"):
        run(go())
    assert not fake.requests


def test_a_wrong_secret_fails_as_a_signature_error_without_showing_it() -> None:
    fake = FakeTikTok()
    config = settings(fake, app_secret="not-the-secret-0123456789")

    async def go() -> None:
        async with channel(fake, config=config) as shop:
            await shop.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    assert "106001" in str(caught.value)
    assert "not-the-secret-0123456789" not in str(caught.value)


def test_probe_names_the_shop_and_what_the_token_may_do() -> None:
    fake = FakeTikTok()

    async def go() -> Any:
        async with channel(fake) as shop:
            return await shop.probe()

    probe = run(go())
    assert probe.ok
    assert "Toko Fake (ID" in probe.messages[0]
    assert any("read orders" in m for m in probe.messages)


# -- omnisync auth ---------------------------------------------------------------------------


def authorizer(ledger: Ledger | None, fake: FakeTikTok, **overrides: Any) -> TikTokAuthorizer:
    config = ChannelConfig(
        name="tiktok",
        type="tiktok",
        settings=settings(None, **overrides),
        base_dir=Path("."),
        base_url=None,
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    context = ChannelContext(budget=Budget("tiktok", 30), http=client, tokens=ledger)
    return TikTokAuthorizer(config, context)


def test_the_authorisation_link_needs_the_service_id() -> None:
    fake = FakeTikTok()
    assert authorizer(None, fake, service_id="7431458374265161478").authorization_url() == (
        "https://services.tiktokshop.com/open/authorize?service_id=7431458374265161478"
    )
    us = authorizer(None, fake, service_id="1", market="us").authorization_url()
    assert us.startswith("https://services.tiktokshops.us/open/authorize?")
    with pytest.raises(ConfigError, match="service_id"):
        authorizer(None, fake).authorization_url()


def test_exchange_stores_tokens_and_the_shop_cipher(ledger: Ledger) -> None:
    fake = FakeTikTok()

    async def go() -> Any:
        flow = authorizer(ledger, fake)
        try:
            return await flow.exchange({"code": tiktok_api.AUTH_CODE, "state": "x"})
        finally:
            await flow.aclose()

    result = run(go())
    assert result.shop == "Toko Fake (ID)"
    assert result.access_expires_at is not None and result.access_expires_at > datetime.now(UTC)
    stored = ledger.load_tokens("tiktok")
    assert stored["access_token"] in fake.access
    assert stored["shop_cipher"] == tiktok_api.SHOP_CIPHER
    # The code is single-use: a second exchange is refused by TikTok.
    with pytest.raises(ChannelAuthError, match="auth_code"):
        run(go())


def test_a_refused_authorisation_says_so(ledger: Ledger) -> None:
    async def go() -> None:
        await authorizer(ledger, FakeTikTok()).exchange({"code": "null", "error": "auth_denied"})

    with pytest.raises(ChannelAuthError, match="did not approve"):
        run(go())


def test_auth_then_sync_from_the_command_line(tmp_path: Path) -> None:
    fake = FakeTikTok()
    fake.add_product([("TEE-M", 10), ("MUG", 10)])
    when = int((datetime.now(UTC) - timedelta(minutes=30)).timestamp())
    fake.add_order([("TEE-M", 2)], status="AWAITING_SHIPMENT", update_time=when)
    secret_env = {"TIKTOK_SECRET": tiktok_api.APP_SECRET}
    runner = CliRunner()
    Ledger.open(tmp_path / "inventory.db", write=True).close()  # what `omnisync init` makes
    with serve(fake) as url:
        config = tmp_path / "omnisync.toml"
        config.write_text(
            f"""
[ledger]
path = "inventory.db"

[channels.tiktok]
type = "tiktok"
app_key = "{tiktok_api.APP_KEY}"
app_secret = "${{TIKTOK_SECRET}}"
service_id = "7431458374265161478"
base_url = "{url}"
"""
        )

        def cli(*args: str) -> Any:
            return runner.invoke(app, ["--config", str(config), *args], env=secret_env)

        shown = cli("auth", "tiktok")
        assert shown.exit_code == 0, shown.output
        assert "service_id=7431458374265161478" in shown.output
        connected = cli("auth", "tiktok", f"https://app.example/cb?code={tiktok_api.AUTH_CODE}")
        assert connected.exit_code == 0, connected.output
        assert "Toko Fake" in connected.output
        checked = cli("check")
        assert "Toko Fake" in checked.output, checked.output
        assert "can read orders" in checked.output
        for sku in ("TEE-M", "MUG"):
            assert cli("stock", "set", sku, "10", "--new").exit_code == 0
        started = time.monotonic()
        synced = cli("sync", "--json", "--since", "1h")
        assert synced.exit_code == 0, synced.output
        assert time.monotonic() - started < 30
    report = json.loads(synced.stdout)
    assert report["channels"]["tiktok"]["status"] == "ok"
    # 10 of each on hand; TikTok sold 2 TEE-M (paid, committed): it now shows 8 and 10.
    assert (fake.stock("TEE-M"), fake.stock("MUG")) == (8, 10)
    everything = shown.output + connected.output + checked.output + synced.output
    for token in [*fake.access, *fake.refresh, tiktok_api.APP_SECRET]:
        assert token not in everything


def test_an_approval_covering_several_shops_asks_which_and_forgets_an_old_one(
    ledger: Ledger,
) -> None:
    fake = FakeTikTok()
    fake.shops.append(dict(fake.shops[0], name="Toko Dua", cipher="ROW_secondShopCipher"))
    ledger.save_tokens("tiktok", {"shop_cipher": "ROW_shopFromAnEarlierAuth"})

    async def go() -> Any:
        flow = authorizer(ledger, fake)
        try:
            return await flow.exchange({"code": tiktok_api.AUTH_CODE})
        finally:
            await flow.aclose()

    result = run(go())
    assert "2 shops" in result.shop and "Toko Dua" in result.shop
    assert "set shop_cipher" in result.shop
    assert not ledger.load_tokens("tiktok").get("shop_cipher")
