"""Shopee tokens, `omnisync auth`, throttling, daily caps, clock skew and secrecy."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from omnisync.channels.shopee import signing
from omnisync.errors import ChannelAuthError, ChannelUnavailableError, ConfigError
from omnisync.ledger import Ledger
from omnisync.timeparse import utcnow
from tests.fakes import shopee_api
from tests.fakes.server import Fault
from tests.fakes.shopee_api import FakeShopee
from tests.fakes.shopee_channel import MemoryTokens, shopee_authorizer, shopee_channel

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def since_yesterday() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"updated_since": now - timedelta(days=1), "updated_until": now}


def secrets_of(fake: FakeShopee) -> list[str]:
    return [shopee_api.PARTNER_KEY, *fake.access, *fake.refresh]


# -- signing ---------------------------------------------------------------------------------


def test_sign_matches_shopees_documented_base_string_and_vector() -> None:
    # Research file section 3.1: Shopee's own base-string example, signed with a made-up key.
    base = signing.base_string(
        2001887,
        "/api/v2/shop/get_shop_info",
        1655714431,
        "59777174636562737266615546704c6d",
        14701711,
    )
    assert (
        base
        == "2001887/api/v2/shop/get_shop_info165571443159777174636562737266615546704c6d14701711"
    )
    assert (
        signing.sign(
            "test_partner_key",
            2001887,
            "/api/v2/shop/get_shop_info",
            1655714431,
            "59777174636562737266615546704c6d",
            14701711,
        )
        == "9fdae5aeed86e753249982ec04aa54339280f12d3f456b9e3f7d8ee91e66a2b3"
    )


def test_public_apis_sign_partner_path_and_timestamp_only() -> None:
    assert signing.base_string(10090, "/api/v2/shop/auth_partner", 1594897040) == (
        "10090/api/v2/shop/auth_partner1594897040"
    )


def test_a_wrong_sign_is_refused_with_shopees_error_and_named_for_the_user() -> None:
    fake = FakeShopee()

    async def go() -> None:
        async with shopee_channel(fake, partner_key="not-the-partner-key-0000") as channel:
            await channel.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    assert "error_sign" in str(caught.value) and "partner_key" in str(caught.value)


# -- tokens ----------------------------------------------------------------------------------


def test_an_access_token_expiring_mid_run_is_refreshed_once_and_the_run_goes_on() -> None:
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    fake.add_order([(tee, 1)], updated=int(time.time()) - 60)
    tokens = MemoryTokens()

    async def go() -> int:
        async with shopee_channel(fake, tokens=tokens) as channel:
            await channel.list_listings()
            fake.expire_access_tokens()
            return len([o async for o in channel.fetch_orders(**since_yesterday())])

    assert run(go()) == 1
    assert fake.refreshes == 1
    saved = tokens.saved["shop"]
    assert saved["refresh_token"] != shopee_api.REFRESH_TOKEN
    assert saved["refresh_token"] in fake.refresh  # the new one, still unused
    assert saved["access_token_expires_at"].endswith("Z")


def test_a_known_expiry_refreshes_before_the_first_call() -> None:
    fake = FakeShopee()
    tokens = MemoryTokens()
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    tokens.saved["shop"] = {
        "access_token": shopee_api.ACCESS_TOKEN,
        "access_token_expires_at": past,
    }

    async def go() -> None:
        async with shopee_channel(fake, tokens=tokens) as channel:
            await channel.list_listings()

    run(go())
    assert fake.requests[0].path == signing.TOKEN_REFRESH_PATH
    assert fake.refreshes == 1


def test_a_rotated_refresh_token_in_the_ledger_serves_the_next_process(tmp_path: Path) -> None:
    fake = FakeShopee()
    fake.add_item("TEE", 10)
    path = tmp_path / "inventory.db"

    async def one_run() -> None:
        with Ledger.open(path, write=True) as ledger:
            # The config still holds the first refresh token, long spent after run one.
            async with shopee_channel(fake, tokens=ledger) as channel:
                fake.expire_access_tokens()
                await channel.list_listings()

    run(one_run())
    run(one_run())
    assert fake.refreshes == 2
    with Ledger.open(path, write=True) as ledger:
        stored = ledger.load_tokens("shop")
    assert stored["refresh_token"] in fake.refresh
    assert shopee_api.REFRESH_TOKEN not in fake.refresh


def test_a_refused_refresh_token_names_the_auth_command() -> None:
    fake = FakeShopee()
    fake.refresh.clear()  # spent elsewhere, or the 30 days are over
    fake.expire_access_tokens()

    async def go() -> None:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    assert "omnisync auth shop" in str(caught.value)
    assert all(secret not in str(caught.value) for secret in secrets_of(fake))


def test_an_expired_refresh_token_by_its_stored_date_fails_without_calling_shopee() -> None:
    fake = FakeShopee()
    tokens = MemoryTokens()
    tokens.saved["shop"] = {
        "access_token": "gone",
        "access_token_expires_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "refresh_token": "old",
        "refresh_token_expires_at": (utcnow() - timedelta(days=1)).isoformat(),
    }

    async def go() -> None:
        async with shopee_channel(fake, tokens=tokens) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelAuthError, match="omnisync auth shop"):
        run(go())
    assert fake.requests == []


@pytest.mark.parametrize(
    "error",
    [
        ("invalid_acceess_token", "Invalid access_token, please have a check."),
        ("error_auth", "Invalid access_token."),
    ],
)
def test_both_spellings_of_a_refused_access_token_refresh_it(error: tuple[str, str]) -> None:
    fake = FakeShopee(expired_error=error)
    fake.add_item("TEE", 10)
    fake.expire_access_tokens()

    async def go() -> int:
        async with shopee_channel(fake) as channel:
            return len(await channel.list_listings())

    assert run(go()) == 1 and fake.refreshes == 1


def test_no_token_anywhere_says_to_run_auth() -> None:
    fake = FakeShopee()

    async def go() -> None:
        async with shopee_channel(fake, access_token=None, refresh_token=None) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelAuthError, match="omnisync auth shop"):
        run(go())


# -- omnisync auth ---------------------------------------------------------------------------


def test_the_authorisation_link_is_signed_and_its_code_is_exchanged_into_the_ledger(
    tmp_path: Path,
) -> None:
    fake = FakeShopee()

    async def go() -> Any:
        with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
            async with shopee_authorizer(
                fake, tokens=ledger, access_token=None, refresh_token=None, shop_id=None
            ) as authorizer:
                link = authorizer.authorization_url()
                # The fake checks the link's signature as Shopee does before showing the page.
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)) as c:
                    landed = (await c.get(link)).json()["redirect_to"]
                answer = dict(parse_qsl(urlsplit(landed).query))
                result = await authorizer.exchange(answer)
                with pytest.raises(ChannelAuthError, match="single-use"):
                    await authorizer.exchange(answer)
            return link, result, ledger.load_tokens("shop")

    link, result, stored = run(go())
    query = dict(parse_qsl(urlsplit(link).query))
    assert urlsplit(link).path == "/api/v2/shop/auth_partner"
    assert set(query) == {"partner_id", "timestamp", "sign", "redirect"}
    assert result.shop == str(shopee_api.SHOP_ID)
    assert result.access_expires_at is not None and result.refresh_expires_at is not None
    assert stored["access_token"] in fake.access and stored["refresh_token"] in fake.refresh
    assert stored["shop_id"] == str(shopee_api.SHOP_ID)
    body = next(r for r in fake.requests if r.path == signing.TOKEN_GET_PATH).json()
    assert body == {
        "code": answer_code(fake),
        "shop_id": shopee_api.SHOP_ID,
        "partner_id": shopee_api.PARTNER_ID,
    }


def answer_code(fake: FakeShopee) -> str:
    body = next(r for r in fake.requests if r.path == signing.TOKEN_GET_PATH).json()
    return str(body["code"])


async def approve(fake: FakeShopee, authorizer: Any) -> dict[str, str]:
    """Open the link as the seller would; the fake answers where the browser lands."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)) as client:
        landed = (await client.get(authorizer.authorization_url())).json()["redirect_to"]
    return dict(parse_qsl(urlsplit(landed).query))


