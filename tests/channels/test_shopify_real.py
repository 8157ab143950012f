"""Shopify as the real Admin API behaves (research section 8): tokens, scopes, statuses,
locations and limits that the first fake did not have."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from omnisync.channels.shopify import ShopifyChannel
from omnisync.channels.shopify import queries as q
from omnisync.config import load_config
from omnisync.errors import ChannelAuthError, ConfigError
from omnisync.models import Order, Status
from omnisync.redact import REDACTOR
from tests.channels.conftest import FAST, run, shopify_settings
from tests.fakes import shopify_api
from tests.fakes.shopify_api import LOCATION, OTHER_LOCATION, FakeShopify

SINCE = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
APP: dict[str, Any] = {
    "token": None,
    "client_id": shopify_api.CLIENT_ID,
    "client_secret": shopify_api.CLIENT_SECRET,
}


def at(minute: int) -> str:
    return f"2026-11-20T{9 + minute // 60:02d}:{minute % 60:02d}:00Z"


class MemoryTokens:
    """The ledger's token table, in memory: what survives from one run to the next."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, str]] = {}

    def load_tokens(self, channel: str) -> dict[str, str]:
        return dict(self.saved.get(channel, {}))

    def save_tokens(self, channel: str, tokens: dict[str, str]) -> None:
        self.saved.setdefault(channel, {}).update(tokens)


@contextlib.asynccontextmanager
async def channel_for(
    fake: FakeShopify,
    *,
    tokens: MemoryTokens | None = None,
    now: datetime = SINCE,
    **settings: Any,
) -> AsyncIterator[ShopifyChannel]:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    channel = ShopifyChannel(
        "shop",
        shopify_settings(**settings),
        base_url="http://127.0.0.1",
        timeout=30,
        client=client,
        policy=FAST,
        tokens=tokens,
        now=lambda: now,
    )
    try:
        yield channel
    finally:
        await channel.aclose()
        await client.aclose()


async def fetch(channel: ShopifyChannel) -> list[Order]:
    return [o async for o in channel.fetch_orders(updated_since=SINCE, updated_until=UNTIL)]


def effects(order: Order) -> list[tuple[str, int, Status]]:
    return [(line.channel_sku, line.quantity, order.line_status(line)) for line in order.lines]


# -- tokens ---------------------------------------------------------------------------------


def test_a_dev_dashboard_app_gets_a_day_token_and_cron_runs_reuse_it(
    shopify: FakeShopify,
) -> None:
    shopify.add_order(1, [("TEE", 1)], updated=at(1))
    tokens = MemoryTokens()

    async def one_run(now: datetime) -> list[Order]:
        async with channel_for(shopify, tokens=tokens, now=now, **APP) as channel:
            return await fetch(channel)

    assert len(run(one_run(SINCE))) == 1
    assert len(run(one_run(SINCE + timedelta(hours=1)))) == 1  # the next cron run
    assert shopify.grants == 1
    # A day later the token has expired: the run obtains a new one by itself.
    assert len(run(one_run(SINCE + timedelta(hours=25)))) == 1
    assert shopify.grants == 2
    # The token is kept with its expiry, and can never be printed.
    stored = tokens.saved["shop"]
    assert stored["access_token"].startswith("shpat_granted_")
    assert "***" in REDACTOR.scrub(stored["access_token"])


def test_a_token_revoked_before_its_expiry_is_obtained_again_once(shopify: FakeShopify) -> None:
    shopify.add_order(1, [("TEE", 1)], updated=at(1))
    tokens = MemoryTokens()

    async def one_run() -> list[Order]:
        async with channel_for(shopify, tokens=tokens, **APP) as channel:
            return await fetch(channel)

    run(one_run())
    shopify.granted.clear()  # the app was reinstalled: old tokens no longer work
    assert len(run(one_run())) == 1
    assert shopify.grants == 2


def test_refused_app_credentials_name_the_keys_to_check(shopify: FakeShopify) -> None:
    async def go() -> None:
        async with channel_for(shopify, **(APP | {"client_secret": "shpss_wrong"})) as channel:
            await fetch(channel)

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    assert "client_id and client_secret" in caught.value.message
    assert "shpss_wrong" not in caught.value.message


@pytest.mark.parametrize(
    "keys",
    [
        {"client_id": shopify_api.CLIENT_ID},  # a static token and an app at once
        {"token": None},  # neither
        {"token": None, "client_id": shopify_api.CLIENT_ID},  # half an app
    ],
)
def test_the_settings_take_one_kind_of_credential(keys: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="client_id"):
        shopify_settings(**keys)


# -- scopes ---------------------------------------------------------------------------------


def test_check_names_each_missing_scope_and_sync_fails_with_the_same_words() -> None:
    shopify = FakeShopify(scopes=("read_orders", "write_inventory"))

    async def probe() -> Any:
        async with channel_for(shopify) as channel:
            return await channel.probe()

    async def listings() -> Any:
        async with channel_for(FakeShopify(scopes=("read_orders", "read_locations"))) as channel:
            return await channel.list_listings()

    result = run(probe())
    assert not result.ok
    [scopes] = [m for m in result.messages if "access scopes" in m]
    assert "read_locations (reading the location)" in scopes
    assert "read_orders" not in scopes and "write_inventory" not in scopes
    # Without read_locations the location's name cannot be read: only the scope is named.
    assert not any("not found" in m or "Access denied" in m for m in result.messages)

    with pytest.raises(ChannelAuthError) as caught:
        run(listings())
    assert "the app lacks the access scopes read_inventory (reading stock levels)" in (
        caught.value.message
    )


