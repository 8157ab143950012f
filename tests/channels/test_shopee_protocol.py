"""Shopee's wire protocol as its docs state it: error bodies on any status, prefixed codes,
update_stock's all-failed answer, warehouses, request shapes (against a fake Shopee)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from omnisync.channels.shopee import signing
from omnisync.errors import ChannelUnavailableError
from omnisync.models import QuantityChange
from tests.fakes import shopee_api, shopee_state
from tests.fakes.server import Fault
from tests.fakes.shopee_api import FakeShopee
from tests.fakes.shopee_channel import shopee_channel

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def push(fake: FakeShopee, changes: list[QuantityChange], **kw: Any) -> dict[str, Any]:
    async with shopee_channel(fake, **kw) as channel:
        await channel.list_listings()
        return {r.listing_id: r for r in await channel.push_quantities(changes, run_id=1)}


def test_a_single_model_held_by_promotion_fails_with_shopees_reason_from_the_failure_list() -> None:
    # Every model of the call failed: Shopee answers error_busi_update_stock_failed ("please
    # check failure_list for detailed reason"), here with a non-2xx status; the reason is read.
    fake = FakeShopee()
    held = fake.add_item("TEE", 10, reserved=6)

    results = run(push(fake, [QuantityChange(held, "TEE", 10, 2)]))
    assert results[held].outcome == "failed"
    assert "Total stock must be more than reserved stock" in results[held].detail
    assert fake.stock(held) == 10
    writes = [r for r in fake.requests if r.path == "/api/v2/product/update_stock"]
    assert len(writes) == 1  # a business refusal is not retried


@pytest.mark.parametrize("status", [200, 403])
def test_a_prefixed_access_token_error_refreshes_the_token(status: int) -> None:
    # The docs' examples also spell it `common.error_auth` ("Invalid access_token.").
    fake = FakeShopee()
    fake.add_item("TEE", 10)
    refused = {"error": "common.error_auth", "message": "Invalid access_token."}
    fake.fail_next(Fault(status=status, body=refused, match="get_item_list"))

    async def go() -> int:
        async with shopee_channel(fake) as channel:
            return len(await channel.list_listings())

    assert run(go()) == 1
    assert fake.refreshes == 1


@pytest.mark.parametrize("status", [200, 400, 403, 429])
def test_the_daily_cap_stops_at_once_whatever_the_http_status(status: int) -> None:
    fake = FakeShopee()
    capped = {
        "error": "error_limit",
        "message": "The total API call number made by your APP has reached the daily API call "
        "limit, please try again after 00: 00 (UTC+08:00)",
    }
    fake.fail_next(*[Fault(status=status, body=capped, match="get_item_list")] * 5)

    async def go() -> None:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelUnavailableError, match="00:00 UTC\\+8"):
        run(go())
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (200, "error_server", "System error. Please try again later."),
        (500, "error_server", "System error. Please try again later."),
        (200, "error_system_busy", "Our system is taking some time to respond, please try later."),
        # In every API's common_error_list: error_auth that is no refusal at all.
        (403, "error_auth", "System error, please try again later."),
    ],
)
def test_shopees_try_later_errors_are_retried(status: int, error: str, message: str) -> None:
    fake = FakeShopee()
    fake.add_item("TEE", 10)
    busy = {"error": error, "message": message}
    fake.fail_next(Fault(status=status, body=busy, match="get_item_list"))

    async def go() -> int:
        async with shopee_channel(fake) as channel:
            return len(await channel.list_listings())

    assert run(go()) == 1
    assert len([r for r in fake.requests if r.path.endswith("get_item_list")]) == 2


def test_endless_rate_limiting_ends_the_channel_with_a_clear_message() -> None:
    fake = FakeShopee()
    limited = {"error": "error_rate_limit", "message": "Too many requests."}
    fake.fail_next(*[Fault(status=403, body=limited, match="get_item_list")] * 50)

    async def go() -> None:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelUnavailableError, match="error_rate_limit"):
        run(go())


def test_a_warehouse_shop_without_location_id_is_told_which_location_to_set() -> None:
    fake = FakeShopee(location_id="IDZ01")
    tee = fake.add_item("TEE", 10)

    results = run(push(fake, [QuantityChange(tee, "TEE", 10, 6)]))
    assert results[tee].outcome == "failed"
    assert "Lack of location_id" in results[tee].detail  # Shopee's own words
    assert (
        "IDZ01" in results[tee].detail and "location_id in [channels.shop]" in results[tee].detail
    )
    assert fake.stock(tee) == 10


def test_a_shop_without_warehouses_refuses_a_location_id() -> None:
    # update_stock: "if seller don't have any warehouse, you don't need to upload this field";
    # sending one is refused, and only that item fails.
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)

    results = run(push(fake, [QuantityChange(tee, "TEE", 10, 6)], location_id="IDZ"))
    assert results[tee].outcome == "failed" and "location_id" in results[tee].detail
    assert fake.stock(tee) == 10


def test_requests_carry_the_documented_shapes() -> None:
    fake = FakeShopee()
    fake.add_variations("TEE", [("TEE-S", 4)])
    fake.add_item("MUG", 3)

    async def go() -> None:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()

    run(go())
    common = {"partner_id", "timestamp", "access_token", "shop_id", "sign"}
    for request in fake.requests:
        assert request.method == "GET"
        assert common <= set(request.query)
        assert request.query["timestamp"].isdigit() and len(request.query["timestamp"]) == 10
        expected = shopee_state.sign(
            request.path,
            request.query["timestamp"],
            request.query["access_token"],
            request.query["shop_id"],
        )
        assert request.query["sign"] == expected  # lower-case hex over the documented base
    # item_status is a string[]: "item_status=NORMAL&item_status=BANNED" (get_item_list).
    (raw,) = [q for path, q in fake.raw_queries if path.endswith("get_item_list")]
    assert "item_status=NORMAL&item_status=UNLIST" in raw
    (base_info,) = [r for r in fake.requests if r.path.endswith("get_item_base_info")]
    assert len(base_info.query["item_id_list"].split(",")) == 2  # comma-joined ids


def test_token_calls_are_public_posts_with_json_bodies() -> None:
    fake = FakeShopee()
    fake.add_item("TEE", 10)
    fake.expire_access_tokens()

    async def go() -> None:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()

    run(go())
    (refresh,) = [r for r in fake.requests if r.path == signing.TOKEN_REFRESH_PATH]
    assert refresh.method == "POST"
    assert set(refresh.query) == {"partner_id", "timestamp", "sign"}
    assert refresh.headers["content-type"].startswith("application/json")
    assert refresh.json() == {
        "refresh_token": shopee_api.REFRESH_TOKEN,
        "partner_id": shopee_api.PARTNER_ID,
        "shop_id": shopee_api.SHOP_ID,
    }


def test_models_fulfilled_by_shopee_are_not_listings() -> None:
    # Their stock is shopee_stock, which update_stock cannot set ("This API will update only
    # seller_stock"); is_fulfillment_by_shopee marks them (get_model_list, get_item_base_info).
    fake = FakeShopee()
    own, fbs = fake.add_variations("TEE", [("TEE-S", 4), ("TEE-M", 5)])
    fake.model(fbs).fbs = True
    fbs_item = fake.add_item("MUG", 3)
    fake.model(fbs_item).fbs = True

    async def go() -> list[str]:
        async with shopee_channel(fake) as channel:
            return [listing.id for listing in await channel.list_listings()]

    assert run(go()) == [own]
