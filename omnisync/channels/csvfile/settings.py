"""The keys of a `type = "csv"` channel table, checked when the config is read."""

from __future__ import annotations

import re
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator

from omnisync.channels.base import ChannelSettings

# The columns a sales file may have; the first four are required.
COLUMNS = (
    "order_id",
    "sku",
    "quantity",
    "created_at",
    "line_id",
    "status",
    "unit_price",
    "currency",
)
REQUIRED = COLUMNS[:4]


class CsvSettings(ChannelSettings):
    sales: str  # a glob of the till's sales exports, relative to the config's folder
    stock_file: str  # written after each run for the till to import
    # The till's own names for our columns: `columns = { order_id = "Receipt No" }`.
    columns: dict[str, str] = {}
    # A time without an offset (or a date alone) in the sales files is local time here.
    timezone: str = "UTC"
    # The SKUs the till sells: a list of SKUs and globs (`"TEE-*"`), or one glob; default
    # every SKU held at its `sell_from` locations (every SKU, in a one-location shop).
    skus: list[str] | str | None = None
    # The currency of the prices in files that have no `currency` column (a till exports
    # prices in the shop's own money and rarely says which): without it, such sales count
    # units but no revenue in `omnisync report`.
    currency: str | None = None

    @field_validator("sales", "stock_file")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a path, got an empty string")
        return value

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for column, header in value.items():
            if column not in COLUMNS:
                raise ValueError(
                    f"unknown column {column!r} (expected some of: {', '.join(COLUMNS)})"
                )
            name = header.strip().casefold()
            if not name:
                raise ValueError(f"{column}: expected the till's name for it, got ''")
            if name in seen:
                raise ValueError(f"{seen[name]} and {column} both name the column {header!r}")
            seen[name] = column
        return value

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if not re.fullmatch("[A-Z]{3}", code):
            raise ValueError(f"expected a three-letter ISO 4217 code such as IDR, got {value!r}")
        return code

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_of(value)
        return value

    def zone(self) -> tzinfo:
        return zone_of(self.timezone)

    def sku_patterns(self) -> tuple[str, ...] | None:
        if self.skus is None:
            return None
        return (self.skus,) if isinstance(self.skus, str) else tuple(self.skus)


def zone_of(name: str) -> tzinfo:
    """An IANA time zone by name (`Asia/Jakarta`); UTC needs no time zone database."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (expected an IANA name such as Europe/Paris)"
        ) from None
