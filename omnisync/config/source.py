"""Config mistakes as one line each: `FILE:LINE: [table] key 'k': what was expected, got X`."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from omnisync.config.tables import EXPECTED, SAID
from omnisync.errors import ConfigError

T = TypeVar("T")

# A table header, `[a.b]`, with any comment after it.
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")


class Source:
    """The text of one config file, to say where in it a mistake is."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line(self, table: str, key: str | None) -> int | None:
        """The line of `key` inside `[table]` (or of the header itself), found by reading.

        TOML has no positions after parsing, so this reads the text as a person would: good
        enough to point at the mistake, and the message names table and key anyway.
        """
        current = ""
        header_line = None
        key_re = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=") if key else None
        # A key whose value is a table may be given by its own header: [key], [table.key.x].
        own_header = f"{table}.{key}" if table else key
        for number, line in enumerate(self.lines, start=1):
            header = _HEADER.match(line)
            if header:
                current = re.sub(r"\s*\.\s*", ".", header.group(1)).replace('"', "")
                current = current.replace("'", "")
                if current == table:
                    header_line = number
                elif key is not None and (
                    current == own_header or current.startswith(f"{own_header}.")
                ):
                    return number
                continue
            if key_re and current == table and key_re.match(line):
                return number
        if header_line is None and "." in table:
            # An inline table (`shop = { ... }` inside [channels]): point at its line.
            parent, _, name = table.rpartition(".")
            return self.line(parent, name)
        return header_line

    def error(self, table: str, key: str | None, message: str) -> ConfigError:
        """The one shape of every config message."""
        line = self.line(table, key)
        where = f"{self.path}:{line}" if line else f"{self.path}"
        label = f"[{table}]" if table else "top level"
        if key is not None:
            label += f" key '{key}'"
        return ConfigError(f"{where}: {label}: {message}")

    def check(
        self,
        schema: type[T] | TypeAdapter[T],
        value: Any,
        table: str,
        *,
        key: str | None = None,
        allowed: Collection[str] = (),
        secrets: Collection[str] = (),
    ) -> T:
        """`value`, found at `[table]` (its `key`), read as `schema`; else a ConfigError.

        `allowed` are the keys an unknown key is told about (a model's own fields by
        default); `secrets` are keys whose values are never echoed, even wrong ones.
        """
        adapter = schema if isinstance(schema, TypeAdapter) else _adapter(schema)
        try:
            return cast(T, adapter.validate_python(value))
        except ValidationError as exc:
            if not allowed and isinstance(schema, type) and issubclass(schema, BaseModel):
                allowed = tuple(schema.model_fields)
            raise self.invalid(exc, table, key=key, allowed=allowed, secrets=secrets) from None

    def invalid(
        self,
        exc: ValidationError,
        table: str,
        *,
        key: str | None = None,
        allowed: Collection[str] = (),
        secrets: Collection[str] = (),
    ) -> ConfigError:
        """The first error of `exc` as a config message (one is enough to fix and re-run)."""
        first = exc.errors(include_url=False)[0]
        loc: Sequence[str] = [str(part) for part in first["loc"]]
        path = [key, *loc] if key is not None else list(loc)
        where = ".".join(part for part in (table, *path[:-1]) if part)
        at = path[-1] if path else None
        kind = first["type"]
        if kind == "missing":
            return self.error(where, None, f"missing key '{at}'")
        if kind == "extra_forbidden":
            noun = "key" if where else "table"
            return self.error(
                where, at, f"unknown {noun} (expected one of: {', '.join(sorted(set(allowed)))})"
            )
        if kind == SAID:
            return self.error(where, at, first["msg"])
        # A credential's value is never echoed, even a wrong one, nor a table holding one (a
        # whole-model validator's error carries the table as its input).
        value = first.get("input")
        hidden = any(part in secrets for part in path) or (
            isinstance(value, Mapping) and any(name in secrets for name in value)
        )
        got = "***" if hidden else repr(value)
        if kind == EXPECTED:
            return self.error(where, at, f"{first['msg']}, got {got}")
        # A channel type's settings speak pydantic ("Input should be ..."), or say it in
        # their own validator's words (pydantic's "Value error, ..." without the prefix).
        message = first["msg"][0].lower() + first["msg"][1:]
        if kind == "value_error":
            message = str(first.get("ctx", {}).get("error", message))
            if hidden and isinstance(value, str) and value:
                message = message.replace(value, "***")  # a validator that quotes its input
        return self.error(where, at, f"{message}, got {got}")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(schema: Any) -> TypeAdapter[Any]:
    # Building an adapter compiles a validator: once per model, not once per channel.
    adapter = _ADAPTERS.get(schema)
    if adapter is None:
        adapter = _ADAPTERS[schema] = TypeAdapter(schema)
    return adapter
