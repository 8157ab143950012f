"""The Lazada adapter wired to the fake Lazada in-process: settings, context, a channel."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from omnisync.channels.base import ChannelContext, TokenStore
from omnisync.channels.lazada import LazadaChannel, LazadaSettings
from omnisync.httpclient import Budget, RetryPolicy
from omnisync.models import Order, QuantityChange
from tests.fakes import lazada_api
from tests.fakes.lazada_api import FakeLazada

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


def changes_for(fake: FakeLazada, target: int) -> list[QuantityChange]:
    return [
        QuantityChange(f"{p['item_id']}/{row['SkuId']}", row["SellerSku"], row["Available"], target)
        for p in fake.products.values()
        for row in p["skus"]
    ]
