"""The keys of a `type = "lazada"` channel, and the addresses they lead to."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from omnisync.channels.base import ChannelSettings, SecretStr

# One API gateway per country (lazykern/ecommerce-api-docs@eba059e3:data/processed/lazada/
# guides/developers-guide/call-api-with-http-requests/api-endpoint-urls.md).
GATEWAYS = {
    "id": "https://api.lazada.co.id/rest",
    "sg": "https://api.lazada.sg/rest",
    "my": "https://api.lazada.com.my/rest",
    "th": "https://api.lazada.co.th/rest",
    "vn": "https://api.lazada.vn/rest",
    "ph": "https://api.lazada.com.ph/rest",
}
# Token calls go to one central host for every country (seller-authorization-introduction.md,
# "Central: for all countries (SG/MY/TH/VN/ID/PH) https://auth.lazada.com/rest").
AUTH_GATEWAY = "https://auth.lazada.com/rest"
# Where the seller approves the app (same guide, "Concatenate authorization URL").
AUTHORIZE_URL = "https://auth.lazada.com/oauth/authorize"


class LazadaSettings(ChannelSettings):
    """`app_key`, `app_secret`*, `access_token`*, `refresh_token`*, `country`; and
    `redirect_url`, the app's callback URL, which `omnisync auth` needs (Lazada requires
    it to be the one registered with the app)."""

    app_key: str
    app_secret: SecretStr
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    country: Literal["id", "sg", "my", "th", "vn", "ph"]
    redirect_url: str | None = None

    @field_validator("app_key", mode="before")
    @classmethod
    def _app_key(cls, value: Any) -> str:
        # The console shows a number; TOML may hold it as one.
        text = str(value).strip() if isinstance(value, int | str) else ""
        if not text.isdigit():
            raise ValueError("expected the App Key from the Lazada Open Platform console (digits)")
        return text

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("redirect_url")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("expected the app's callback URL, as registered with Lazada")
        return value


def api_root(settings: LazadaSettings, base_url: str | None) -> str:
    """Where API calls go: `base_url` replaces scheme, host and the `/rest` gateway."""
    return (base_url or GATEWAYS[settings.country]).rstrip("/")


def auth_root(base_url: str | None) -> str:
    """Where token calls go; `base_url` replaces this host too (sandboxes, tests)."""
    return (base_url or AUTH_GATEWAY).rstrip("/")
