"""A channel's OAuth tokens: the ledger's copy first, rotated ones saved before they are used.

The one way an adapter handles tokens it obtains or refreshes (Shopee, Lazada, TikTok Shop,
Shopify's client-credentials grant):

    tokens = StoredTokens(name, context.tokens, configured={"access_token": s.access_token, ...})
    token = tokens.get("access_token")              # the ledger's value wins over the config's
    if tokens.expired("access_token", now=now()):   # an expiry stored with it
        ... refresh ...
        tokens.save({"access_token": a, "refresh_token": r},
                     expires={"access_token": t1, "refresh_token": t2})

`save` commits to the ledger at once (its own transaction) *before* the caller uses the new
values: a refresh token that a platform rotates (Shopee's is single-use) and that a crash
loses would lock the shop out until the seller authorises again. Every credential read or
saved (a key naming a token or a secret) is registered with the redactor, so it is scrubbed
from any output, log or error; what only identifies the shop (`shop_id`, `shop_cipher`) is
stored beside them and stays printable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from omnisync.channels.base import TokenStore
from omnisync.redact import REDACTOR, Secret
from omnisync.timeparse import as_utc

_EXPIRES = "_expires_at"


def is_credential(key: str) -> bool:
    """Whether a stored value is a credential (scrubbed everywhere) or a plain shop detail."""
    return not key.endswith(_EXPIRES) and ("token" in key or "secret" in key)


class StoredTokens:
    """One channel's tokens, read through the ledger with the config as the fallback."""

    def __init__(
        self,
        channel: str,
        store: TokenStore | None,
        *,
        configured: Mapping[str, Secret | str | None] | None = None,
    ) -> None:
        self.channel = channel
        self.store = store
        self._configured: dict[str, str] = {}
        for key, value in (configured or {}).items():
            if value is None:
                continue
            text = value.reveal() if isinstance(value, Secret) else value
            if text:
                self._configured[key] = text
        # Without a store (a test, `check` on a fresh install) tokens live for this object only.
        self._values: dict[str, str] = dict(store.load_tokens(channel)) if store else {}
        for key, value in self._values.items():
            if is_credential(key):
                REDACTOR.add(value)

    def get(self, key: str) -> str | None:
        """The stored value of `key` if the ledger has one, else the config's, else None."""
        return self._values.get(key) or self._configured.get(key)

    def from_ledger(self, key: str) -> bool:
        """Whether `key` comes from the ledger (saved by `auth` or a refresh), not the config."""
        return bool(self._values.get(key))

    def expires_at(self, key: str) -> datetime | None:
        """When `key` expires, if an expiry was saved with it."""
        value = self._values.get(key + _EXPIRES)
        if not value or not self._values.get(key):
            return None
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None

    def expired(self, key: str, *, now: datetime, margin: timedelta = timedelta(minutes=5)) -> bool:
        """Whether `key` has expired, or will within `margin` (a run must not start on a token
        that dies half way). A token without a known expiry is taken as valid: the platform's
        own refusal then triggers the refresh."""
        expires = self.expires_at(key)
        return expires is not None and expires - margin <= now

    def save(
        self,
        values: Mapping[str, str],
        *,
        expires: Mapping[str, datetime | None] | None = None,
    ) -> None:
        """Store new tokens (and their expiry) in the ledger now, before anyone uses them."""
        update: dict[str, str] = {}
        for key, value in values.items():
            if is_credential(key):
                REDACTOR.add(value)
            update[key] = value
        for key, moment in (expires or {}).items():
            if moment is not None:
                update[key + _EXPIRES] = as_utc(moment).isoformat().replace("+00:00", "Z")
        if self.store is not None:
            self.store.save_tokens(self.channel, update)
        self._values.update(update)