# -- statuses -------------------------------------------------------------------------------


def test_statuses_as_shopify_means_them(shopify: FakeShopify) -> None:
    # A lapsed authorisation: the order may still be paid and ship (research section 8).
    shopify.add_order(1, [("TEE", 2)], updated=at(1), financial="EXPIRED")
    # Shipped, then cancelled: the shipped units stay gone.
    shipped = shopify.add_order(2, [("TEE", 2)], updated=at(2), fulfilment="FULFILLED")
    shopify.cancel(shipped, updated=at(3))
    # One of two shipped units refunded as RETURN, but Shopify did not restock it.
    refunded = shopify.add_order(3, [("MUG", 2)], updated=at(4), fulfilment="FULFILLED")
    line = refunded["lineItems"][0]
    line["currentQuantity"] = 1
    refunded["refunds"] = [
        {"id": "gid://shopify/Refund/1", "lines": [(line["id"], 1, "RETURN", False)]}
    ]
    # Cancelled before anything shipped: nothing held any more.
    waiting = shopify.add_order(4, [("CAP", 1)], updated=at(5))
    shopify.cancel(waiting, updated=at(6))

    async def go() -> list[Order]:
        async with channel_for(shopify) as channel:
            return await fetch(channel)

    got = {o.id.rsplit("/", 1)[1]: o for o in run(go())}
    assert effects(got["1"]) == [("TEE", 2, Status.PENDING)]
    assert got["2"].status is Status.CANCELLED
    assert effects(got["2"]) == [("TEE", 2, Status.SHIPPED)]
    assert effects(got["3"]) == [("MUG", 1, Status.SHIPPED), ("MUG", 1, Status.SHIPPED)]
    assert effects(got["4"]) == [("CAP", 0, Status.CANCELLED)]


# -- locations ------------------------------------------------------------------------------


def test_only_orders_at_the_configured_location_take_its_stock(shopify: FakeShopify) -> None:
    shopify.add_order(1, [("TEE", 1)], updated=at(1), sold_at=OTHER_LOCATION)  # POS, store 2
    shopify.add_order(2, [("TEE", 1)], updated=at(2), sold_at=LOCATION)  # POS, this store
    shopify.add_order(
        3, [("TEE", 1)], updated=at(3), fulfilment="FULFILLED", fulfilled_from=OTHER_LOCATION
    )  # web order shipped from store 2
    shopify.add_order(4, [("TEE", 1)], updated=at(4))  # web order, not yet assigned

    async def go() -> list[Order]:
        async with channel_for(shopify) as channel:
            return await fetch(channel)

    got = {o.id.rsplit("/", 1)[1]: o for o in run(go())}
    assert effects(got["1"]) == [("TEE", 1, Status.CANCELLED)]
    assert effects(got["2"]) == [("TEE", 1, Status.PAID)]
    assert effects(got["3"]) == [("TEE", 1, Status.CANCELLED)]
    assert effects(got["4"]) == [("TEE", 1, Status.PAID)]


# -- limits ---------------------------------------------------------------------------------


def test_pages_follow_shopifys_own_cost_when_it_counts_more_than_the_estimate() -> None:
    shopify = FakeShopify(cost_factor=1.5)
    for n in range(60):
        shopify.add_order(100 + n, [("TEE", 1)], updated=at(n))

    async def go() -> list[Order]:
        async with channel_for(shopify) as channel:
            return await fetch(channel)

    assert len(run(go())) == 60
    sizes = [v["first"] for op, v in shopify.operations if op == "Orders"]
    # Every page after the first answer fits Shopify's limit, as Shopify counts it.
    per_order = 1.5 * q.order_node_cost(q.ORDER_LINES, q.ORDER_REFUNDS, q.ORDER_REFUND_LINES)
    assert all(1.5 * 2 + size * per_order <= 1000 for size in sizes[1:])
    assert sizes[-1] < q.ORDER_PAGE


def test_a_history_longer_than_shopify_pages_is_walked_in_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Shopify's limit is 25,000 objects; both sides lower it to keep the test fast.
    shopify = FakeShopify(max_objects=40)
    monkeypatch.setattr(q, "MAX_PAGINATION", 40)
    for n in range(100):
        shopify.add_order(100 + n, [("TEE", 1)], updated=at(n))

    async def go() -> list[Order]:
        async with channel_for(shopify) as channel:
            return await fetch(channel)

    assert [o.id for o in run(go())] == [f"gid://shopify/Order/{100 + n}" for n in range(100)]


def test_a_version_shopify_no_longer_serves_is_pointed_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shopify = FakeShopify(served_as="2025-10")
    shopify.add_order(1, [("TEE", 1)], updated=at(1))

    async def go() -> Any:
        async with channel_for(shopify) as channel:
            await fetch(channel)
            return await channel.probe()

    with caplog.at_level(logging.WARNING, logger="omnisync.channels.shopify"):
        result = run(go())
    warning = "asked for Admin API 2026-10, Shopify answered as 2025-10"
    assert any(warning in m for m in result.messages)
    assert sum(warning in r.getMessage() for r in caplog.records) == 1


def test_a_config_with_both_kinds_of_credential_is_refused_without_echoing_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "omnisync.toml"
    path.write_text(
        '[channels.shop]\ntype = "shopify"\nstore = "test-shop.myshopify.com"\n'
        'token = "shpat_secret_1"\nclient_id = "abc"\nclient_secret = "shpss_secret_2"\n'
        'location = "1"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "either token or client_id + client_secret, not both" in message
    assert "shpat_secret_1" not in message and "shpss_secret_2" not in message
