"""What each table of omnisync.toml may hold, as pydantic models: the config's one schema.

Each value type carries the words a seller reads when it does not fit (`expect`), so that
`omnisync.config.source.Source.invalid` can say every mistake the same way:
`FILE:LINE: [table] key 'k': expected WHAT, got VALUE`. Models are strict: TOML has real
types, and a quoted number where a number belongs is a mistake worth naming, not coercing.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from omnisync.locations import LOCATION_NAME
from omnisync.netloc import is_secure_url
from omnisync.skus import MAX_QUANTITY, clean_sku
from omnisync.timeparse import parse_duration

# The two error types of our own that the formatter reads (any other is pydantic's).
EXPECTED = "config_expected"  # the message is "expected WHAT"; the formatter adds the value
SAID = "config_said"  # the message is the whole sentence, value included where it helps


def expect(text: str) -> WrapValidator:
    """Any failure of the value itself reads "expected TEXT"; failures inside it keep theirs.

    In a table only errors about the table as a whole are replaced: a value that is not a
    table is "expected a table of ...", but one bad SKU in it is reported at its own key.
    """

    def wrap(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            if isinstance(value, dict) and any(error["loc"] for error in exc.errors()):
                raise
            raise PydanticCustomError(EXPECTED, "expected {text}", {"text": text}) from None

    return WrapValidator(wrap)


def said(message: str) -> PydanticCustomError:
    """An error whose message is complete as it stands."""
    return PydanticCustomError(SAID, "{message}", {"message": message})


def _fraction(value: Any) -> Fraction:
    # From the decimal text, so that floor(100 × 0.29) is 29, not 28 as with the float.
    if type(value) not in (int, float):  # bool is an int, and never a fraction
        raise ValueError("not a number")
    fraction = Fraction(str(value))  # ValueError for nan and inf
    if not 0 <= fraction <= 1:
        raise ValueError("out of range")
    return fraction


def _duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return parse_duration(value)


def _sku(value: str) -> str:
    # One rule for SKUs everywhere (omnisync.skus): trimmed, NFC, no control characters.
    return clean_sku(value)


def _secure(value: str | None) -> str | None:
    if value is not None and not is_secure_url(value):
        raise said(
            f"expected an https:// URL (plain http:// only for a loopback host), got {value!r}"
        )
    return None if value is None else value.strip().rstrip("/")


def _components(value: dict[str, Any]) -> dict[str, int]:
    cleaned: dict[str, int] = {}
    for sku, count in value.items():
        if type(count) is not int or not 1 <= count <= MAX_QUANTITY:
            raise said(f"component {sku!r}: expected a whole number ≥ 1, got {count!r}")
        try:
            cleaned[clean_sku(sku)] = count
        except ValueError as exc:
            raise said(f"component {sku!r}: {exc}") from None
    return cleaned


Count = Annotated[int, Field(ge=0), expect("a whole number ≥ 0")]
OptionalCount = Annotated[Annotated[int, Field(ge=0)] | None, expect("a whole number ≥ 0")]
Share = Annotated[Fraction, PlainValidator(_fraction), expect("a fraction from 0 to 1")]
OptionalShare = Annotated[
    Annotated[Fraction, PlainValidator(_fraction)] | None, expect("a fraction from 0 to 1")
]
Flag = Annotated[bool, expect("true or false")]
Sku = Annotated[str, AfterValidator(_sku), expect("a SKU string")]
# A table whose keys are free (channel names, SKUs): its values are checked on their own.
Table = Annotated[dict[str, Any], expect("a table")]


class _Table(BaseModel):
    """A table of the config: unknown keys are mistakes, and nothing is coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LedgerTable(_Table):
    """`[ledger]`."""

    path: Annotated[str, Field(min_length=1), expect("a file path (a string)")] = "inventory.db"


