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

import glob
import json
import os
import re
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from omnisync.channels.base import (
    ChannelConfig,
    ChannelContext,
    ChannelSettings,
    ChannelType,
    ReadProblem,
)
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
from omnisync.payload import MAX_CHANNEL_QUANTITY, parse_each, payload_path
from omnisync.timeparse import as_utc

# What `tempfile.mkstemp` puts after the prefix (its alphabet, 8 characters).
_MKSTEMP_SUFFIX = re.compile(r"[a-z0-9_]{8}")


class FakeSettings(ChannelSettings):
    path: str
    fail: Literal["fetch", "push"] | None = None


class _Strict(BaseModel):
    """A part of the channel file: a field omnisync does not know is an error, not ignored.

    The file is written by people and CI scripts, not by a platform whose API grows, so
    nothing is kept for forward compatibility: a misspelt line `status` would otherwise be
    dropped without a word and the line read with its order's status.
    """

    model_config = ConfigDict(extra="forbid")


class FakeLine(_Strict):
    id: str
    sku: str
    quantity: StrictInt = Field(ge=0, le=MAX_CHANNEL_QUANTITY)
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
    # A whole JSON number: "5" read as 5 would then be compared with the "5" still in the
    # file before each write, and conflict every run without ever being written.
    quantity: StrictInt
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
_PARTS: dict[str, TypeAdapter[Any]] = {
    "listings": _LISTINGS,
    "orders": _ORDERS,
    "sales_during_sync": _ORDERS,
}


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


# A file up to this size is parsed once per run and held from fetch to push; a bigger one
# (a benchmark's 50,000 orders: 80 MB as Python objects) is parsed again at push instead.
_CACHE_BYTES = 1_000_000


class FakeChannel:
    """The JSON-file channel."""

    concurrency = 1  # one local file, read and written whole: nothing runs side by side

    def __init__(self, name: str, path: Path, *, fail: str | None = None) -> None:
        self.name = name
        self.path = path
        self.fail = fail
        self._problems: list[ReadProblem] = []  # orders the last fetch could not read
        # The file's bytes as last read, and their parse: a run reads the file for its
        # listings, its orders and again before writing, and parsing is most of the channel's
        # time. Reading the bytes is cheap, and comparing them (not a stat, whose timestamps
        # can miss a rewrite within one clock tick) says exactly whether someone wrote it since.
        self._cached: tuple[bytes, dict[str, Any]] | None = None

    # -- file I/O ------------------------------------------------------------------------

    def _read_raw(self, *, take: bool = False) -> dict[str, Any]:
        """The file's top-level object, parsed once while its bytes are unchanged; `take`
        hands the caller the object to change (push) and forgets it here."""
        cached, self._cached = self._cached, None
        try:
            data = self.path.read_bytes()
            if cached is not None and cached[0] == data:
                raw = cached[1]
            else:
                raw = json.loads(data.decode("utf-8"))
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
        # Checked on every read (cheap), as each step validates only the part it needs.
        for key in raw:
            if key not in _PARTS:
                raise ChannelResponseError(
                    self.name,
                    f"{self.path}: {key}: unknown field "
                    f"(expected one of: {', '.join(sorted(_PARTS))})",
                )
        if not take and len(data) <= _CACHE_BYTES:
            self._cached = (data, raw)
        return raw

    def _parse(self, raw: dict[str, Any]) -> FakeFile:
        """Validate the whole file (a part of it: see `_parse_part`)."""
        try:
            return FakeFile.model_validate(raw)
        except ValidationError as exc:
            raise self._invalid(exc, ()) from None

    def _parse_part(self, raw: dict[str, Any], part: str) -> list[Any]:
        """Validate only `listings`, `orders` or the sales: a step reads only what it needs."""
        try:
            items: list[Any] = _PARTS[part].validate_python(raw.get(part, []))
            return items
        except ValidationError as exc:
            raise self._invalid(exc, (part,)) from None

    def _invalid(self, exc: ValidationError, prefix: tuple[str, ...]) -> ChannelResponseError:
        first = exc.errors(include_url=False)[0]
        where = payload_path((*prefix, *first["loc"]))  # orders[3].lines[0].quantity
        return ChannelResponseError(self.name, f"{self.path}: {where}: {first['msg'].lower()}")

    @property
    def _temp(self) -> Path:
        return self.path.with_name(f".{self.path.name}.omnisync-tmp")

    def _write_raw(self, raw: dict[str, Any]) -> None:
        # Temp file in the same folder, then rename: a reader never sees half a file. One
        # fixed name per channel file (one omnisync writes at a time, under the ledger's
        # lock): a run killed between the two leaves one temp file, which the next write
        # reuses, instead of a new one each time.
        self._sweep_old_temps()
        temp = self._temp
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # Keep the mode the user gave the channel file.
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
            temp.unlink(missing_ok=True)
            raise

    def _sweep_old_temps(self) -> None:
        """Remove temp files that runs of older omnisync versions (random `mkstemp` names:
        `.NAME.` and 8 letters, digits or `_`) left when killed mid-write."""
        prefix = f".{self.path.name}."
        for found in self.path.parent.glob(f"{glob.escape(prefix)}*"):
            suffix = found.name[len(prefix) :]
            if _MKSTEMP_SUFFIX.fullmatch(suffix) and found.is_file():
                found.unlink(missing_ok=True)

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
        self._problems = []
        rows = self._read_raw().get("orders", [])
        if not isinstance(rows, list):
            raise ChannelResponseError(self.name, f"{self.path}: orders: expected a list")
        # Order by order: one that does not fit is reported, the others go on.
        raw_orders, rejected = parse_each(FakeOrder, rows, root="orders")
        self._problems = [
            ReadProblem(
                f"order {bad.item_id}",
                f"{self.path}: {bad.message}",
                bad.item_id,
                bad.field,
                bad.value,
            )
            for bad in rejected
        ]
        for raw in raw_orders:
            order = _to_order(raw)
            # No upper bound: an order dated after the window (a clock ahead) still counts.
            if updated_since <= order.updated_at:
                yield order

    def read_problems(self) -> list[ReadProblem]:
        """Orders the last fetch could not read (ReportsReadProblems)."""
        return list(self._problems)

    async def push_quantities(
        self, changes: Sequence[QuantityChange], *, run_id: int
    ) -> list[PushResult]:
        self._check_fail("push")
        # Taken, not shared: the sales and the writes below change it, and should the write
        # fail, the next read must parse the file again rather than see the changes.
        raw = self._read_raw(take=True)
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
        sales: list[FakeOrder] = self._parse_part(raw, "sales_during_sync")
        if not sales:
            raw.pop("sales_during_sync", None)
            return
        raw.setdefault("orders", []).extend(raw.pop("sales_during_sync"))
        for order in sales:
            if order.status in (Status.CANCELLED, Status.RETURNED):
                continue
            for line in order.lines:
                for item in raw.get("listings", []):
                    if item.get("sku") == line.sku:
                        item["quantity"] = max(0, item["quantity"] - line.quantity)

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
