"""Read `omnisync.toml` strictly: every mistake names the file, line, key and what was expected.

The shape of each table is a pydantic model in `tables.py`, and every mistake is said by
`source.Source`. This module reads the file, fills `${VAR}`s from the environment, and checks
what no single table can: channel types, names that refer to other tables.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, get_args

from pydantic import ConfigDict, TypeAdapter

from omnisync.channels import CHANNEL_TYPES
from omnisync.channels.base import ChannelConfig, ChannelType
from omnisync.config.source import Source
from omnisync.config.tables import (
    ChannelKeys,
    Document,
    HttpChannelKeys,
    LedgerTable,
    MappingTable,
    ReportTable,
    SkuTable,
    SyncTable,
)
from omnisync.errors import ConfigError
from omnisync.locations import LOCATION_NAME, MAIN_LOCATION
from omnisync.redact import Secret
from omnisync.skus import clean_sku, normal_sku

DEFAULT_CONFIG = Path("omnisync.toml")
# The keys each table accepts, as the models declare them (the README documents each one).
TOP_LEVEL_KEYS = tuple(Document.model_fields)
LEDGER_KEYS = tuple(LedgerTable.model_fields)
SYNC_KEYS = tuple(SyncTable.model_fields)
COMMON_KEYS = tuple(ChannelKeys.model_fields)
HTTP_KEYS = tuple(key for key in HttpChannelKeys.model_fields if key not in COMMON_KEYS)
SKU_KEYS = tuple(SkuTable.model_fields)
REPORT_KEYS = tuple(ReportTable.model_fields)

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAPPING: TypeAdapter[MappingTable] = TypeAdapter(MappingTable, config=ConfigDict(strict=True))


@dataclass(frozen=True, slots=True)
class SkuOverride:
    """`[skus."SKU"]`: allocation values that replace every channel's own for this SKU."""

    buffer: int | None = None
    share: Fraction | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """The whole config, validated."""

    path: Path
    ledger_path: Path
    overlap: timedelta = timedelta(minutes=10)
    restock_returns: bool = True
    max_change: float = 0.5
    channels: dict[str, ChannelConfig] = field(default_factory=dict)
    mapping: dict[str, dict[str, str]] = field(default_factory=dict)
    bundles: dict[str, dict[str, int]] = field(default_factory=dict)
    # Per-SKU allocation overrides (`[skus."SKU"] buffer, share`).
    skus: dict[str, SkuOverride] = field(default_factory=dict)
    # "Last units to one channel": while a SKU's available is below `last_units`, every
    # channel but `priority` is pushed 0 (`[sync] last_units`, `[sync] priority`; 0 = off).
    last_units: int = 0
    priority: str | None = None
    # `[report]`: cover below this many days puts a SKU on the reorder list; the seller's
    # timezone (an IANA name) draws the daily series.
    reorder_days: int = 14
    timezone: str = "UTC"
    # `[locations]`: every place stock is kept, name → label; `main` is always one of them.
    locations: dict[str, str] = field(default_factory=lambda: {MAIN_LOCATION: ""})
    warnings: tuple[str, ...] = ()


def resolve_config_path(option: Path | None) -> Path:
    """`--config`, else `$OMNISYNC_CONFIG`, else `./omnisync.toml`."""
    if option is not None:
        return option
    from_env = os.environ.get("OMNISYNC_CONFIG")
    return Path(from_env) if from_env else DEFAULT_CONFIG


def load_config(path: Path, *, environ: dict[str, str] | None = None) -> Config:
    """Parse and validate the config file at `path`; raise ConfigError on any mistake."""
    environ = dict(os.environ) if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file (run `omnisync init` to write one, or pass --config PATH)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # `file:line:` like every other config error (tomllib puts the line in its message).
        at = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        where = f"{path}:{at.group(1)}" if at else f"{path}"
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    return _Reader(Source(path, text), environ).read(data)


