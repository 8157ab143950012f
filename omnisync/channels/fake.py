"""A channel whose whole state is one JSON file: for CI smoke tests and the demo.

The file holds `listings` and `orders` (statuses already normalised, see SPEC.md). omnisync
reads it like any channel and writes pushed quantities back atomically (temp file + rename).

Two optional extras let a user's CI rehearse what goes wrong on real channels:
- `fail = "fetch"` or `"push"` in the channel's config makes that step fail;
- a top-level `"sales_during_sync"` list of orders in the file is "placed" on the channel
  between omnisync's read and its write: the orders are appended and their listings'
  quantities drop, as a marketplace does when it sells. The write that follows must notice.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from omnisync.channels.base import ChannelConfig, ChannelContext, ChannelSettings, ChannelType
from omnisync.errors import ChannelResponseError, ChannelUnavailableError
from omnisync.models import (
    ChannelProbe,
    Listing,
    Order,
    OrderLine,
    PushResult,
    QuantityChange,
    Status,
)
from omnisync.timeparse import as_utc


class FakeSettings(ChannelSettings):
    path: str
    fail: Literal["fetch", "push"] | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow")


class FakeLine(_Strict):
    id: str
    sku: str
    quantity: int = Field(ge=0)
    status: Status | None = None
    unit_price: Decimal | None = None
    currency: str | None = None

    @field_validator("id", "sku", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class FakeOrder(_Strict):
    id: str
    status: Status
    created_at: datetime
    updated_at: datetime
    lines: list[FakeLine]

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class FakeListing(_Strict):
    id: str
    sku: str = ""
    quantity: int
    name: str = ""

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class FakeFile(_Strict):
    listings: list[FakeListing] = Field(default_factory=list)
    orders: list[FakeOrder] = Field(default_factory=list)
    sales_during_sync: list[FakeOrder] = Field(default_factory=list)


_LISTINGS = TypeAdapter(list[FakeListing])
_ORDERS = TypeAdapter(list[FakeOrder])


def _to_order(raw: FakeOrder) -> Order:
    return Order(
        id=raw.id,
        status=raw.status,
        created_at=as_utc(raw.created_at),
        updated_at=as_utc(raw.updated_at),
        lines=tuple(
            OrderLine(
                id=line.id,
                channel_sku=line.sku,
                quantity=line.quantity,
                status=line.status,
                unit_price=line.unit_price,
                currency=line.currency,
            )
            for line in raw.lines
        ),
    )


class FakeChannel:
    """The JSON-file channel."""

    def __init__(self, name: str, path: Path, *, fail: str | None = None) -> None:
        self.name = name
        self.path = path
        self.fail = fail

    # -- file I/O ------------------------------------------------------------------------

    def _read_raw(self) -> dict[str, Any]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ChannelUnavailableError(self.name, f"{self.path}: no such file") from None
        except OSError as exc:  # a folder, or unreadable: this channel fails, not the run
            raise ChannelUnavailableError(
                self.name, f"{self.path}: cannot read it: {exc.strerror}"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ChannelResponseError(self.name, f"{self.path}: not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ChannelResponseError(
                self.name, f"{self.path}: expected an object with listings and orders"
            )
        return raw

    def _parse(self, raw: dict[str, Any]) -> FakeFile:
        """Validate the whole file (a part of it: see `_parse_part`)."""
        try:
            return FakeFile.model_validate(raw)
        except ValidationError as exc:
            raise self._invalid(exc, ()) from None

    def _parse_part(self, raw: dict[str, Any], part: str) -> list[Any]:
        """Validate only `listings` or `orders`: a step reads only what it needs."""
        adapter = _LISTINGS if part == "listings" else _ORDERS
        try:
            return adapter.validate_python(raw.get(part, []))
        except ValidationError as exc:
            raise self._invalid(exc, (part,)) from None

    def _invalid(self, exc: ValidationError, prefix: tuple[str, ...]) -> ChannelResponseError:
        first = exc.errors()[0]
        where = ".".join(
            f"[{part}]" if isinstance(part, int) else str(part) for part in (*prefix, *first["loc"])
        ).replace(".[", "[")
        return ChannelResponseError(self.name, f"{self.path}: {where}: {first['msg'].lower()}")

    def _write_raw(self, raw: dict[str, Any]) -> None:
        # Temp file in the same folder, then rename: a reader never sees half a file.
        handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            # mkstemp makes the file owner-only; keep the mode the user gave the channel file.
            os.chmod(temp, self.path.stat().st_mode & 0o777)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                # Indented for people to read; a file too big to read is written compact,
                # since only json.dumps without indent runs at C speed.
                big = len(raw.get("listings", [])) + len(raw.get("orders", [])) > 2000
                out.write(json.dumps(raw, indent=None if big else 2, ensure_ascii=False))
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def _check_fail(self, step: str) -> None:
        if self.fail == step:
            raise ChannelUnavailableError(
                self.name, f'simulated failure (fail = "{step}" in its config)'
            )

    # -- the Channel protocol --------------------------------------------------------------

    async def list_listings(self) -> list[Listing]:
        self._check_fail("fetch")
        items: list[FakeListing] = self._parse_part(self._read_raw(), "listings")
        return [
            Listing(id=item.id, channel_sku=item.sku, quantity=item.quantity, name=item.name)
            for item in items
        ]

    async def fetch_orders(
        self, *, updated_since: datetime, updated_until: datetime
    ) -> AsyncIterator[Order]:
        self._check_fail("fetch")
        raw_orders: list[FakeOrder] = self._parse_part(self._read_raw(), "orders")
        for raw in raw_orders:
            order = _to_order(raw)
            if updated_since <= order.updated_at < updated_until:
                yield order

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        self._check_fail("push")
        raw = self._read_raw()
        self._parse_part(raw, "listings")
        self._happen_sales(raw)
        by_id = {str(item.get("id")): item for item in raw.get("listings", [])}
        results = []
        for change in changes:
            item = by_id.get(change.listing_id)
            if item is None:
                results.append(PushResult(change.listing_id, "failed", "no such listing"))
            elif item.get("quantity") != change.expected:
                results.append(
                    PushResult(
                        change.listing_id,
                        "conflict",
                        f"quantity is {item.get('quantity')}, expected {change.expected}",
                        current=item.get("quantity"),
                    )
                )
            else:
                item["quantity"] = change.target
                results.append(PushResult(change.listing_id, "written"))
        self._write_raw(raw)
        return results

    def _happen_sales(self, raw: dict[str, Any]) -> None:
        """Place the file's `sales_during_sync` orders now, as a marketplace would."""
        sales = raw.pop("sales_during_sync", None)
        if not sales:
            return
        raw.setdefault("orders", []).extend(sales)
        for order in sales:
            if order.get("status") in (Status.CANCELLED, Status.RETURNED):
                continue
            for line in order.get("lines", []):
                for item in raw.get("listings", []):
                    if item.get("sku") == line.get("sku"):
                        item["quantity"] = max(0, item["quantity"] - int(line["quantity"]))

    async def probe(self) -> ChannelProbe:
        state = self._parse(self._read_raw())
        return ChannelProbe(
            ok=True,
            messages=(f"{self.path}: {len(state.listings)} listings, {len(state.orders)} orders",),
        )

    async def aclose(self) -> None:
        return None


def _open(config: ChannelConfig, context: ChannelContext) -> FakeChannel:
    settings = config.settings
    assert isinstance(settings, FakeSettings)
    path = Path(settings.path)
    if not path.is_absolute():
        path = config.base_dir / path
    return FakeChannel(config.name, path, fail=settings.fail)


CHANNEL_TYPE = ChannelType(settings=FakeSettings, open=_open, http=False)
