"""Read `omnisync.toml` strictly: every mistake names the file, line, key and what was expected."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from omnisync.channels import CHANNEL_TYPES
from omnisync.channels.base import ChannelConfig
from omnisync.errors import ConfigError
from omnisync.redact import Secret
from omnisync.timeparse import parse_duration

DEFAULT_CONFIG = Path("omnisync.toml")
TOP_LEVEL_KEYS = ("bundles", "channels", "ledger", "mapping", "sync")
LEDGER_KEYS = ("path",)
SYNC_KEYS = ("max_change", "overlap", "restock_returns")
COMMON_KEYS = ("buffer", "enabled", "share", "type")
HTTP_KEYS = ("base_url", "timeout")
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A table header, `[a.b]`, with any comment after it.
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")


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
    return _Parser(path, text, environ).parse(data)


class _Parser:
    def __init__(self, path: Path, text: str, environ: dict[str, str]) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.environ = environ
        self.warnings: list[str] = []
        self.base_dir = path.parent if str(path.parent) else Path(".")

    # -- error helpers -------------------------------------------------------------------

    def _line(self, table: str, key: str | None) -> int | None:
        """The line of `key` inside `[table]` (or of the header itself), found by reading."""
        current = ""
        header_line = None
        key_re = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=") if key else None
        for number, line in enumerate(self.lines, start=1):
            header = _HEADER.match(line)
            if header:
                current = re.sub(r"\s*\.\s*", ".", header.group(1)).replace('"', "")
                current = current.replace("'", "")
                if current == table:
                    header_line = number
                elif not table and key and current.split(".")[0] == key:
                    return number  # a top-level table given by its header, [key] or [key.x]
                continue
            if key_re and current == table and key_re.match(line):
                return number
        if header_line is None and "." in table:
            # An inline table (`shop = { ... }` inside [channels]): point at its line.
            parent, _, name = table.rpartition(".")
            return self._line(parent, name)
        return header_line

    def error(self, table: str, key: str | None, message: str) -> ConfigError:
        line = self._line(table, key)
        where = f"{self.path}:{line}" if line else f"{self.path}"
        label = f"[{table}]" if table else "top level"
        if key:
            label += f" key '{key}'"
        return ConfigError(f"{where}: {label}: {message}")

    def _check_keys(self, table: str, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                raise self.error(
                    table, key, f"unknown key (expected one of: {', '.join(sorted(allowed))})"
                )

    def _table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.error("", key, "expected a table")
        return value

    # -- the parts -----------------------------------------------------------------------

    def parse(self, data: dict[str, Any]) -> Config:
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                raise self.error(
                    "", key, f"unknown table (expected one of: {', '.join(TOP_LEVEL_KEYS)})"
                )
        ledger = self._table(data, "ledger")
        self._check_keys("ledger", ledger, LEDGER_KEYS)
        ledger_value = ledger.get("path", "inventory.db")
        if not isinstance(ledger_value, str) or not ledger_value:
            raise self.error("ledger", "path", "expected a file path (a string)")
        ledger_path = Path(ledger_value)
        if not ledger_path.is_absolute():
            ledger_path = self.base_dir / ledger_path

        sync = self._table(data, "sync")
        self._check_keys("sync", sync, SYNC_KEYS)
        overlap = sync.get("overlap", "10m")
        try:
            overlap_delta = parse_duration(overlap) if isinstance(overlap, str) else None
        except ValueError:
            overlap_delta = None
        if overlap_delta is None:
            raise self.error("sync", "overlap", f'expected a duration like "10m", got {overlap!r}')
        restock = sync.get("restock_returns", True)
        if not isinstance(restock, bool):
            raise self.error("sync", "restock_returns", f"expected true or false, got {restock!r}")
        max_change = sync.get("max_change", 0.5)
        if (
            isinstance(max_change, bool)
            or not isinstance(max_change, int | float)
            or not (0 <= max_change <= 1)
        ):
            raise self.error(
                "sync", "max_change", f"expected a fraction from 0 to 1, got {max_change!r}"
            )

        channels_table = self._table(data, "channels")
        channels = {name: self._channel(name, table) for name, table in channels_table.items()}
        mapping = self._mapping(self._table(data, "mapping"), channels)
        bundles = self._bundles(self._table(data, "bundles"))
        return Config(
            path=self.path,
            ledger_path=ledger_path,
            overlap=overlap_delta,
            restock_returns=restock,
            max_change=float(max_change),
            channels=channels,
            mapping=mapping,
            bundles=bundles,
            warnings=tuple(self.warnings),
        )

    def _channel(self, name: str, table: Any) -> ChannelConfig:
        where = f"channels.{name}"
        if not _CHANNEL_NAME.match(name):
            raise self.error(where, None, "a channel name may hold only letters, digits, - and _")
        if not isinstance(table, dict):
            raise self.error("channels", name, "expected a table [channels.NAME]")
        type_name = table.get("type")
        if type_name is None:
            raise self.error(
                where, None, f"missing key 'type' (one of: {', '.join(sorted(CHANNEL_TYPES))})"
            )
        if not isinstance(type_name, str) or type_name not in CHANNEL_TYPES:
            raise self.error(
                where,
                "type",
                f"unknown channel type {type_name!r} "
                f"(expected one of: {', '.join(sorted(CHANNEL_TYPES))})",
            )
        channel_type = CHANNEL_TYPES[type_name]
        common = COMMON_KEYS + (HTTP_KEYS if channel_type.http else ())
        own = tuple(channel_type.settings.model_fields)
        self._check_keys(where, table, common + own)

        buffer = table.get("buffer", 0)
        if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 0:
            raise self.error(where, "buffer", f"expected a whole number ≥ 0, got {buffer!r}")
        share_value = table.get("share", 1.0)
        if (
            isinstance(share_value, bool)
            or not isinstance(share_value, int | float)
            or not (0 <= share_value <= 1)
        ):
            raise self.error(
                where, "share", f"expected a fraction from 0 to 1, got {share_value!r}"
            )
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self.error(where, "enabled", f"expected true or false, got {enabled!r}")
        timeout = table.get("timeout", 180)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise self.error(where, "timeout", f"expected seconds > 0, got {timeout!r}")
        base_url = table.get("base_url")
        if base_url is not None:
            if isinstance(base_url, str):  # a wrong type is reported by _base_url
                base_url = self._expand(where, "base_url", base_url)
            base_url = self._base_url(where, base_url)

        secret_keys = {
            key
            for key, info in channel_type.settings.model_fields.items()
            if info.annotation is Secret
        }
        own_values: dict[str, Any] = {}
        for key in own:
            if key not in table:
                continue
            value = table[key]
            if isinstance(value, str):
                if key in secret_keys and not _VAR.search(value) and value:
                    self._warn_literal_secret(where, key)
                value = self._expand(where, key, value)
            own_values[key] = value
        try:
            settings = channel_type.settings.model_validate(own_values)
        except ValidationError as exc:
            raise self._settings_error(where, exc, secret_keys) from None
        return ChannelConfig(
            name=name,
            type=type_name,
            settings=settings,
            base_dir=self.base_dir,
            buffer=buffer,
            # From the decimal text, so that floor(100 × 0.29) is 29, not 28.
            share=Fraction(str(share_value)),
            enabled=enabled,
            base_url=base_url,
            timeout=float(timeout),
        )

    def _settings_error(
        self, where: str, exc: ValidationError, secret_keys: set[str]
    ) -> ConfigError:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else None
        if first["type"] == "missing":
            return self.error(where, None, f"missing key '{key}'")
        # A credential's value is never echoed, even a wrong one.
        shown = "***" if key in secret_keys else repr(first.get("input"))
        return self.error(where, key, f"{first['msg'].lower()}, got {shown}")

    def _expand(self, where: str, key: str, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in self.environ:
                raise self.error(
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

    def _base_url(self, where: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.error(where, "base_url", f"expected a URL string, got {value!r}")
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value.rstrip("/")
        if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
            return value.rstrip("/")
        raise self.error(
            where,
            "base_url",
            f"expected an https:// URL (plain http:// only for a loopback host), got {value!r}",
        )

    def _mapping(
        self, table: dict[str, Any], channels: dict[str, ChannelConfig]
    ) -> dict[str, dict[str, str]]:
        mapping: dict[str, dict[str, str]] = {}
        for channel, pairs in table.items():
            where = f"mapping.{channel}"
            if channel not in channels:
                raise self.error(
                    where,
                    None,
                    f"no channel named {channel!r} "
                    f"(configured: {', '.join(sorted(channels)) or 'none'})",
                )
            if not isinstance(pairs, dict):
                raise self.error("mapping", channel, 'expected a table of "CHANNEL-SKU" = "SKU"')
            for channel_sku, sku in pairs.items():
                if not isinstance(sku, str) or not sku.strip():
                    raise self.error(where, channel_sku, f"expected a SKU string, got {sku!r}")
            mapping[channel] = {str(k): v.strip() for k, v in pairs.items()}
        return mapping

    def _bundles(self, table: dict[str, Any]) -> dict[str, dict[str, int]]:
        bundles: dict[str, dict[str, int]] = {}
        for bundle, components in table.items():
            if not isinstance(components, dict) or not components:
                raise self.error(
                    "bundles", bundle, 'expected a table of components like { "MUG" = 1 }'
                )
            for sku, count in components.items():
                if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                    raise self.error(
                        "bundles",
                        bundle,
                        f"component {sku!r}: expected a whole number ≥ 1, got {count!r}",
                    )
                if sku == bundle or sku in table:
                    raise self.error("bundles", bundle, f"component {sku!r} is itself a bundle")
            bundles[bundle] = dict(components)
        return bundles


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