class _Reader:
    """Turns the parsed TOML into a Config, table by table."""

    def __init__(self, source: Source, environ: dict[str, str]) -> None:
        self.source = source
        self.path = source.path
        self.environ = environ
        self.warnings: list[str] = []
        self.base_dir = self.path.parent if str(self.path.parent) else Path(".")

    def read(self, data: dict[str, Any]) -> Config:
        check = self.source.check
        document = check(Document, data, "")
        ledger = check(LedgerTable, document.ledger, "ledger")
        ledger_path = Path(ledger.path)
        if not ledger_path.is_absolute():
            ledger_path = self.base_dir / ledger_path
        sync = check(SyncTable, document.sync, "sync")
        report = check(ReportTable, document.report, "report")
        locations = self._locations(document.locations)
        channels = {
            name: self._channel(name, table, locations) for name, table in document.channels.items()
        }
        self._priority(sync, channels)
        return Config(
            path=self.path,
            ledger_path=ledger_path,
            overlap=sync.overlap,
            restock_returns=sync.restock_returns,
            max_change=float(sync.max_change),
            channels=channels,
            mapping=self._mapping(document.mapping, channels),
            bundles=self._bundles(document.bundles),
            skus=self._skus(document.skus),
            last_units=sync.last_units,
            priority=sync.priority,
            reorder_days=report.reorder_days,
            timezone=report.timezone,
            locations=locations,
            warnings=tuple(self.warnings),
        )

    # -- channels --------------------------------------------------------------------------

    def _locations(self, table: dict[str, str]) -> dict[str, str]:
        # `main` is where every movement made before locations existed lies: it cannot be
        # left out, so a ledger upgraded by adding `[locations]` keeps all its stock.
        for name in table:
            if not LOCATION_NAME.match(name):
                raise self.source.error(
                    "locations", name, "a location name may hold only letters, digits, - and _"
                )
        return {MAIN_LOCATION: table.get(MAIN_LOCATION, ""), **table}

    def _channel_locations(
        self, where: str, common: ChannelKeys, locations: dict[str, str]
    ) -> tuple[str, tuple[str, ...]]:
        """The channel's `location` and `sell_from`, each a location `[locations]` names."""
        known = f"[locations] names: {', '.join(locations)}"
        location = common.location or MAIN_LOCATION
        if location not in locations:
            raise self.source.error(where, "location", f"unknown location {location!r} ({known})")
        sell_from = tuple(dict.fromkeys(common.sell_from or (location,)))
        for place in sell_from:
            if place not in locations:
                raise self.source.error(where, "sell_from", f"unknown location {place!r} ({known})")
        return location, sell_from

    def _places(
        self,
        where: str,
        common: ChannelKeys,
        places: dict[str, str],
        locations: dict[str, str],
    ) -> tuple[str, tuple[str, ...]]:
        """A channel whose own locations map to ledger ones: each is its own `location` and
        `sell_from`, so the channel-wide keys would only contradict the map."""
        if common.sell_from is not None:
            raise self.source.error(
                where,
                "sell_from",
                "not with 'locations': each of the channel's locations offers the stock of the "
                "ledger location it maps to",
            )
        for place in places.values():
            if place not in locations:
                raise self.source.error(
                    where,
                    "locations",
                    f"unknown location {place!r} ([locations] names: {', '.join(locations)})",
                )
        # The first is where orders the channel has not placed yet are held (a web order
        # not yet fulfilled): the config's first mapped location.
        mapped = tuple(dict.fromkeys(places.values()))
        return mapped[0], mapped

    def _channel(
        self, name: str, table: dict[str, Any], locations: dict[str, str]
    ) -> ChannelConfig:
        where = f"channels.{name}"
        if not _CHANNEL_NAME.match(name):
            raise self.source.error(
                where, None, "a channel name may hold only letters, digits, - and _"
            )
        channel_type, type_name = self._type(where, table)
        own = channel_type.settings.model_fields
        keys = HttpChannelKeys if channel_type.http else ChannelKeys
        common_values = {key: value for key, value in table.items() if key not in own}
        if isinstance(common_values.get("base_url"), str):
            common_values["base_url"] = self._expand(where, "base_url", common_values["base_url"])
        common = self.source.check(keys, common_values, where, allowed=(*keys.model_fields, *own))
        secrets = {key for key, info in own.items() if _holds_secret(info.annotation)}
        own_values = {key: value for key, value in table.items() if key in own}
        for key, value in own_values.items():
            if isinstance(value, str):
                if key in secrets and value and not _VAR.search(value):
                    self._warn_literal_secret(where, key)
                own_values[key] = self._expand(where, key, value)
        settings = self.source.check(channel_type.settings, own_values, where, secrets=secrets)
        location, sell_from = self._channel_locations(where, common, locations)
        places = settings.ledger_locations()
        if places:
            location, sell_from = self._places(where, common, places, locations)
        http: dict[str, Any] = {}  # file channels keep ChannelConfig's defaults
        if isinstance(common, HttpChannelKeys):
            http = {"base_url": common.base_url, "timeout": common.timeout}
        return ChannelConfig(
            name=name,
            type=type_name,
            settings=settings,
            base_dir=self.base_dir,
            buffer=common.buffer,
            share=common.share,
            enabled=common.enabled,
            max=common.max,
            location=location,
            sell_from=sell_from,
            places=places,
            **http,
        )

    def _type(self, where: str, table: dict[str, Any]) -> tuple[ChannelType, str]:
        """The channel's type, which decides what the rest of its table may hold."""
        known = ", ".join(sorted(CHANNEL_TYPES))
        type_name = table.get("type")
        if type_name is None:
            raise self.source.error(where, None, f"missing key 'type' (one of: {known})")
        if not isinstance(type_name, str) or type_name not in CHANNEL_TYPES:
            raise self.source.error(
                where, "type", f"unknown channel type {type_name!r} (expected one of: {known})"
            )
        return CHANNEL_TYPES[type_name], type_name

    def _expand(self, where: str, key: str, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in self.environ:
                raise self.source.error(
                    where, key, f"environment variable {var} is not set (export {var}=...)"
                )
            return self.environ[var]

        return _VAR.sub(substitute, value)

    def _warn_literal_secret(self, where: str, key: str) -> None:
        try:
            mode = self.path.stat().st_mode
        except OSError:
            return
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            self.warnings.append(
                f"{self.path}: [{where}] key '{key}' holds a literal secret in a file other "
                f'users can read; use "${{VAR}}" and the environment, or chmod 600 the file'
            )

    # -- tables that name other tables -------------------------------------------------------

    def _priority(self, sync: SyncTable, channels: dict[str, ChannelConfig]) -> None:
        if sync.priority is not None and sync.priority not in channels:
            raise self.source.error(
                "sync",
                "priority",
                f"no channel named {sync.priority!r} ({_configured(channels)})",
            )
        if sync.last_units > 0 and sync.priority is None:
            raise self.source.error(
                "sync",
                None,
                f"missing key 'priority': last_units = {sync.last_units} needs the channel "
                f"that keeps the last units ({_configured(channels)})",
            )

    def _mapping(
        self, table: dict[str, dict[str, Any]], channels: dict[str, ChannelConfig]
    ) -> dict[str, dict[str, str]]:
        for channel in table:
            if channel not in channels:
                raise self.source.error(
                    f"mapping.{channel}",
                    None,
                    f"no channel named {channel!r} ({_configured(channels)})",
                )
        # Keys are channel SKUs, compared as the engine compares them (`normal_sku`).
        return {
            channel: {
                normal_sku(key): sku
                for key, sku in self.source.check(_MAPPING, pairs, f"mapping.{channel}").items()
            }
            for channel, pairs in table.items()
        }

    def _bundles(self, bundles: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        cleaned: dict[str, dict[str, int]] = {}
        for bundle, components in bundles.items():
            try:
                cleaned[clean_sku(bundle)] = components
            except ValueError as exc:
                raise self.source.error("bundles", bundle, str(exc)) from None
        bundles = cleaned
        # A bundle of bundles would need an order of expansion; nobody has asked for one.
        for bundle, components in bundles.items():
            for sku in components:
                if sku in bundles:
                    raise self.source.error(
                        "bundles", bundle, f"component {sku!r} is itself a bundle"
                    )
        return bundles

    def _skus(self, table: dict[str, dict[str, Any]]) -> dict[str, SkuOverride]:
        overrides: dict[str, SkuOverride] = {}
        written: dict[str, str] = {}
        for key, values in table.items():
            try:
                sku = clean_sku(key)  # as `[mapping]` values are (omnisync.skus)
            except ValueError as exc:
                raise self.source.error("skus", key, f"{exc}, got {key!r}") from None
            if sku in written:
                raise self.source.error(
                    "skus",
                    key,
                    f"the same SKU as {written[sku]!r} (spaces around a SKU do not count)",
                )
            written[sku] = key
            override = self.source.check(SkuTable, values, f"skus.{key}")
            overrides[sku] = SkuOverride(buffer=override.buffer, share=override.share)
        return overrides


def _holds_secret(annotation: Any) -> bool:
    """`SecretStr`, also inside `SecretStr | None` (tokens `omnisync auth` may store instead)."""
    return annotation is Secret or any(_holds_secret(arg) for arg in get_args(annotation))


def _configured(channels: dict[str, ChannelConfig]) -> str:
    return f"configured: {', '.join(sorted(channels)) or 'none'}"
