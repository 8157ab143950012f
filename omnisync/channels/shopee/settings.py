"""The `[channels.NAME]` keys of a `type = "shopee"` channel (SPEC, "Channel keys")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from omnisync.channels.base import ChannelSettings, SecretStr
from omnisync.redact import Secret


def _integer(value: Any) -> int:
    """An id Shopee gives as a number; digits in a string are accepted (a `${VAR}` value)."""
    if isinstance(value, bool):
        raise ValueError("expected an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ValueError("expected an integer (digits)")
    # Shopee: "should be an integer between 0 and 4294967295" (common error list).
    if not 0 < number <= 4294967295:
        raise ValueError("expected a positive integer below 2**32")
    return number


class ShopeeSettings(ChannelSettings):
    """Keys: partner_id and partner_key (the app's), shop_id, tokens, region, location_id.

    `shop_id`, `access_token` and `refresh_token` may be left out once `omnisync auth` has
    stored them in the ledger. `redirect_url` (optional, not in SPEC's list) is where Shopee
    sends the browser after the seller approves: the page itself does not matter, omnisync only
    reads `code` and `shop_id` from its address.
    """

    partner_id: int
    partner_key: SecretStr
    shop_id: int | None = None
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    region: Literal["sg", "cn", "br"] = "sg"
    location_id: str | None = None
    redirect_url: str = "https://open.shopee.com"

    @field_validator("partner_id", "shop_id", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return None if value is None else _integer(value)

    @field_validator("location_id", mode="before")
    @classmethod
    def _location(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("redirect_url")
    @classmethod
    def _redirect(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("expected an http(s) address")
        return value

    @field_validator("partner_key")
    @classmethod
    def _key(cls, value: Secret) -> Secret:
        if not value.reveal().strip():
            raise ValueError("must not be empty")
        return value
