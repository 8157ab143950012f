"""Fixtures for the HTTP channel tests: fake shops, and adapters pointed at them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from omnisync.channels.shopify import ShopifyChannel, ShopifySettings
from omnisync.channels.woocommerce import WooCommerceChannel, WooCommerceSettings
from omnisync.httpclient import RetryPolicy
from tests.fakes import shopify_api, woocommerce_api
from tests.fakes.shopify_api import FakeShopify
from tests.fakes.woocommerce_api import FakeWoo

T = TypeVar("T")

# Retries as the real policy does them, with waits short enough for a test.
FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def shopify_settings(**overrides: Any) -> ShopifySettings:
    values: dict[str, Any] = {
        "store": "test-shop.myshopify.com",
        "token": shopify_api.TOKEN,
        "location": shopify_api.LOCATION,
    }
    return ShopifySettings.model_validate(values | overrides)


def woo_settings(**overrides: Any) -> WooCommerceSettings:
    values: dict[str, Any] = {
        "url": "https://shop.example",
        "key": woocommerce_api.KEY,
        "secret": woocommerce_api.SECRET,
    }
    return WooCommerceSettings.model_validate(values | overrides)


@contextlib.asynccontextmanager
async def shopify_channel(
    fake: FakeShopify | None,
    *,
    base_url: str | None = None,
    timeout: float = 30.0,
    policy: RetryPolicy = FAST,
    transport: httpx.AsyncBaseTransport | None = None,
    **settings: Any,
) -> AsyncIterator[ShopifyChannel]:
    """A ShopifyChannel talking to `fake` in-process (ASGI), or to `base_url` over loopback."""
    if transport is None and fake is not None:
        transport = httpx.ASGITransport(app=fake)
    client = httpx.AsyncClient(transport=transport) if transport is not None else None
    channel = ShopifyChannel(
        "shop",
        shopify_settings(**settings),
        base_url=base_url,
        timeout=timeout,
        client=client,
        policy=policy,
    )
    try:
        yield channel
    finally:
        await channel.aclose()
        if client is not None:
            await client.aclose()


@contextlib.asynccontextmanager
async def woo_channel(
    fake: FakeWoo | None,
    *,
    base_url: str | None = None,
    timeout: float = 30.0,
    policy: RetryPolicy = FAST,
    **settings: Any,
) -> AsyncIterator[WooCommerceChannel]:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)) if fake else None
    channel = WooCommerceChannel(
        "woo",
        woo_settings(**settings),
        base_url=base_url,
        timeout=timeout,
        client=client,
        policy=policy,
    )
    try:
        yield channel
    finally:
        await channel.aclose()
        if client is not None:
            await client.aclose()


@pytest.fixture
def shopify() -> FakeShopify:
    return FakeShopify()


@pytest.fixture
def woo() -> FakeWoo:
    return FakeWoo()
