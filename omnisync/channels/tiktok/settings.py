"""The `[channels.NAME]` keys of a `type = "tiktok"` channel (TikTok Shop, also Tokopedia)."""

from __future__ import annotations

from pydantic import field_validator

from omnisync.channels.base import ChannelSettings, SecretStr

API_HOST = "https://open-api.tiktokglobalshop.com"  # every Open API call
AUTH_HOST = "https://auth.tiktok-shops.com"  # token get / refresh
# The seller's authorisation page (Partner Center → the app → Authorization); US shops
# are served by services.tiktokshops.us (authorization-overview-202407.json, the newer page;
# the older authorization-guide-202309.json shows services.us.tiktokshop.com for the US).
AUTHORIZE_PAGES = {
    "row": "https://services.tiktokshop.com/open/authorize",
    "us": "https://services.tiktokshops.us/open/authorize",
}


class TikTokSettings(ChannelSettings):
    """SPEC "Channel keys" for `tiktok`, plus `service_id` and `market` for `omnisync auth`."""

    app_key: str
    app_secret: SecretStr
    access_token: SecretStr | None = None  # optional once `omnisync auth` stored one
    refresh_token: SecretStr | None = None
    shop_cipher: str | None = None  # default: the one shop the token is authorised for
    warehouse_id: str | None = None  # push only this warehouse; default: all of each SKU
    # The app's service id: the authorisation link is built from it, not from app_key.
    service_id: str | None = None
    market: str = "row"  # "row" (rest of world, Indonesia included) or "us"

    @field_validator("app_key", "shop_cipher", "warehouse_id", "service_id")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = str(value).strip()
        if not value:
            raise ValueError("expected a non-empty string")
        return value

    @field_validator("market")
    @classmethod
    def _market(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in AUTHORIZE_PAGES:
            raise ValueError(f"expected one of {', '.join(sorted(AUTHORIZE_PAGES))}")
        return value
