"""The inventory ledger: one SQLite file holding SKUs, movements, orders, channels and runs."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from omnisync.errors import LedgerError, LedgerLockedError
from omnisync.ledger.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from omnisync.models import Listing, Order, OrderLine, PushResult, QuantityChange, Status
from omnisync.reconcile import Effect, LineMovement, Recorded
from omnisync.timeparse import from_iso, to_iso

MAIN_LOCATION = "main"
# SQLite limits bound parameters per statement; ask for rows in slices of this many keys.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Balance:
    sku: str
    name: str
    on_hand: int
    committed: int

    @property
    def available(self) -> int:
        return self.on_hand - self.committed


@dataclass(frozen=True, slots=True)
class ChannelState:
    channel: str
    type: str
    start_time: datetime | None
    cursor: datetime | None
    last_run: int | None
    last_status: str | None
    last_error: str | None


class Ledger:
    """An open ledger file. Write through `atomic()`; a writer holds the lock beside the file."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: FileLock | None) -> None:
        self.path = path
        self.conn = conn
        self._lock = lock
        self._depth = 0

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, write: bool, create: bool | None = None) -> Ledger:
        """Open (and with `create`, make) the ledger; a writer takes the lock first.

        Raises LedgerLockedError when another process holds the lock, LedgerError when the file
        is missing (and not to be made), corrupt, not a ledger, or from a newer omnisync.
        """
        create = write if create is None else create
        lock = _acquire_lock(path) if write else None
        try:
            conn = _connect(path, create=create)
            ledger = cls(path, conn, lock)
            ledger._migrate(write=write)
        except BaseException:
            if lock is not None:
                _release_lock(path, lock)
            raise
        return ledger

    def close(self) -> None:
        self.conn.close()
        if self._lock is not None:
            _release_lock(self.path, self._lock)
            self._lock = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self, *, write: bool) -> None:
        try:
            app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            tables = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: not a readable ledger ({exc})") from None
        if app_id != APPLICATION_ID and (tables or app_id):
            raise LedgerError(
                f"{self.path}: this SQLite file is not an omnisync ledger "
                f"(pass --ledger or set [ledger] path to the right file)"
            )
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path}: made by a newer omnisync (schema {version}; this one knows up "
                f"to {SCHEMA_VERSION}). Upgrade omnisync to use it"
            )
        if version == SCHEMA_VERSION:
            return
        if not write:
            raise LedgerError(
                f"{self.path}: the ledger needs an upgrade (schema {version} → "
                f"{SCHEMA_VERSION}); run a command that writes, such as `omnisync sync`"
            )
        for number in range(version, SCHEMA_VERSION):
            # Each migration lands together with its version bump, or not at all.
            with self.atomic():
                MIGRATIONS[number](self.conn)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")
                self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def atomic(self, *, rollback: bool = False) -> Iterator[None]:
        """One transaction (a savepoint when nested); with `rollback`, always undone."""
        if self._depth:
            name = f"sp{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self.conn.execute(f"ROLLBACK TO {name}")
                raise
            finally:
                self._depth -= 1
            self.conn.execute(f"RELEASE {name}")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("ROLLBACK" if rollback else "COMMIT")

    # -- SKUs and balances ---------------------------------------------------------------

    def known_skus(self) -> frozenset[str]:
        return frozenset(row[0] for row in self.conn.execute("SELECT sku FROM skus"))

    def add_sku(self, sku: str, *, name: str = "", now: datetime) -> None:
        self.conn.execute(
            "INSERT INTO skus (sku, name, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (sku) DO UPDATE SET name = CASE WHEN excluded.name != '' "
            "THEN excluded.name ELSE skus.name END",
            (sku, name, to_iso(now)),
        )

    def balances(self, skus: Iterable[str] | None = None) -> dict[str, Balance]:
        """on_hand and committed per SKU, summed over locations; every SKU, or those asked."""
        query = (
            "SELECT s.sku, s.name, coalesce(sum(b.on_hand), 0), coalesce(sum(b.committed), 0) "
            "FROM skus s LEFT JOIN balances b ON b.sku = s.sku"
        )
        if skus is None:
            rows: Iterable[Any] = self.conn.execute(query + " GROUP BY s.sku ORDER BY s.sku")
        else:
            wanted = list(dict.fromkeys(skus))
            rows = []
            for part in _chunks(wanted):
                marks = ",".join("?" * len(part))
                rows += self.conn.execute(
                    query + f" WHERE s.sku IN ({marks}) GROUP BY s.sku ORDER BY s.sku", part
                ).fetchall()
        return {
            sku: Balance(sku, name, on_hand, committed) for sku, name, on_hand, committed in rows
        }

    def available(self) -> dict[str, int]:
        """on_hand − committed for every SKU, the number every target starts from."""
        # One row per SKU while every movement is at one location: dict() straight from the
        # cursor then, which on 100,000 SKUs costs half of a GROUP BY.
        rows = self.conn.execute("SELECT sku, on_hand - committed FROM balances").fetchall()
        available = dict(rows)
        if len(available) != len(rows):
            available = {}
            for sku, units in rows:
                available[sku] = available.get(sku, 0) + units
        return available

    def available_for(self, skus: Iterable[str]) -> dict[str, int]:
        """on_hand − committed for the SKUs asked (those with any movement)."""
        available: dict[str, int] = {}
        for part in _chunks(sorted(set(skus))):
            marks = ",".join("?" * len(part))
            for sku, units in self.conn.execute(
                f"SELECT sku, on_hand - committed FROM balances WHERE sku IN ({marks})", part
            ):
                available[sku] = available.get(sku, 0) + units
        return available

    def oversold(self) -> dict[str, int]:
        """SKUs whose available is below zero, with it; read through a partial index."""
        return dict(
            self.conn.execute(
                "SELECT sku, sum(on_hand) - sum(committed) FROM balances WHERE sku IN "
                "(SELECT sku FROM balances WHERE on_hand < committed) "
                "GROUP BY sku HAVING sum(on_hand) < sum(committed) ORDER BY sku"
            )
        )

    def last_movement_id(self) -> int:
        row = self.conn.execute("SELECT max(id) FROM movements").fetchone()
        return int(row[0] or 0)

    def skus_moved_since(self, movement_id: int) -> set[str]:
        # A rowid range read, deduplicated here: with DISTINCT SQLite walks the whole by-SKU
        # index instead.
        return {
            row[0]
            for row in self.conn.execute("SELECT sku FROM movements WHERE id > ?", (movement_id,))
        }

    def movement_sums(self) -> dict[str, tuple[int, int]]:
        """on_hand and committed per SKU summed from the movements themselves (for checks)."""
        return {
            sku: (on_hand, committed)
            for sku, on_hand, committed in self.conn.execute(
                "SELECT sku, sum(on_hand), sum(committed) FROM movements GROUP BY sku"
            )
        }

    def add_movement(
        self,
        *,
        kind: str,
        sku: str,
        on_hand: int,
        committed: int = 0,
        reason: str = "",
        now: datetime,
        run_id: int | None = None,
    ) -> None:
        self._insert_movements(
            [
                (
                    to_iso(now),
                    kind,
                    sku,
                    MAIN_LOCATION,
                    on_hand,
                    committed,
                    None,
                    None,
                    None,
                    run_id,
                    reason,
                )
            ]
        )

    def _insert_movements(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append movements and add them to the balances, both or neither.

        Each row: (time, kind, sku, location, on_hand, committed, channel, order_id, line_id,
        run_id, reason). Every movement goes through here, so balances always equal the sum of
        the movements (the tests hold it to that).
        """
        totals: dict[tuple[str, str], list[int]] = {}
        for row in rows:
            total = totals.setdefault((row[2], row[3]), [0, 0])
            total[0] += row[4]
            total[1] += row[5]
        with self.atomic():
            self.conn.executemany(
                "INSERT INTO movements (time, kind, sku, location, on_hand, committed, channel, "
                "order_id, line_id, run_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self.conn.executemany(
                "INSERT INTO balances (sku, location, on_hand, committed) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sku, location) DO UPDATE SET on_hand = on_hand + "
                "excluded.on_hand, committed = committed + excluded.committed",
                [(sku, location, oh, co) for (sku, location), (oh, co) in sorted(totals.items())],
            )

    # -- orders --------------------------------------------------------------------------

    def recorded_effects(self, channel: str, order_ids: Sequence[str]) -> Recorded:
        """Sum of movements per (order, line) and SKU, for these orders of one channel."""
        recorded: dict[tuple[str, str], dict[str, Effect]] = defaultdict(dict)
        for part in _chunks(list(order_ids)):
            marks = ",".join("?" * len(part))
            for order_id, line_id, sku, on_hand, committed in self.conn.execute(
                "SELECT order_id, line_id, sku, sum(on_hand), sum(committed) FROM movements "
                f"WHERE channel = ? AND order_id IN ({marks}) "
                "GROUP BY order_id, line_id, sku",
                [channel, *part],
            ):
                recorded[(order_id, line_id)][sku] = Effect(on_hand, committed)
        return recorded

    def known_updated_at(self, channel: str, order_ids: Sequence[str]) -> dict[str, datetime]:
        known: dict[str, datetime] = {}
        for part in _chunks(list(order_ids)):
            marks = ",".join("?" * len(part))
            for order_id, updated_at in self.conn.execute(
                f"SELECT order_id, updated_at FROM orders WHERE channel = ? "
                f"AND order_id IN ({marks})",
                [channel, *part],
            ):
                known[order_id] = from_iso(updated_at)
        return known

    def write_line_movements(
        self, channel: str, movements: Sequence[LineMovement], *, run_id: int | None, now: datetime
    ) -> None:
        stamp = to_iso(now)
        self._insert_movements(
            [
                (
                    stamp,
                    "order",
                    m.sku,
                    MAIN_LOCATION,
                    m.effect.on_hand,
                    m.effect.committed,
                    channel,
                    m.order_id,
                    m.line_id,
                    run_id,
                    "",
                )
                # In SKU order: the by-SKU index is then written page by page.
                for m in sorted(movements, key=lambda m: m.sku)
            ]
        )

    def save_orders(
        self,
        channel: str,
        orders: Sequence[Order],
        *,
        unmapped: set[tuple[str, str]],
        run_id: int | None,
        known: Collection[str] | None = None,
    ) -> None:
        """Store each order and its lines as last seen; drop lines the channel no longer has.

        `known`, when given, names the orders the ledger already holds: only their old lines
        need deleting (the others are new, and a big run saves half its deletes).
        """
        self.conn.executemany(
            "INSERT INTO orders (channel, order_id, status, created_at, updated_at, first_run, "
            "last_run) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, order_id) DO UPDATE "
            "SET status = excluded.status, updated_at = excluded.updated_at, "
            "last_run = excluded.last_run",
            [
                (
                    channel,
                    o.id,
                    o.status.value,
                    to_iso(o.created_at),
                    to_iso(o.updated_at),
                    run_id,
                    run_id,
                )
                for o in orders
            ],
        )
        for part in _chunks([o.id for o in orders if known is None or o.id in known]):
            marks = ",".join("?" * len(part))
            self.conn.execute(
                f"DELETE FROM order_lines WHERE channel = ? AND order_id IN ({marks})",
                [channel, *part],
            )
        self.conn.executemany(
            "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, quantity, status, "
            "unit_price, currency, unmapped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    channel,
                    o.id,
                    line.id,
                    line.channel_sku,
                    line.quantity,
                    line.status.value if line.status else None,
                    str(line.unit_price) if line.unit_price is not None else None,
                    line.currency,
                    int((o.id, line.id) in unmapped),
                )
                for o in orders
                for line in o.lines
            ],
        )

    def orders_with_unmapped_lines(self, channel: str) -> list[Order]:
        """Stored orders of a channel that still hold a line no SKU was found for."""
        ids = [
            row[0]
            for row in self.conn.execute(
                # Named, as without statistics SQLite would walk all the channel's lines.
                "SELECT DISTINCT order_id FROM order_lines INDEXED BY order_lines_unmapped "
                "WHERE channel = ? AND unmapped = 1",
                (channel,),
            )
        ]
        return self.stored_orders(channel, ids)

    def stored_orders(self, channel: str, order_ids: Sequence[str]) -> list[Order]:
        lines: dict[str, list[OrderLine]] = defaultdict(list)
        orders: list[Order] = []
        for part in _chunks(list(order_ids)):
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(
                "SELECT order_id, line_id, channel_sku, quantity, status, unit_price, currency "
                f"FROM order_lines WHERE channel = ? AND order_id IN ({marks}) "
                "ORDER BY order_id, line_id",
                [channel, *part],
            ):
                lines[row[0]].append(_line_from_row(row[1:]))
            for order_id, status, created_at, updated_at in self.conn.execute(
                "SELECT order_id, status, created_at, updated_at FROM orders "
                f"WHERE channel = ? AND order_id IN ({marks})",
                [channel, *part],
            ):
                orders.append(
                    Order(
                        id=order_id,
                        status=Status(status),
                        created_at=from_iso(created_at),
                        updated_at=from_iso(updated_at),
                        lines=tuple(lines[order_id]),
                    )
                )
        return orders

    def unmapped_lines(self) -> list[tuple[str, str, str, str, int]]:
        """(channel, channel SKU, order id, status, quantity) of every unmapped line."""
        return [
            (channel, channel_sku, order_id, status, quantity)
            for channel, channel_sku, order_id, status, quantity in self.conn.execute(
                "SELECT l.channel, l.channel_sku, l.order_id, coalesce(l.status, o.status), "
                "l.quantity FROM order_lines l JOIN orders o "
                "ON o.channel = l.channel AND o.order_id = l.order_id "
                "WHERE l.unmapped = 1 ORDER BY l.channel, l.channel_sku, l.order_id"
            )
        ]

    def order_takes(self, sku: str, *, limit: int = 200) -> list[tuple[str, int]]:
        """(channel:order, units taken from available) for a SKU's orders, last placed first."""
        return [
            (f"{channel}:{order_id}", took)
            for channel, order_id, took in self.conn.execute(
                "SELECT m.channel, m.order_id, sum(m.committed - m.on_hand) FROM movements m "
                "JOIN orders o ON o.channel = m.channel AND o.order_id = m.order_id "
                "WHERE m.sku = ? AND m.kind = 'order' GROUP BY m.channel, m.order_id "
                "ORDER BY max(o.created_at) DESC, max(m.id) DESC LIMIT ?",
                (sku, limit),
            )
        ]

    def list_orders(
        self,
        *,
        channels: Sequence[str] = (),
        status: str | None = None,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []
        if channels:
            where.append(f"o.channel IN ({','.join('?' * len(channels))})")
            params += list(channels)
        if status:
            where.append("o.status = ?")
            params.append(status)
        if since:
            where.append("o.updated_at >= ?")
            params.append(to_iso(since))
        orders: dict[tuple[str, str], dict[str, Any]] = {}
        for channel, order_id, order_status, created_at, updated_at in self.conn.execute(
            "SELECT channel, order_id, status, created_at, updated_at FROM orders o "
            f"WHERE {' AND '.join(where)} ORDER BY updated_at DESC, channel, order_id",
            params,
        ):
            orders[(channel, order_id)] = {
                "channel": channel,
                "id": order_id,
                "status": order_status,
                "created_at": created_at,
                "updated_at": updated_at,
                "lines": [],
            }
        if not orders:
            return []
        mapped_skus = self._line_skus()
        for row in self.conn.execute(
            "SELECT l.channel, l.order_id, l.line_id, l.channel_sku, l.quantity, l.unit_price, "
            "l.currency, l.status FROM order_lines l JOIN orders o ON o.channel = l.channel "
            f"AND o.order_id = l.order_id WHERE {' AND '.join(where)} "
            "ORDER BY l.channel, l.order_id, l.line_id",
            params,
        ):
            channel, order_id, line_id, channel_sku, quantity, price, currency, status = row
            orders[(channel, order_id)]["lines"].append(
                {
                    "id": line_id,
                    "sku": mapped_skus.get((channel, order_id, line_id)),
                    "channel_sku": channel_sku,
                    "quantity": quantity,
                    "unit_price": price,
                    "currency": currency,
                    "status": status,
                }
            )
        return list(orders.values())

    def _line_skus(self) -> dict[tuple[str, str, str], str]:
        """The SKU each order line moved (a bundle line names its components, joined by +)."""
        skus: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for channel, order_id, line_id, sku in self.conn.execute(
            "SELECT DISTINCT channel, order_id, line_id, sku FROM movements "
            "WHERE kind = 'order' ORDER BY sku"
        ):
            skus[(channel, order_id, line_id)].append(sku)
        return {key: "+".join(value) for key, value in skus.items()}

    def movements(
        self, *, skus: Sequence[str] = (), since: datetime | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        where, params = ["1 = 1"], []
        if skus:
            where.append(f"sku IN ({','.join('?' * len(skus))})")
            params += list(skus)
        if since:
            where.append("time >= ?")
            params.append(to_iso(since))
        query = (
            "SELECT id, time, kind, sku, location, on_hand, committed, channel, order_id, "
            f"line_id, run_id, reason FROM movements WHERE {' AND '.join(where)} "
            "ORDER BY id DESC"
        )
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        columns = (
            "id time kind sku location on_hand committed channel order_id line_id run_id reason"
        ).split()
        return [dict(zip(columns, row, strict=True)) for row in self.conn.execute(query, params)]

    # -- channels ------------------------------------------------------------------------

    def channel_state(self, channel: str) -> ChannelState | None:
        row = self.conn.execute(
            "SELECT channel, type, start_time, cursor, last_run, last_status, last_error "
            "FROM channel_state WHERE channel = ?",
            (channel,),
        ).fetchone()
        if row is None:
            return None
        return ChannelState(
            channel=row[0],
            type=row[1],
            start_time=from_iso(row[2]) if row[2] else None,
            cursor=from_iso(row[3]) if row[3] else None,
            last_run=row[4],
            last_status=row[5],
            last_error=row[6],
        )

    def channel_states(self) -> list[ChannelState]:
        names = [r[0] for r in self.conn.execute("SELECT channel FROM channel_state ORDER BY 1")]
        return [state for name in names if (state := self.channel_state(name))]

    def ensure_channel(self, channel: str, type_: str, *, start_time: datetime) -> None:
        """Record a channel the first time it syncs; its start time is set then, once."""
        self.conn.execute(
            "INSERT INTO channel_state (channel, type, start_time) VALUES (?, ?, ?) "
            "ON CONFLICT (channel) DO UPDATE SET type = excluded.type, "
            "start_time = coalesce(channel_state.start_time, excluded.start_time)",
            (channel, type_, to_iso(start_time)),
        )

    def set_cursor(self, channel: str, cursor: datetime) -> None:
        self.conn.execute(
            "UPDATE channel_state SET cursor = ? WHERE channel = ?", (to_iso(cursor), channel)
        )

    def set_channel_outcome(
        self, channel: str, *, run_id: int, status: str, error: str | None
    ) -> None:
        self.conn.execute(
            "UPDATE channel_state SET last_run = ?, last_status = ?, last_error = ? "
            "WHERE channel = ?",
            (run_id, status, error, channel),
        )

    def load_tokens(self, channel: str) -> dict[str, str]:
        row = self.conn.execute(
            "SELECT tokens FROM channel_state WHERE channel = ?", (channel,)
        ).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def save_tokens(self, channel: str, tokens: dict[str, str]) -> None:
        """Store rotated tokens at once, in their own transaction: a single-use refresh token
        that is lost locks the shop out."""
        if self._depth:
            # Inside another transaction this would be a savepoint, undone with it (a dry
            # run rolls back): the engine never holds a transaction across channel I/O.
            raise RuntimeError("save_tokens must not run inside a ledger transaction")
        with self.atomic():
            merged = {**self.load_tokens(channel), **tokens}
            self.conn.execute(
                "INSERT INTO channel_state (channel, type, tokens) VALUES (?, '', ?) "
                "ON CONFLICT (channel) DO UPDATE SET tokens = excluded.tokens",
                (channel, json.dumps(merged)),
            )

    # -- listings ------------------------------------------------------------------------

    def save_listings_read(
        self, channel: str, listings: Sequence[Listing], *, now: datetime
    ) -> dict[str, int | None]:
        """Record what a channel's listings showed; only rows that changed are written, as a
        big shop reads the same 100,000 quantities run after run.

        Returns the target last planned for each listing (None where there is none, or its
        channel SKU changed since): read here, in the same pass, for the planner.
        """
        stored: dict[str, tuple[str, int | None]] = {}
        targets: dict[str, int | None] = {}
        for listing_id, channel_sku, shown, target in self.conn.execute(
            "SELECT listing_id, channel_sku, shown, target FROM listings WHERE channel = ?",
            (channel,),
        ):
            stored[listing_id] = (channel_sku, shown)
            targets[listing_id] = target
        for item in listings:
            known = stored.get(item.id)
            if known is None or known[0] != item.channel_sku:
                targets[item.id] = None
        self.conn.executemany(
            "INSERT INTO listings (channel, listing_id, channel_sku, last_read, shown) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, listing_id) DO UPDATE SET "
            "channel_sku = excluded.channel_sku, last_read = excluded.last_read, "
            "shown = excluded.shown, target = CASE WHEN listings.channel_sku = "
            "excluded.channel_sku THEN listings.target END",
            [
                (channel, item.id, item.channel_sku, item.quantity, item.quantity)
                for item in listings
                if stored.get(item.id) != (item.channel_sku, item.quantity)
            ],
        )
        return targets

    def save_pushed(
        self,
        channel: str,
        changes: Sequence[QuantityChange],
        results: Sequence[PushResult],
        *,
        now: datetime,
    ) -> None:
        targets = {change.listing_id: change.target for change in changes}
        self.conn.executemany(
            "UPDATE listings SET last_pushed = ?, last_pushed_at = ?, shown = ? "
            "WHERE channel = ? AND listing_id = ?",
            [
                (targets[r.listing_id], to_iso(now), targets[r.listing_id], channel, r.listing_id)
                for r in results
                if r.outcome == "written" and r.listing_id in targets
            ],
        )
        self.conn.executemany(
            "UPDATE listings SET shown = ? WHERE channel = ? AND listing_id = ?",
            [
                (r.current, channel, r.listing_id)
                for r in results
                if r.outcome == "conflict" and r.current is not None
            ],
        )

    def save_targets(self, channel: str, targets: Iterable[tuple[str, int | None]]) -> None:
        self.conn.executemany(
            "UPDATE listings SET target = ? WHERE channel = ? AND listing_id = ?",
            [(target, channel, listing_id) for listing_id, target in targets],
        )

    def plan_marks(self, channel: str) -> tuple[str | None, int | None]:
        """(plan key, last movement id) of the channel's last plan."""
        row = self.conn.execute(
            "SELECT plan_key, planned_through FROM channel_state WHERE channel = ?", (channel,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def set_plan_marks(self, channel: str, key: str, through: int) -> None:
        self.conn.execute(
            "UPDATE channel_state SET plan_key = ?, planned_through = ? WHERE channel = ?",
            (key, through, channel),
        )

    def last_pushed(self) -> list[tuple[str, str, int]]:
        """(channel, channel SKU, quantity) each listing shows as far as the ledger knows:
        what omnisync last pushed, or what it read since (already right, or moved)."""
        return list(
            self.conn.execute(
                "SELECT channel, channel_sku, shown FROM listings WHERE shown IS NOT NULL "
                "ORDER BY channel, channel_sku"
            )
        )

    def listings_of(self, channel: str) -> list[tuple[str, str, int | None, int | None]]:
        return list(
            self.conn.execute(
                "SELECT listing_id, channel_sku, last_read, last_pushed FROM listings "
                "WHERE channel = ? ORDER BY listing_id",
                (channel,),
            )
        )

    # -- runs ----------------------------------------------------------------------------

    def start_run(self, *, started_at: datetime, dry_run: bool) -> int:
        cursor = self.conn.execute(
            "INSERT INTO runs (started_at, dry_run) VALUES (?, ?)", (to_iso(started_at), dry_run)
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_run(
        self, run_id: int, *, finished_at: datetime, exit_code: int, report: str
    ) -> None:
        self.conn.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ?, report = ? WHERE run_id = ?",
            (to_iso(finished_at), exit_code, report, run_id),
        )

    def runs(self, *, limit: int = 50) -> list[dict[str, Any]]:
        reports = []
        for run_id, started_at, finished_at, dry_run, exit_code, report in self.conn.execute(
            "SELECT run_id, started_at, finished_at, dry_run, exit_code, report FROM runs "
            "ORDER BY run_id DESC LIMIT ?",
            (limit,),
        ):
            if report:
                reports.append(json.loads(report))
            else:
                # Started and never finished: the process died or was killed mid-run.
                reports.append(
                    {
                        "run_id": run_id,
                        "started_at": started_at,
                        "finished_at": finished_at,
                        "dry_run": bool(dry_run),
                        "exit_code": exit_code,
                        "interrupted": True,
                        "channels": {},
                    }
                )
        return reports


def _line_from_row(row: Sequence[Any]) -> OrderLine:
    line_id, channel_sku, quantity, status, price, currency = row
    return OrderLine(
        id=line_id,
        channel_sku=channel_sku,
        quantity=quantity,
        status=Status(status) if status else None,
        unit_price=Decimal(price) if price is not None else None,
        currency=currency,
    )


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not path.exists():
        if not create:
            raise LedgerError(
                f"{path}: no ledger here yet (run `omnisync init`, or a first `omnisync sync`)"
            )
        try:
            # Owner-only from the first byte: the ledger holds channel tokens.
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise LedgerError(f"{path}: cannot create the ledger: {exc.strerror}") from None
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # 32 MB of page cache: a run's index lookups and inserts land all over a big ledger.
        conn.execute("PRAGMA cache_size = -32768")
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path}: not a readable ledger ({exc})") from None
    return conn


def _lock_info_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock.json")


def _acquire_lock(path: Path) -> FileLock:
    """Take the writer's lock beside the ledger at once, or say who holds it.

    The lock is an OS file lock, so a killed process releases it with its last breath: a
    stale lock file left on disk never blocks the next run.
    """
    if not path.parent.is_dir():
        # Not created on the fly: a mistyped --ledger must not leave folders behind.
        raise LedgerError(f"{path}: the folder {path.parent} does not exist")
    lock = FileLock(str(path) + ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LedgerLockedError(
            f"{path}: another omnisync run holds the ledger{_holder(path)}"
        ) from None
    try:
        _lock_info_path(path).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
        )
    except OSError:
        pass
    return lock


def _release_lock(path: Path, lock: FileLock) -> None:
    try:
        _lock_info_path(path).unlink(missing_ok=True)
    except OSError:
        pass
    lock.release()


def _holder(path: Path) -> str:
    try:
        info = json.loads(_lock_info_path(path).read_text())
        return f" (pid {info['pid']}, since {info['started_at']}); nothing was done"
    except (OSError, ValueError, KeyError):
        return "; nothing was done"