def test_a_main_account_approval_connects_its_only_shop(tmp_path: Path) -> None:
    # A main account's code comes back with main_account_id; its tokens are refreshed for
    # the shop ("refresh the access_token and refresh_token of shop_id ... respectively").
    fake = FakeShopee()
    fake.main_account = (19479, [shopee_api.SHOP_ID])
    fake.add_item("TEE", 10)

    async def go() -> Any:
        with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
            async with shopee_authorizer(
                fake, tokens=ledger, access_token=None, refresh_token=None, shop_id=None
            ) as authorizer:
                answer = await approve(fake, authorizer)
                result = await authorizer.exchange(answer)
            async with shopee_channel(
                fake, tokens=ledger, access_token=None, refresh_token=None, shop_id=None
            ) as channel:
                listings = await channel.list_listings()
            return answer, result, len(listings)

    answer, result, count = run(go())
    assert "shop_id" not in answer and answer["main_account_id"] == "19479"
    assert result.shop == str(shopee_api.SHOP_ID) and count == 1
    body = next(r for r in fake.requests if r.path == signing.TOKEN_GET_PATH).json()
    assert body["main_account_id"] == 19479 and "shop_id" not in body
    assert fake.refreshes == 1  # the per-shop refresh


def test_a_main_account_with_several_shops_needs_the_shop_named() -> None:
    fake = FakeShopee()
    fake.main_account = (19479, [shopee_api.SHOP_ID, 555])

    async def go(shop: str | None) -> Any:
        async with shopee_authorizer(
            fake, access_token=None, refresh_token=None, shop_id=None
        ) as authorizer:
            answer = await approve(fake, authorizer)
            if shop:
                answer["shop_id"] = shop  # --shop-id beside the address
            return await authorizer.exchange(answer)

    with pytest.raises(ConfigError, match=f"{shopee_api.SHOP_ID}, 555"):
        run(go(None))
    assert run(go(str(shopee_api.SHOP_ID))).shop == str(shopee_api.SHOP_ID)


