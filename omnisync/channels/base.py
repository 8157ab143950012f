"""The one small protocol every channel implements, and what a channel is built from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator

from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange
from omnisync.redact import Secret


def _to_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        return Secret(value)
    raise ValueError("expected a string")


# A credential in a channel's settings: validated from a string, never printable.
SecretStr = Annotated[Secret, PlainValidator(_to_secret), PlainSerializer(lambda s: "***")]


class ChannelSettings(BaseModel):
    """Base of each channel type's own keys; unknown keys and wrong types are config errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """One `[channels.NAME]` table: the keys every channel has, plus its type's settings."""

    name: str
    type: str
    settings: ChannelSettings
    base_dir: Path  # relative paths in settings are relative to the config file's folder
    buffer: int = 0
    share: Fraction = Fraction(1)
    enabled: bool = True
    base_url: str | None = None
    timeout: float = 180.0  # total seconds this channel may spend in one run


class TokenStore(Protocol):
    """Where a channel keeps tokens it rotates (the ledger), read before the config's values."""

    def load_tokens(self, channel: str) -> dict[str, str]: ...

    def save_tokens(self, channel: str, tokens: dict[str, str]) -> None: ...


class Channel(Protocol):
    """One sales channel. Translates its API to omnisync models; holds no stock logic."""

    name: str
    # True where the channel itself refuses a write whose expected quantity is stale
    # (Shopify's changeFromQuantity); otherwise the adapter re-reads just before writing.
    supports_compare_and_set: bool

    async def list_listings(self) -> list[Listing]:
        """Every listing with its channel SKU and current quantity (read once per run)."""
        ...

    def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        """Orders with updated_at in [updated_since, updated_until), statuses normalised."""
        ...

    async def push_quantities(self, changes: Sequence[QuantityChange]) -> list[PushResult]:
        """Set each listing to change.target unless the channel no longer shows change.expected.

        Returns one result per change, in any order. Raises ChannelError only when the channel
        as a whole cannot be written; a single listing's failure is a `failed` result.
        """
        ...

    async def probe(self) -> ChannelProbe:
        """Reach the channel with its credentials and say what works (for `check`)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelType:
    """A registry entry: the settings a type accepts and how to open a channel of it.

    `open(config, *, http, tokens)` gets an httpx client for HTTP channels (tests inject one
    with a MockTransport; None means build the default) and the token store.
    """

    settings: type[ChannelSettings]
    open: Callable[[ChannelConfig, httpx.AsyncClient | None, TokenStore | None], Channel]
    http: bool = True  # False for file channels: base_url and timeout do not apply
