"""SKUs, their append-only movements, and the balances kept from them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omnisync.ledger.connection import LedgerBase, execute_in
from omnisync.models import LineMovement
from omnisync.timeparse import to_iso

MAIN_LOCATION = "main"


@dataclass(frozen=True, slots=True)
class Balance:
    """A SKU's stock summed over its locations."""

    sku: str
    name: str
    on_hand: int
    committed: int

    @property
    def available(self) -> int:
        return self.on_hand - self.committed


class StockStore(LedgerBase):
    """SKUs, movements and balances: every movement is written through `_insert_movements`."""

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
            rows = execute_in(
                self.conn,
                query + " WHERE s.sku IN ({marks}) GROUP BY s.sku ORDER BY s.sku",
                list(dict.fromkeys(skus)),
            )
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
        for sku, units in execute_in(
            self.conn,
            "SELECT sku, on_hand - committed FROM balances WHERE sku IN ({marks})",
            sorted(set(skus)),
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
        """Append one movement not tied to an order line (a count or an adjustment)."""
        row = (to_iso(now), kind, sku, MAIN_LOCATION, on_hand, committed)
        self._insert_movements([(*row, None, None, None, run_id, reason)])

    def write_line_movements(
        self, channel: str, movements: Sequence[LineMovement], *, run_id: int | None, now: datetime
    ) -> None:
        """Append the movements reconciling a channel's order lines called for."""
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
