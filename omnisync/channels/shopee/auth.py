"""`omnisync auth NAME` for Shopee: the signed authorisation link, then code → tokens.

Flow (Shopee's guide "Authorization and Authentication", lazykern/ecommerce-api-docs@67148d16:
data/processed/shopee/guides/getting-started/authorization-and-authentication.md):
1. The seller opens `{host}/api/v2/shop/auth_partner?partner_id&timestamp&sign&redirect`,
   signed as a public API (valid 5 minutes), logs in with the *shop* account and approves.
2. Shopee sends the browser to `redirect?code=...&shop_id=...` (a main account gets
   `main_account_id` instead; omnisync connects one shop, so it asks for a shop login).
3. `POST /api/v2/auth/token/get` (public signature) with body `{code, shop_id, partner_id}`
   answers `access_token` (4 h), `refresh_token` (30 days, single use) and `expire_in`. The
   code is single-use and lives 10 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping

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
        try:
            reply = await self.client.call_public(
                signing.TOKEN_GET_PATH,
                # v2.public.get_access_token: code, shop_id and partner_id, as integers.
                {"code": code, "shop_id": shop_id, "partner_id": self.settings.partner_id},
                context="exchanging the authorisation code",
            )
        except ChannelResponseError as exc:
            raise ChannelAuthError(
                self.name,
                f"Shopee refused the code ({exc.message}); codes are single-use and expire "
                f"after 10 minutes: run `omnisync auth {self.name}` again for a new link",
                code=exc.code,
            ) from None
        access_expires, refresh_expires = self.client.save(reply, shop_id=shop_id)
        return AuthResult(
            shop=str(shop_id),
            access_expires_at=access_expires,
            refresh_expires_at=refresh_expires,
        )

    async def aclose(self) -> None:
        await self.client.http.aclose()
