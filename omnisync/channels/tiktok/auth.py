"""`omnisync auth NAME` for TikTok Shop: the seller's authorisation link, then code → tokens.

The flow (authorization-overview-202407.json, lazykern/ecommerce-api-docs@eba059e3:
data/raw/tiktok/developer-guide/get-started/authorization/): the seller opens
`https://services.tiktokshop.com/open/authorize?service_id=SERVICE_ID` (US:
services.tiktokshops.us), approves, and the browser lands on the app's redirect URL (set in
Partner Center) with `?code=...` (`code=null&error=auth_denied` on refusal). The code is
traded within 30 minutes, once, at Get Access Token. TikTok signs nothing in the link.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from omnisync.channels.base import AuthResult, ChannelConfig, ChannelContext
from omnisync.channels.tiktok.client import TikTokApi, _when, describe_shop
from omnisync.channels.tiktok.payloads import Shop
from omnisync.channels.tiktok.settings import AUTHORIZE_PAGES, TikTokSettings
from omnisync.channels.tokens import StoredTokens
from omnisync.errors import ChannelAuthError, ConfigError
from omnisync.redact import REDACTOR


def stored_tokens(name: str, settings: TikTokSettings, context: ChannelContext) -> StoredTokens:
    """The channel's tokens: the ledger's, else the config's."""
    return StoredTokens(
        name,
        context.tokens,
        configured={"access_token": settings.access_token, "refresh_token": settings.refresh_token},
    )


class TikTokAuthorizer:
    """Connects one TikTok Shop (or Tokopedia) shop to omnisync."""

    def __init__(self, config: ChannelConfig, context: ChannelContext) -> None:
        settings = config.settings
        assert isinstance(settings, TikTokSettings)
        self.name = config.name
        self.settings = settings
        self.tokens = stored_tokens(config.name, settings, context)
        self.api = TikTokApi(
            config.name,
            settings,
            budget=context.budget,
            base_url=config.base_url,
            client=context.http,
            tokens=self.tokens,
            now=context.now,
        )

    def authorization_url(self) -> str:
        if not self.settings.service_id:
            raise ConfigError(
                f"[channels.{self.name}] has no service_id: set it to the app's service id "
                f"(Partner Center → App & Service → the app; it is the number at the end of "
                f'the app\'s "Copy authorization link")'
            )
        query = urlencode({"service_id": self.settings.service_id})
        return f"{AUTHORIZE_PAGES[self.settings.market]}?{query}"

    async def exchange(self, answer: Mapping[str, str]) -> AuthResult:
        code = (answer.get("code") or "").strip()
        if not code or code == "null":
            if answer.get("error"):
                raise ChannelAuthError(
                    self.name,
                    f"the seller did not approve omnisync ({answer['error']}); run "
                    f"`omnisync auth {self.name}` again",
                )
            raise ConfigError("the platform's answer has no 'code': pass the whole address")
        REDACTOR.add(code)  # a live credential for 30 minutes: kept out of logs (-v) too
        data = await self.api.exchange(code)
        shops = await self.api.shops()
        shop = self._shop(shops)
        return AuthResult(
            shop=shop,
            access_expires_at=_when(data.access_token_expire_in),
            refresh_expires_at=_when(data.refresh_token_expire_in),
        )

    def _shop(self, shops: list[Shop]) -> str:
        """Which shop is connected; the cipher of the only one is kept in the ledger."""
        wanted = self.settings.shop_cipher
        for shop in shops:
            if wanted and shop.cipher == wanted:
                return describe_shop(shop)
        if wanted:
            raise ChannelAuthError(
                self.name,
                f"the seller who approved has no shop with the configured shop_cipher "
                f"(authorised: {', '.join(s.name for s in shops) or 'none'})",
            )
        if len(shops) == 1:
            self.tokens.save({"shop_cipher": shops[0].cipher})
            return describe_shop(shops[0])
        # A cipher stored by an earlier `auth` may name a shop this seller did not approve now.
        self.tokens.save({"shop_cipher": ""})
        choices = "; ".join(describe_shop(s, cipher=True) for s in shops)
        return f"{len(shops)} shops; set shop_cipher in [channels.{self.name}] to one of: {choices}"

    async def aclose(self) -> None:
        await self.api.aclose()
