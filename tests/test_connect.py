"""`omnisync auth NAME`: the address to approve, the answer parsed, tokens into the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from omnisync.channels import CHANNEL_TYPES
from omnisync.channels.base import (
    AuthResult,
    ChannelConfig,
    ChannelContext,
    ChannelSettings,
    ChannelType,
    SecretStr,
)
from omnisync.channels.tokens import StoredTokens
from omnisync.connect import callback_answer
from omnisync.errors import ChannelAuthError, UsageError
from omnisync.ledger import Ledger
from tests.helpers import Shop, invoke

APP_SECRET = "app-secret-never-printed-0001"
ISSUED = "issued-access-token-never-printed"


class OAuthSettings(ChannelSettings):
    app_key: str
    app_secret: SecretStr


class OAuthFake:
    """A stand-in marketplace flow: the CLI glue is under test here, not a platform."""

    exchanged: list[dict[str, str]] = []

    def __init__(self, config: ChannelConfig, context: ChannelContext) -> None:
        self.config = config
        self.tokens = StoredTokens(config.name, context.tokens)

    def authorization_url(self) -> str:
        settings = self.config.settings
        assert isinstance(settings, OAuthSettings)
        return f"https://auth.example/authorize?app_key={settings.app_key}&state=omnisync"

    async def exchange(self, answer: Mapping[str, str]) -> AuthResult:
        OAuthFake.exchanged.append(dict(answer))
        if answer["code"] == "refused":
            raise ChannelAuthError(self.config.name, "the code was refused (it is single-use)")
        self.tokens.save({"access_token": ISSUED, "refresh_token": "issued-refresh-token"})
        return AuthResult(
            shop=answer.get("shop_id", "1"),
            access_expires_at=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        )

    async def aclose(self) -> None:
        pass


def _never_opened(config: ChannelConfig, context: ChannelContext) -> object:
    raise AssertionError("auth must not open the channel")


@pytest.fixture
def oauth_shop(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> Shop:
    monkeypatch.setitem(
        CHANNEL_TYPES,
        "oauthfake",
        ChannelType(settings=OAuthSettings, open=_never_opened, authorize=OAuthFake),  # type: ignore[arg-type]
    )
    monkeypatch.setenv("APP_SECRET", APP_SECRET)
    OAuthFake.exchanged = []
    shop.write_channel("till")
    shop.write_config(
        {"till": {}},
        '[channels.market]\ntype = "oauthfake"\napp_key = "k123"\napp_secret = "${APP_SECRET}"\n',
        init=False,
    )
    return shop


def test_auth_without_an_answer_prints_the_address_to_approve(
    oauth_shop: Shop, runner: CliRunner
) -> None:
    result = invoke(runner, oauth_shop, "auth", "market")
    assert result.exit_code == 0, result.output
    assert "https://auth.example/authorize?app_key=k123&state=omnisync" in result.stdout
    assert "omnisync auth market 'ADDRESS'" in result.stdout
    assert OAuthFake.exchanged == []
    assert not oauth_shop.ledger.exists()  # nothing written until a code comes back


def test_auth_with_the_returned_address_stores_tokens_in_the_ledger(
    oauth_shop: Shop, runner: CliRunner
) -> None:
    Ledger.open(oauth_shop.ledger, write=True).close()
    address = "https://seller.example/callback?code=abc123&shop_id=777&extra=1"
    result = invoke(runner, oauth_shop, "auth", "market", address)
    assert result.exit_code == 0, result.output
    assert OAuthFake.exchanged == [{"code": "abc123", "shop_id": "777", "extra": "1"}]
    assert "Connected market (shop 777)" in result.stdout
    assert "2026-12-07 08:00 UTC" in result.stdout
    assert ISSUED not in result.output and APP_SECRET not in result.output
    with Ledger.open(oauth_shop.ledger, write=False) as ledger:
        assert ledger.load_tokens("market")["access_token"] == ISSUED


def test_auth_with_code_and_shop_id_options(oauth_shop: Shop, runner: CliRunner) -> None:
    Ledger.open(oauth_shop.ledger, write=True).close()
    result = invoke(runner, oauth_shop, "auth", "market", "--code", " c0de ", "--shop-id", "42")
    assert result.exit_code == 0, result.output
    assert OAuthFake.exchanged == [{"code": "c0de", "shop_id": "42"}]


def test_a_refused_code_is_exit_1_with_the_platform_reason(
    oauth_shop: Shop, runner: CliRunner
) -> None:
    Ledger.open(oauth_shop.ledger, write=True).close()
    result = invoke(runner, oauth_shop, "auth", "market", "--code", "refused")
    assert result.exit_code == 1
    assert "Error: market: the code was refused (it is single-use)" in result.stderr
    with Ledger.open(oauth_shop.ledger, write=False) as ledger:
        assert ledger.load_tokens("market") == {}


def test_auth_on_a_file_channel_says_it_needs_no_connecting(
    oauth_shop: Shop, runner: CliRunner
) -> None:
    result = invoke(runner, oauth_shop, "auth", "till")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {oauth_shop.config}: [channels.till] is a fake channel, which reads and "
        f"writes local files: it needs no connecting and has no credentials\n"
    )


def test_auth_on_an_unknown_channel_lists_the_configured_ones(
    oauth_shop: Shop, runner: CliRunner
) -> None:
    result = invoke(runner, oauth_shop, "auth", "shopee")
    assert result.exit_code == 2
    assert "no channel named 'shopee' (configured: market, till)" in result.stderr


def test_an_address_without_a_query_is_refused(oauth_shop: Shop, runner: CliRunner) -> None:
    result = invoke(runner, oauth_shop, "auth", "market", "https://seller.example/callback")
    assert result.exit_code == 2
    assert "expected the whole address the browser was sent back to" in result.stderr


def test_an_answer_without_a_code_is_refused(oauth_shop: Shop, runner: CliRunner) -> None:
    Ledger.open(oauth_shop.ledger, write=True).close()
    result = invoke(runner, oauth_shop, "auth", "market", "https://x.example/cb?state=omnisync")
    assert result.exit_code == 2
    assert "has no 'code'" in result.stderr
    assert OAuthFake.exchanged == []


def test_a_declined_approval_shows_the_platforms_error(oauth_shop: Shop, runner: CliRunner) -> None:
    Ledger.open(oauth_shop.ledger, write=True).close()
    address = "https://x.example/cb?error=access_denied&error_description=The+user+denied"
    result = invoke(runner, oauth_shop, "auth", "market", address)
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: market: the seller declined, or the platform refused, to connect the shop "
        "(error: access_denied; error_description: The user denied). Nothing was stored; "
        "run `omnisync auth market` again for a new address to approve\n"
    )
    assert OAuthFake.exchanged == []


@pytest.mark.parametrize(
    ("address", "code", "shop_id", "expected"),
    [
        (None, None, None, None),
        ("https://a.example/cb?code=X&shop_id=9", None, None, {"code": "X", "shop_id": "9"}),
        ("code=X&shop_id=9", None, None, {"code": "X", "shop_id": "9"}),
        ("  https://a.example/cb?code=a%2Bb  ", None, None, {"code": "a+b"}),
        ("https://a.example/cb?code=X", "Y", None, {"code": "Y"}),
        (None, "C", "7", {"code": "C", "shop_id": "7"}),
    ],
)
def test_callback_answer(
    address: str | None, code: str | None, shop_id: str | None, expected: object
) -> None:
    assert callback_answer(address, code=code, shop_id=shop_id) == expected


def test_callback_answer_rejects_a_bare_word() -> None:
    with pytest.raises(UsageError, match="expected the whole address"):
        callback_answer("nonsense", code=None, shop_id=None)