# -- throttling, caps, clock, secrecy ----------------------------------------------------------


def test_rate_limit_answers_are_waited_out() -> None:
    fake = FakeShopee()
    fake.add_item("TEE", 10)
    limited = {"error": "error_rate_limit", "message": "Too many requests."}
    fake.fail_next(
        Fault(status=429, body=limited, match="get_item_list"),
        Fault(status=200, body=limited, match="get_item_list"),
        Fault(status=403, body=limited, match="get_item_list"),
    )

    async def go() -> int:
        async with shopee_channel(fake) as channel:
            return len(await channel.list_listings())

    assert run(go()) == 1
    assert len([r for r in fake.requests if r.path.endswith("get_item_list")]) == 4


def test_the_daily_cap_stops_the_channel_at_once_with_a_clear_message() -> None:
    fake = FakeShopee(daily_cap=1)
    for n in range(3):
        fake.add_item(f"SKU-{n}", 1)

    async def go() -> None:
        async with shopee_channel(fake) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelUnavailableError) as caught:
        run(go())
    assert "daily API call limit" in str(caught.value) and "00:00 UTC+8" in str(caught.value)
    assert len(fake.requests) == 2  # one accepted, one refused: no retries on a daily cap


def test_a_clock_that_is_off_is_reported_as_such() -> None:
    fake = FakeShopee()

    def ahead() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=600)

    async def go() -> None:
        async with shopee_channel(fake, now=ahead) as channel:
            await channel.list_listings()

    with pytest.raises(ChannelAuthError) as caught:
        run(go())
    message = str(caught.value)
    match = re.search(r"this machine's clock is (\d+) s off \(ahead", message)
    assert match is not None, message
    assert 595 <= int(match.group(1)) <= 605  # whole seconds, and a busy test machine
    assert "sign" not in message


def test_tokens_and_keys_never_reach_error_text() -> None:
    fake = FakeShopee()
    fake.fail_next(
        Fault(status=500, body={"error": "error_server", "message": "x"}, match="get_item_list"),
    )
    fake.fail_next(*[Fault(status=500, body="", match="get_item_list")] * 4)
    errors: list[str] = []

    async def go() -> None:
        async with shopee_channel(fake) as channel:
            try:
                await channel.list_listings()
            except ChannelUnavailableError as exc:
                errors.append(str(exc))

    run(go())
    assert errors
    # The failing URL carried the key's signature, the token and the shop; none shows.
    assert all(secret not in errors[0] for secret in secrets_of(fake))
    assert "access_token" in fake.requests[0].query


def test_requests_side_by_side_that_find_the_token_expired_refresh_it_once() -> None:
    fake = FakeShopee()
    tee = fake.add_item("TEE", 10)
    fake.add_order([(tee, 1)], updated=int(time.time()) - 60)
    tokens = MemoryTokens()
    tokens.saved["shop"] = {
        "access_token": shopee_api.ACCESS_TOKEN,
        "access_token_expires_at": (utcnow() + timedelta(minutes=6)).isoformat(),
    }
    shift = [timedelta()]

    def clock() -> datetime:
        return utcnow() + shift[0]

    async def go() -> int:
        async with shopee_channel(fake, tokens=tokens, now=clock) as channel:
            await channel.list_listings()
            shift[0] = timedelta(minutes=2)  # now inside the 5-minute margin
            # The order walk and the return walk start together; both see it expired.
            return len([o async for o in channel.fetch_orders(**since_yesterday())])

    assert run(go()) == 1
    assert fake.refreshes == 1
