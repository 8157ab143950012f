"""`omnisync auth NAME` for Shopee: the signed authorisation link, then code → tokens.

Flow (Shopee's guide "Authorization and Authentication", lazykern/ecommerce-api-docs@67148d16:
data/processed/shopee/guides/getting-started/authorization-and-authentication.md):
1. The seller opens `{host}/api/v2/shop/auth_partner?partner_id&timestamp&sign&redirect`,
   signed as a public API (valid 5 minutes), logs in with the *shop* account and approves.
2. Shopee sends the browser to `redirect?code=...&shop_id=...`; a seller who approved with a
   main account (several shops) gets `code` and `main_account_id` instead.
3. `POST /api/v2/auth/token/get` (public signature) with body `{code, shop_id, partner_id}`
   (or `main_account_id` in place of `shop_id`) answers `access_token` (4 h), `refresh_token`
   (30 days, single use) and `expire_in`; for a main account also `shop_id_list`. The code is
   single-use and lives 10 minutes.
4. A main account's tokens are then refreshed for the one shop this channel manages ("Call
   the RefreshAccessToken API to refresh the access_token and refresh_token of shop_id and
   merchant_id respectively", same guide): the configured `shop_id` or `--shop-id`, or the
   only shop approved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omnisync.channels.base import AuthResult, ChannelConfig, ChannelContext
from omnisync.channels.shopee import signing
from omnisync.channels.shopee.client import ShopeeClient
from omnisync.channels.shopee.settings import ShopeeSettings
from omnisync.errors import ChannelAuthError, ChannelResponseError, ConfigError


class ShopeeAuthorizer:
    """What `omnisync auth` drives for a Shopee channel."""

    def __init__(self, config: ChannelConfig, context: ChannelContext) -> None:
        settings = config.settings
        assert isinstance(settings, ShopeeSettings)
        self.name = config.name
        self.settings = settings
        self.client = ShopeeClient(config.name, settings, context, base_url=config.base_url)

    def authorization_url(self) -> str:
        return signing.authorization_url(
            self.client.host,
            self.settings.partner_key.reveal(),
            self.settings.partner_id,
            self.client.timestamp(),
            self.settings.redirect_url,
        )

    async def exchange(self, answer: Mapping[str, str]) -> AuthResult:
        code = (answer.get("code") or "").strip()
        if not code:
            raise ConfigError("the answer has no 'code': pass the whole address, or --code CODE")
        main_account = (answer.get("main_account_id") or "").strip()
        if main_account:
            return await self._exchange_main_account(code, main_account, answer.get("shop_id"))
        shop = (answer.get("shop_id") or "").strip() or (
            str(self.settings.shop_id) if self.settings.shop_id else ""
        )
        if not shop:
            hint = (
                " (it came back with main_account_id: log in with the shop's own account, not "
                "the main account, when approving)"
                if answer.get("main_account_id")
                else ""
            )
            raise ConfigError(
                f"Shopee's answer has no shop_id{hint}: pass the whole address the browser was "
                f"sent back to, or --shop-id SHOP_ID"
            )
        if not shop.isdigit():
            raise ConfigError(f"--shop-id {shop!r}: expected Shopee's numeric shop id")
        shop_id = int(shop)
        if self.settings.shop_id and self.settings.shop_id != shop_id:
            raise ConfigError(
                f"the shop that approved omnisync ({shop_id}) is not the shop_id in "
                f"[channels.{self.name}] ({self.settings.shop_id}): approve with that shop's "
                f"account, or fix shop_id"
            )
        # v2.public.get_access_token: code, shop_id and partner_id, ids as integers.
        reply = await self._token_get(
            {"code": code, "shop_id": shop_id, "partner_id": self.settings.partner_id}
        )
        access_expires, refresh_expires = self.client.save(reply, shop_id=shop_id)
        return AuthResult(
            shop=str(shop_id),
            access_expires_at=access_expires,
            refresh_expires_at=refresh_expires,
        )

    async def _token_get(self, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return await self.client.call_public(
                signing.TOKEN_GET_PATH, body, context="exchanging the authorisation code"
            )
        except ChannelResponseError as exc:
            raise ChannelAuthError(
                self.name,
                f"Shopee refused the code ({exc.message}); codes are single-use and expire "
                f"after 10 minutes: run `omnisync auth {self.name}` again for a new link",
                code=exc.code,
            ) from None

    async def _exchange_main_account(
        self, code: str, main_account: str, wanted: str | None
    ) -> AuthResult:
        """A main account's code: its tokens, refreshed for the one shop of this channel."""
        if not main_account.isdigit():
            raise ConfigError(f"main_account_id {main_account!r}: expected Shopee's number")
        chosen = (wanted or "").strip() or (
            str(self.settings.shop_id) if self.settings.shop_id else ""
        )
        if chosen and not chosen.isdigit():
            raise ConfigError(f"--shop-id {chosen!r}: expected Shopee's numeric shop id")
        if chosen and self.settings.shop_id and int(chosen) != self.settings.shop_id:
            raise ConfigError(
                f"--shop-id {chosen} is not the shop_id in [channels.{self.name}] "
                f"({self.settings.shop_id}): pass that one, or fix shop_id"
            )
        reply = await self._token_get(
            {
                "code": code,
                "main_account_id": int(main_account),
                "partner_id": self.settings.partner_id,
            }
        )
        shops = [int(s) for s in reply.get("shop_id_list") or () if str(s).isdigit()]
        listed = ", ".join(str(s) for s in shops) or "none"
        if chosen and int(chosen) not in shops:
            raise ConfigError(
                f"shop {chosen} is not among the shops the main account approved ({listed}): "
                f"run `omnisync auth {self.name}` again and tick that shop"
            )
        if not chosen and len(shops) != 1:
            raise ConfigError(
                f"the main account approved {len(shops)} shops ({listed}); one channel is one "
                f"shop: set shop_id in [channels.{self.name}] (or pass --shop-id) and run "
                f"`omnisync auth {self.name}` again"
            )
        shop_id = int(chosen) if chosen else shops[0]
        # Saved first: a crash between the two calls leaves a refresh token that still works.
        self.client.save(reply, shop_id=shop_id)
        await self.client.refresh(reason="a main account's tokens are refreshed per shop")
        return AuthResult(
            shop=str(shop_id),
            access_expires_at=self.client.tokens.expires_at("access_token"),
            refresh_expires_at=self.client.tokens.expires_at("refresh_token"),
        )

    async def aclose(self) -> None:
        await self.client.http.aclose()
