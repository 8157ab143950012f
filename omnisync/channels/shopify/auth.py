"""Shopify credentials: the settings, the client-credentials grant, and the scopes omnisync needs.

Two kinds of app reach a shop's Admin API:
- apps made in the shop's admin before 2026 ("legacy custom apps") show a static `shpat_`
  token, configured as `token`;
- apps made in the Dev Dashboard since (new legacy custom apps can no longer be created from
  2026-01-01) have a `client_id` and `client_secret`, and get a 24-hour token by the
  client-credentials grant: `POST https://{shop}/admin/oauth/access_token` with `client_id`,
  `client_secret`, `grant_type=client_credentials` (form-encoded) → `{access_token, scope,
  expires_in}` (research section 8; https://shopify.dev/docs/apps/build/authentication-
  authorization/client-secrets). The grant serves only apps of the shop owner's own
  organization, installed in the shop. The token is kept in the ledger with its expiry, so
  the runs of a day reuse one; a run that finds it expired (or refused) obtains another.

Scopes: each query needs its own (research section 8): orders `read_orders` (older than 60
days also `read_all_orders`), inventory levels and quantities `read_inventory`,
`inventorySetQuantities` `write_inventory`, and since 2024-07 every `Location` field but `id`
`read_locations`. A missing one answers `ACCESS_DENIED` for the field; `check` names it from
`currentAppInstallation.accessScopes`, and a sync that meets it fails with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from pydantic import field_validator, model_validator

from omnisync.channels.base import ChannelSettings, SecretStr
from omnisync.channels.tokens import StoredTokens
from omnisync.errors import ChannelAuthError, ChannelError
from omnisync.httpclient import ChannelHttp
from omnisync.locations import LOCATION_NAME
from omnisync.payload import Payload

DEFAULT_API_VERSION = "2026-10"
_STORE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$|^unstable$")

# What each job omnisync does on Shopify needs; a write scope grants its read scope too.
NEEDED_SCOPES: dict[str, str] = {
    "read_orders": "reading orders",
    "read_inventory": "reading stock levels",
    "write_inventory": "writing stock levels",
    "read_locations": "reading the location",
}
# "Access denied for location field. Required access: `read_locations` access scope."
_SCOPE_IN_MESSAGE = re.compile(r"Required access:\s*`?((?:read|write)_\w+)")


def _location_gid(value: Any) -> str:
    """A Shopify location as its GID, from the GID or its number."""
    text = str(value).strip() if isinstance(value, int | str) else ""
    if text.isdigit():
        return f"gid://shopify/Location/{text}"
    if re.fullmatch(r"gid://shopify/Location/\d+", text):
        return text
    raise ValueError("expected a location GID (gid://shopify/Location/123) or its number")


class ShopifySettings(ChannelSettings):
    store: str
    token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # One Shopify location (its stock is the channel's `location`, `main` by default), or
    # `locations`: several, each mapped to a ledger location; exactly one of the two.
    location: str | None = None
    locations: dict[str, str] | None = None
    api_version: str = DEFAULT_API_VERSION

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        value = value.strip().lower().removeprefix("https://").rstrip("/")
        if not _STORE.match(value):
            raise ValueError("expected the shop's NAME.myshopify.com domain")
        return value

    @field_validator("location", mode="before")
    @classmethod
    def _location(cls, value: Any) -> str:
        return _location_gid(value)

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not value:
            raise ValueError(
                "expected a table of Shopify locations to ledger locations, like "
                '{ "gid://shopify/Location/1" = "main" }'
            )
        mapped: dict[str, str] = {}
        for gid, place in value.items():
            key = _location_gid(gid)
            if key in mapped:
                raise ValueError(f"location {gid!r} is given twice")
            if not isinstance(place, str) or not LOCATION_NAME.match(place):
                raise ValueError(
                    f"location {gid!r}: expected a ledger location name, got {place!r}"
                )
            mapped[key] = place
        return mapped

    @model_validator(mode="after")
    def _one_location_key(self) -> ShopifySettings:
        from omnisync.config.tables import said  # see _one_credential: never echo the table

        if (self.location is None) == (self.locations is None):
            raise said(
                "expected either location (one Shopify location) or locations (Shopify "
                "locations mapped to ledger locations), not both"
                if self.location is not None
                else "missing key 'location' (or 'locations', Shopify locations mapped to "
                "ledger locations)"
            )
        return self

    def ledger_locations(self) -> dict[str, str]:
        return dict(self.locations or {})

    def shopify_locations(self) -> list[str]:
        """The Shopify location GIDs omnisync reads and writes, the first one first."""
        return list(self.locations) if self.locations else [self.location or ""]

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("expected a Shopify API version like 2026-10")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> ShopifySettings:
        # The config's own "said" error: a message complete as it stands, so the formatter
        # does not echo the table's values (secrets among them). Imported here: the config
        # package imports the channel registry, which imports this module.
        from omnisync.config.tables import said

        pair = (self.client_id is not None, self.client_secret is not None)
        if self.token is not None and any(pair):
            raise said("expected either token or client_id + client_secret, not both")
        if self.token is None and not all(pair):
            raise said(
                "expected token (an app made before 2026) or client_id and client_secret "
                "(a Dev Dashboard app)"
            )
        return self


class _Grant(Payload):
    access_token: str
    expires_in: int | None = None
    scope: str = ""


class AccessToken:
    """The token to send: the configured one, or one obtained by the client-credentials grant."""

    def __init__(
        self, name: str, settings: ShopifySettings, tokens: StoredTokens, *, url: str
    ) -> None:
        self.name = name
        self.settings = settings
        self.tokens = tokens
        self.url = url  # https://{store}/admin/oauth/access_token (or base_url's)

    @property
    def granted(self) -> bool:
        """Whether the token comes from the grant (and can be obtained again)."""
        return self.settings.token is None

    def cached(self, now: datetime) -> str | None:
        """The token to use without asking Shopify, if there is a valid one."""
        if self.settings.token is not None:
            return self.settings.token.reveal()
        # A token of another app (client_id changed in the config) is not ours to use.
        if self.tokens.get("client_id") != self.settings.client_id:
            return None
        if self.tokens.expired("access_token", now=now):
            return None
        return self.tokens.get("access_token")

    async def obtain(self, http: ChannelHttp, now: datetime) -> str:
        """A new token by the client-credentials grant, saved in the ledger before use."""
        assert self.settings.client_id is not None and self.settings.client_secret is not None
        try:
            response = await http.send(
                "POST",
                self.url,
                form={
                    "client_id": self.settings.client_id,
                    "client_secret": self.settings.client_secret.reveal(),
                    "grant_type": "client_credentials",
                },
                context="obtaining an access token",
            )
        except ChannelAuthError:
            raise
        except ChannelError as exc:
            if exc.http_status is None or exc.http_status >= 500:
                raise
            raise ChannelAuthError(
                self.name,
                f"Shopify refused the app's credentials ({exc.message}): check "
                f"[channels.{self.name}] client_id and client_secret (Dev Dashboard → the "
                f"app → Settings) and that the app is installed on {self.settings.store}",
                http_status=exc.http_status,
                code=exc.code,
            ) from None
        grant = http.parse(response, _Grant, root="token")
        # Shopify answers expires_in 86399 (24 h); without one, assume the documented day.
        lifetime = timedelta(seconds=grant.expires_in or 86_399)
        self.tokens.save(
            {"access_token": grant.access_token, "client_id": self.settings.client_id},
            expires={"access_token": now + lifetime},
        )
        return grant.access_token


def granted(scopes: Iterable[str]) -> set[str]:
    """The scopes a token has, with each write scope's read scope (write implies read)."""
    have = set(scopes)
    return have | {"read_" + s.removeprefix("write_") for s in have if s.startswith("write_")}


def missing_scopes(scopes: Collection[str]) -> list[str]:
    """The scopes omnisync needs that `scopes` lacks, in NEEDED_SCOPES order."""
    have = granted(scopes)
    return [scope for scope in NEEDED_SCOPES if scope not in have]


def scopes_message(name: str, missing: Iterable[str]) -> str:
    """What to tell the seller about missing scopes: each by name, with what it is for."""
    listed = ", ".join(f"{s} ({NEEDED_SCOPES.get(s, 'needed')})" for s in missing)
    return (
        f"the app lacks the access scopes {listed}: tick them in the app's configuration "
        f"(Dev Dashboard → Versions, or Settings → Apps → Develop apps → Configuration), "
        f"release or save, and approve the new scopes in the shop [channels.{name}]"
    )


def scope_in(message: str) -> str | None:
    """The scope an ACCESS_DENIED message names ("Required access: `read_locations` ...")."""
    match = _SCOPE_IN_MESSAGE.search(message)
    return match.group(1) if match else None
