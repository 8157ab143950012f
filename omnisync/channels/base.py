"""The one small protocol every channel implements, and what a channel is built from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator

from omnisync.budget import Budget
from omnisync.models import ChannelProbe, Listing, Order, PushResult, QuantityChange
from omnisync.redact import Secret
from omnisync.timeparse import utcnow

if TYPE_CHECKING:
    # Only a type here: importing httpx costs a file-only run ~40 ms of start-up.
    import httpx


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

    def ledger_locations(self) -> dict[str, str]:
        """The channel's own locations mapped to ledger locations (Shopify `locations`), in
        the config's order; empty for a channel with one location, its `location`."""
        return {}


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
    max: int | None = None  # never offer more than this many units of a listing here
    # The ledger location its orders take stock from, and those whose available it offers
    # (config `location` and `sell_from`; both `main` until a seller keeps several places).
    location: str = "main"
    sell_from: tuple[str, ...] = ("main",)
    # The channel's own location ids → ledger locations, for a channel that keeps stock at
    # several (Shopify `locations`): each listing is offered, and each order line takes, the
    # stock of the ledger location its channel location maps to. Empty for most channels.
    places: Mapping[str, str] = field(default_factory=dict)


class TokenStore(Protocol):
    """Where a channel keeps tokens it rotates (the ledger), read before the config's values."""

    def load_tokens(self, channel: str) -> dict[str, str]: ...

    def save_tokens(self, channel: str, tokens: dict[str, str]) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What the engine (or `check`, or `auth`) hands an adapter when it opens one.

    Everything an adapter needs from outside comes in here, typed: nothing is probed with
    hasattr or read from a shared object afterwards.

    - `budget`: the channel's one time budget for this run (config `timeout`). The HTTP layer
      gives up on retries that would not fit in it; the engine cancels the channel at its
      deadline with the same message.
    - `http`: an httpx client to use (tests inject one with a MockTransport); None builds
      the default one.
    - `tokens`: where tokens the channel obtains or rotates are kept (the ledger); see
      `omnisync.channels.tokens.StoredTokens`, the one way adapters use it.
    - `now`: the wall clock, for request timestamps and token expiry (tests move it).
    - `skus`: the ledger's SKUs as they stand, for a channel whose listings are the SKUs it
      is told to sell rather than what a platform holds (the POS stock file); None outside
      a sync (`check`), where such a channel falls back on what it last wrote.
    """

    budget: Budget
    http: httpx.AsyncClient | None = None
    tokens: TokenStore | None = None
    now: Callable[[], datetime] = field(default=utcnow)
    skus: Callable[[], frozenset[str]] | None = None


class Channel(Protocol):
    """One sales channel. Translates its API to omnisync models; holds no stock logic.

    None of the marketplaces but Shopify has compare-and-set: an adapter without it re-reads
    the listings just before writing and returns a `conflict` for any whose quantity moved
    since `change.expected` was read, so the engine can fold the sale in and re-plan.

    `concurrency` is how many requests the adapter keeps in flight at once where their order
    does not matter, and the size of its HTTP connection pool. Each adapter derives it from
    its platform's documented limit and says where that limit is written; where a platform
    publishes none it is a conservative default, and the adapter says why.
    """

    name: str
    concurrency: int

    async def list_listings(self) -> list[Listing]:
        """Every listing with its channel SKU and current quantity (read once per run)."""
        ...

    def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        """Orders with updated_at in [updated_since, updated_until), statuses normalised.

        Orders dated at or after `updated_until` (a channel whose clock runs ahead of ours)
        may come too: the engine applies them and warns; skipping them would lose their sales.
        """
        ...

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        """Set each listing to change.target unless the channel no longer shows change.expected.

        `run_id` names the sync run behind the write, for channels that keep an inventory
        history (Shopify's `referenceDocumentUri`). Returns one result per change, in any
        order. Raises ChannelError only when the channel as a whole cannot be written; a
        single listing's failure is a `failed` result.
        """
        ...

    async def probe(self) -> ChannelProbe:
        """Reach the channel with its credentials and say what works (for `check`)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """A part of a channel's data that could not be read (a row of a file): where, and why.

    An order the channel sent but that does not fit (a negative or fractional quantity, a
    null id, an impossible date) also names `order_id`, the `field` path and the `value`
    that came: the engine keeps it in the ledger as unreadable and reports it on every run
    until the channel sends a readable version.
    """

    where: str  # `pos/day1.csv:4:3` (file:line:column), or less when that is all there is
    message: str
    order_id: str | None = None  # None: not an order, or one without a readable id
    field: str = ""  # path into the payload: "orders[3].line_items[0].quantity"
    value: str = ""  # what came there, as JSON text

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@runtime_checkable
class ReportsReadProblems(Protocol):
    """A channel that skips what it cannot read and goes on (a file another program writes).

    After each `fetch_orders`, `read_problems()` lists what that fetch skipped; the engine
    files them in the channel's report, so the run ends with exit 1 while the rest applies.
    """

    def read_problems(self) -> Sequence[ReadProblem]: ...


@runtime_checkable
class ReadsOrdersWhileListing(Protocol):
    """A channel whose order read may run while its listings are read (Shopify).

    Its search is walked by a keyset cursor on update time, so it can be left open at the
    top: `fetch_orders_until_listed` yields every order updated since `updated_since`, and
    asks for its last page only after `listed` is set, so it holds every sale a listing's
    quantity can reflect. An order updated during the walk may come twice, the newer last.
    """

    def fetch_orders_until_listed(
        self, *, updated_since: datetime, listed: asyncio.Event
    ) -> AsyncIterator[Order]: ...


@runtime_checkable
class ReadsOrdersBesideListings(Protocol):
    """A channel whose order read of a closed window may run while its listings are read.

    `fetch_orders_beside` is `fetch_orders` made safe to start before `list_listings` has
    returned: it fetches its pages meanwhile, and maps what needs the listings (a SKU by id
    for a line without a seller SKU) only once `listed` is set. The engine reads
    `[since, fetch start)` this way, then the tail up to when the listings were read with
    `fetch_orders`; `read_problems()` (if any) is read after each of the two.
    """

    def fetch_orders_beside(
        self, *, updated_since: datetime, updated_until: datetime, listed: asyncio.Event
    ) -> AsyncIterator[Order]: ...


# The `listed` of a read with no listings read beside it (`fetch_orders`, a tail): set for
# good, so such a read maps with what was last listed, through the same code. Made once at
# import: an Event takes a loop only when something waits on it unset (Python 3.10+), which
# this one never is, so it serves every run's loop.
LISTED = asyncio.Event()
LISTED.set()


@dataclass(frozen=True, slots=True)
class AuthResult:
    """What `omnisync auth` tells the seller once a shop is connected (never a token)."""

    shop: str  # the shop's id or name as the platform knows it
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


class ShopAuthorizer(Protocol):
    """Connects a marketplace shop by the platform's OAuth flow (`omnisync auth NAME`)."""

    def authorization_url(self) -> str:
        """The address the seller opens to grant omnisync access (signed where required)."""
        ...

    async def exchange(self, answer: Mapping[str, str]) -> AuthResult:
        """Trade the code the platform sent back for tokens, and store them.

        `answer` is the query of the address the browser was sent back to (`code`, and
        `shop_id` for Shopee, ...), or what the seller gave as `--code` / `--shop-id`. Tokens
        are saved through the context's token store before this returns. A missing or wrong
        value is a UsageError naming it; a refusal by the platform is a ChannelAuthError.
        """
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ChannelType:
    """A registry entry: the settings a type accepts and how to open a channel of it.

    `open(config, context)` builds the channel; `authorize(config, context)`, for platforms
    whose shops are connected by OAuth, builds what `omnisync auth` drives.
    """

    settings: type[ChannelSettings]
    open: Callable[[ChannelConfig, ChannelContext], Channel]
    http: bool = True  # False for file channels: base_url and timeout do not apply
    authorize: Callable[[ChannelConfig, ChannelContext], ShopAuthorizer] | None = None


def moved(change: QuantityChange, platform: str, now: int | None) -> PushResult:
    """The conflict for a listing whose quantity moved since this run read it (`now` is what
    the platform shows, None when it did not say)."""
    shown = now if now is not None else "another quantity"
    return PushResult(
        change.listing_id,
        "conflict",
        f"{platform} shows {shown}, this run read {change.expected}: sold or changed meanwhile",
        current=now,
    )
