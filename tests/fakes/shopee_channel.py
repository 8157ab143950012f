"""Shopee adapters pointed at a FakeShopee in-process (ASGI), for the Shopee tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from omnisync.channels.base import ChannelConfig, ChannelContext, TokenStore
from omnisync.channels.shopee import ShopeeChannel, ShopeeSettings
from omnisync.channels.shopee.auth import ShopeeAuthorizer
from omnisync.httpclient import Budget, RetryPolicy
from omnisync.timeparse import utcnow
from tests.fakes import shopee_api
from tests.fakes.shopee_api import FakeShopee

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)


class MemoryTokens:
    """A token store like the ledger's, in a dict."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, str]] = {}

    def load_tokens(self, channel: str) -> dict[str, str]:
        return dict(self.saved.get(channel, {}))

    def save_tokens(self, channel: str, tokens: dict[str, str]) -> None:
        self.saved.setdefault(channel, {}).update(tokens)


def settings(**overrides: Any) -> ShopeeSettings:
    values: dict[str, Any] = {
        "partner_id": shopee_api.PARTNER_ID,
        "partner_key": shopee_api.PARTNER_KEY,
        "shop_id": shopee_api.SHOP_ID,
        "access_token": shopee_api.ACCESS_TOKEN,
        "refresh_token": shopee_api.REFRESH_TOKEN,
    }
    values |= overrides
    return ShopeeSettings.model_validate({k: v for k, v in values.items() if v is not None})


def config(name: str = "shop", *, base_url: str | None = None, **overrides: Any) -> ChannelConfig:
    return ChannelConfig(
        name=name,
        type="shopee",
        settings=settings(**overrides),
        base_dir=Path("."),
        base_url=base_url,
    )


@contextlib.asynccontextmanager
async def shopee_channel(
    fake: FakeShopee,
    *,
    tokens: TokenStore | None = None,
    now: Callable[[], datetime] = utcnow,
    timeout: float = 30.0,
    policy: RetryPolicy = FAST,
    **overrides: Any,
) -> AsyncIterator[ShopeeChannel]:
    """A ShopeeChannel on Shopee's real host name, answered by `fake` through ASGI."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    context = ChannelContext(
        budget=Budget("shop", timeout), http=client, tokens=tokens or MemoryTokens(), now=now
    )
    channel = ShopeeChannel(config(**overrides), context, policy=policy)
    try:
        yield channel
    finally:
        await channel.aclose()
        await client.aclose()


@contextlib.asynccontextmanager
async def shopee_authorizer(
    fake: FakeShopee,
    *,
    tokens: TokenStore | None = None,
    now: Callable[[], datetime] = utcnow,
    **overrides: Any,
) -> AsyncIterator[ShopeeAuthorizer]:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake))
    context = ChannelContext(budget=Budget("shop", 30.0), http=client, tokens=tokens, now=now)
    authorizer = ShopeeAuthorizer(config(**overrides), context)
    try:
        yield authorizer
    finally:
        await authorizer.aclose()
        await client.aclose()