class SyncTable(_Table):
    """`[sync]`: how runs behave, whatever the channel."""

    overlap: Annotated[timedelta, PlainValidator(_duration), expect('a duration like "10m"')] = (
        timedelta(minutes=10)
    )
    restock_returns: Flag = True
    max_change: Annotated[float, Field(ge=0, le=1), expect("a fraction from 0 to 1")] = 0.5
    last_units: Count = 0  # 0: off
    # Which channel keeps the last units; checked against [channels] by the reader.
    priority: Annotated[str | None, expect("a channel name (a string)")] = None


def _timezone(value: Any) -> str:
    # A name from the IANA database, checked here so a typo is a config error, not a crash.
    if not isinstance(value, str):
        raise ValueError("not a string")
    try:
        ZoneInfo(value)
    except ZoneInfoNotFoundError:  # a KeyError, which pydantic would let escape
        raise ValueError("unknown timezone") from None
    return value


class ReportTable(_Table):
    """`[report]`: how `omnisync report` judges stock and draws days."""

    reorder_days: Annotated[int, Field(ge=1), expect("a whole number of days ≥ 1")] = 14
    # The seller's calendar, for the daily series; IANA names ("Asia/Jakarta").
    timezone: Annotated[
        str, PlainValidator(_timezone), expect('a timezone name like "Asia/Jakarta"')
    ] = "UTC"


def _location_name(value: Any) -> str:
    # Location names are written in the ledger and typed after --location: keep them plain.
    if not isinstance(value, str) or not LOCATION_NAME.match(value):
        raise ValueError("not a location name")
    return value


LocationName = Annotated[
    str,
    PlainValidator(_location_name),
    expect("a location name (letters, digits, - and _)"),
]
LocationList = Annotated[
    list[Annotated[str, PlainValidator(_location_name)]],
    Field(min_length=1),
    expect('a list of location names like ["main", "store"]'),
]


class ChannelKeys(_Table):
    """The keys of `[channels.NAME]` that every channel type has."""

    type: str  # checked against the registry before this table is read
    buffer: Count = 0
    share: Share = Fraction(1)
    enabled: Flag = True
    max: OptionalCount = None
    # Where its orders take stock from, and whose available stock it may offer; both are
    # checked against `[locations]` by the reader, which sees that table.
    location: LocationName | None = None
    sell_from: LocationList | None = None


class HttpChannelKeys(ChannelKeys):
    """The common keys of a channel reached over HTTP."""

    base_url: Annotated[str | None, expect("a URL string"), AfterValidator(_secure)] = None
    timeout: Annotated[float, Field(gt=0, allow_inf_nan=False), expect("seconds > 0")] = 180.0


class SkuTable(_Table):
    """`[skus."SKU"]`: allocation values that replace the channels' own for one SKU."""

    buffer: OptionalCount = None
    share: OptionalShare = None


# `[bundles]`: "BUNDLE" = { "SKU" = count, ... }; that no component is a bundle itself is
# checked by the reader, which sees them all.
Bundles = dict[
    str,
    Annotated[
        dict[str, Any],
        Field(min_length=1),
        expect('a table of components like { "MUG" = 1 }'),
        AfterValidator(_components),
    ],
]
# `[mapping.NAME]`: "CHANNEL-SKU" = "SKU".
MappingTable = dict[str, Sku]


class Document(_Table):
    """The top level: every key is a table. Tables of tables are checked a level deep."""

    bundles: Annotated[Bundles, expect("a table")] = {}
    channels: Annotated[
        dict[str, Annotated[dict[str, Any], expect("a table [channels.NAME]")]],
        expect("a table"),
    ] = {}
    ledger: Table = {}
    # `[locations]`: name = "what the seller calls it"; `main` always exists.
    locations: Annotated[
        dict[str, Annotated[str, expect("a label (a string)")]],
        expect('a table of name = "label"'),
    ] = {}
    report: Table = {}
    mapping: Annotated[
        dict[str, Annotated[dict[str, Any], expect('a table of "CHANNEL-SKU" = "SKU"')]],
        expect("a table"),
    ] = {}
    skus: Annotated[
        dict[str, Annotated[dict[str, Any], expect("a table of buffer and share")]],
        expect("a table"),
    ] = {}
    sync: Table = {}
