"""`omnisync auth` for Lazada: the seller approves the app, the code becomes tokens.

The flow ("Code for token", lazykern/ecommerce-api-docs@eba059e3:data/processed/lazada/
guides/quick-start-guide/seller-authorization-introduction.md):

1. the seller opens `https://auth.lazada.com/oauth/authorize?response_type=code&
   force_auth=true&redirect_uri=<the app's callback URL>&client_id=<app key>` (not signed),
   signs in and approves;
2. the browser is sent to the callback URL with `?code=...` ("valid for half an hour and can
   only be used once");
3. `/auth/token/create` (signed with the app's keys, on auth.lazada.com/rest) trades the code
   for `access_token`, `refresh_token`, `expires_in`, `refresh_expires_in`, `country`,
   `account` and `country_user_info` (data/raw/lazada/apis/system-api/generateaccesstoken.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from omnisync.channels.base import AuthResult, ChannelContext
from omnisync.channels.lazada.api import LazadaApi
from omnisync.channels.lazada.settings import AUTHORIZE_URL, LazadaSettings
from omnisync.errors import ChannelAuthError, ConfigError
from omnisync.httpclient import RetryPolicy

CROSS_BORDER = "cb"  # a cross-border seller's one token serves every country (same guide)


class LazadaAuthorizer:
    """Connects one Lazada shop to a `[channels.NAME]` table."""

    def __init__(
        self,
        name: str,
        settings: LazadaSettings,
        *,
        context: ChannelContext,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.api = LazadaApi(name, settings, context=context, base_url=base_url, policy=policy)

    def authorization_url(self) -> str:
        redirect = self.settings.redirect_url
        if not redirect:
            raise ConfigError(
                f"[channels.{self.name}] redirect_url is needed by `omnisync auth`: set it to "
                f"the callback URL registered with your app on open.lazada.com"
            )
        query = urlencode(
            {
                "response_type": "code",
                "force_auth": "true",
                "redirect_uri": redirect,
                "client_id": self.settings.app_key,
            }
        )
        return f"{AUTHORIZE_URL}?{query}"

    async def exchange(self, answer: Mapping[str, str]) -> AuthResult:
        code = (answer.get("code") or "").strip()
        if not code:
            raise ConfigError(
                "Lazada's answer has no 'code': pass the whole address the browser was sent "
                "back to, or --code CODE"
            )
        try:
            body = await self.api.token_call(
                "/auth/token/create", {"code": code}, context="exchanging the code for tokens"
            )
        except ChannelAuthError as exc:
            if exc.code == "InvalidCode":
                raise ChannelAuthError(
                    self.name,
                    "Lazada refused the code (InvalidCode): a code works once, for half an "
                    f"hour; run `omnisync auth {self.name}` for a new address",
                    code=exc.code,
                ) from None
            raise
        country = str(body.get("country") or "").lower()
        if country and country not in (self.settings.country, CROSS_BORDER):
            raise ConfigError(
                f"[channels.{self.name}] country = {self.settings.country!r}, but the shop "
                f"that approved omnisync is in {country!r}: set country = {country!r}"
            )
        access_expires, refresh_expires = self.api.store(body)
        return AuthResult(
            shop=_shop(body, self.settings.country),
            access_expires_at=access_expires,
            refresh_expires_at=refresh_expires,
        )

    async def aclose(self) -> None:
        await self.api.aclose()


def _shop(body: Mapping[str, Any], country: str) -> str:
    """The seller as the token answer names them: seller id in the country, else account."""
    # `country_user_info` on create, `country_user_info_list` on refresh; a list of
    # {country, seller_id, user_id, short_code} (generateaccesstoken.json).
    infos = body.get("country_user_info") or body.get("country_user_info_list") or []
    if isinstance(infos, list):
        for info in infos:
            if isinstance(info, dict) and str(info.get("country", "")).lower() == country:
                seller = info.get("short_code") or info.get("seller_id")
                if seller:
                    return f"{seller} ({country})"
    return str(body.get("account") or "?")
