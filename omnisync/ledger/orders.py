"""Orders and their lines as last seen on each channel, and what the ledger recorded for them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from omnisync.ledger import effects as line_effects
from omnisync.ledger.connection import LedgerBase, execute_in
from omnisync.ledger.effects import LineEffects
from omnisync.models import Effect, Order, OrderLine, Recorded, Status
from omnisync.timeparse import from_iso, to_iso


class OrderStore(LedgerBase):
    """Orders, order lines and the movements recorded against them."""

    def recorded_effects(self, channel: str, order_ids: Sequence[str]) -> Recorded:
        """What the movements of these orders' lines add up to, per (order, line) and SKU."""
        return recorded_of(line_effects.read(self.conn, channel, list(order_ids)))

    def order_state(
        self, channel: str, order_ids: Sequence[str]
    ) -> tuple[dict[str, datetime], dict[str, LineEffects]]:
        """For these orders of one channel, in one read: when each was last updated as the
        ledger stored it, and its line effects (`omnisync.ledger.effects`)."""
        updated: dict[str, datetime] = {}
        effects: dict[str, LineEffects] = {}
        for order_id, updated_at, text in execute_in(
            self.conn,
            "SELECT order_id, updated_at, effects FROM orders WHERE channel = ? "
            "AND order_id IN ({marks})",
            list(order_ids),
            leading=[channel],
        ):
            updated[order_id] = from_iso(updated_at)
            if text:
                effects[order_id] = line_effects.decode(text)
        return updated, effects

    def effects_from_movements(self) -> dict[tuple[str, str], LineEffects]:
        """Every order's line effects summed from the movements themselves (for checks)."""
        sums: dict[tuple[str, str], LineEffects] = defaultdict(dict)
        for channel, order_id, line_id, sku, location, on_hand, committed in self.conn.execute(
            "SELECT channel, order_id, line_id, sku, location, sum(on_hand), sum(committed) "
            "FROM movements WHERE kind = 'order' GROUP BY channel, order_id, line_id, sku, "
            "location HAVING sum(on_hand) != 0 OR sum(committed) != 0"
        ):
            sums[(channel, order_id)][(line_id, sku, location)] = Effect(on_hand, committed)
        return dict(sums)

    def stored_effects(self) -> dict[tuple[str, str], LineEffects]:
        """Every order's line effects as stored on its row (for checks)."""
        return {
            (channel, order_id): line_effects.decode(text)
            for channel, order_id, text in self.conn.execute(
                "SELECT channel, order_id, effects FROM orders WHERE effects IS NOT NULL"
            )
        }

    def known_updated_at(self, channel: str, order_ids: Sequence[str]) -> dict[str, datetime]:
        """When each of these orders was last updated, as the ledger stored it."""
        return {
            order_id: from_iso(updated_at)
            for order_id, updated_at in execute_in(
                self.conn,
                "SELECT order_id, updated_at FROM orders WHERE channel = ? "
                "AND order_id IN ({marks})",
                list(order_ids),
                leading=[channel],
            )
        }

    def save_orders(
        self,
        channel: str,
        orders: Sequence[Order],
        *,
        unmapped: set[tuple[str, str]],
        run_id: int | None,
        known: Collection[str] | None = None,
        effects: Mapping[str, LineEffects] | None = None,
    ) -> None:
        """Store each order and its lines as last seen; drop lines the channel no longer has.

        `known`, when given, names the orders the ledger already holds: only their lines are
        read back (the others are new). A line stored as it is now is not written again: a
        status change, the usual update, then touches only its order's row.

        `effects`, when given, holds the line effects `write_line_movements` changed (with
        `save_effects=False`), order id → line effects: stored on those orders' rows, in the
        same write. Every other row keeps its own.
        """
        # Set on the conflict path only: a row `write_line_movements` made before the order
        # was saved takes what the channel sent, and keeps the run that first moved it.
        upsert = (
            "ON CONFLICT (channel, order_id) DO UPDATE SET status = excluded.status, "
            "created_at = excluded.created_at, updated_at = excluded.updated_at, "
            "last_run = excluded.last_run, first_run = coalesce(orders.first_run, "
            "excluded.first_run)"
        )
        effects = effects or {}
        encode = line_effects.encode
        # Each row built once, in one pass (a big run saves 50,000 orders).
        plain: list[tuple[Any, ...]] = []
        with_effects: list[tuple[Any, ...]] = []
        for o in orders:
            created = to_iso(o.created_at)
            updated = created if o.updated_at == o.created_at else to_iso(o.updated_at)
            if o.id in effects:
                with_effects.append(
                    (channel, o.id, o.status.value, created, updated, run_id, run_id)
                    + (encode(effects[o.id]),)
                )
            else:
                plain.append((channel, o.id, o.status.value, created, updated, run_id, run_id))
        self.conn.executemany(
            "INSERT INTO orders (channel, order_id, status, created_at, updated_at, "
            f"first_run, last_run) VALUES (?, ?, ?, ?, ?, ?, ?) {upsert}",
            plain,
        )
        self.conn.executemany(
            "INSERT INTO orders (channel, order_id, status, created_at, updated_at, "
            f"first_run, last_run, effects) VALUES (?, ?, ?, ?, ?, ?, ?, ?) {upsert}, "
            "effects = excluded.effects",
            with_effects,
        )
        # Whole rows, as written below: a line is compared with what is stored as it is.
        stored: dict[tuple[str, str], tuple[Any, ...]] = {
            (row[1], row[2]): row
            for row in execute_in(
                self.conn,
                "SELECT channel, order_id, line_id, channel_sku, quantity, status, unit_price, "
                "currency, unmapped FROM order_lines WHERE channel = ? AND order_id IN ({marks})",
                [o.id for o in orders if known is None or o.id in known],
                leading=[channel],
            )
        }
        changed = []
        for o in orders:
            for line in o.lines:
                row = (
                    channel,
                    o.id,
                    line.id,
                    line.channel_sku,
                    line.quantity,
                    line.status.value if line.status else None,
                    str(line.unit_price) if line.unit_price is not None else None,
                    line.currency,
                    # Asked only when some line is unmapped: most runs have none.
                    int((o.id, line.id) in unmapped) if unmapped else 0,
                )
                if not stored or stored.pop((o.id, line.id), None) != row:
                    changed.append(row)
        # What is left in `stored` the channel no longer has on the order.
        self.conn.executemany(
            "DELETE FROM order_lines WHERE channel = ? AND order_id = ? AND line_id = ?",
            [(channel, order_id, line_id) for order_id, line_id in stored],
        )
        self.conn.executemany(
            "INSERT INTO order_lines (channel, order_id, line_id, channel_sku, quantity, status, "
            "unit_price, currency, unmapped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (channel, order_id, line_id) DO UPDATE SET "
            "channel_sku = excluded.channel_sku, quantity = excluded.quantity, "
            "status = excluded.status, unit_price = excluded.unit_price, "
            "currency = excluded.currency, unmapped = excluded.unmapped",
            changed,
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
        """These orders of a channel as last stored, with their lines; unknown ids are skipped."""
        ids = list(order_ids)
        lines: dict[str, list[OrderLine]] = defaultdict(list)
        for row in execute_in(
            self.conn,
            "SELECT order_id, line_id, channel_sku, quantity, status, unit_price, currency "
            "FROM order_lines WHERE channel = ? AND order_id IN ({marks}) "
            "ORDER BY order_id, line_id",
            ids,
            leading=[channel],
        ):
            lines[row[0]].append(_line_from_row(row[1:]))
        return [
            Order(
                id=order_id,
                status=Status(status),
                created_at=from_iso(created_at),
                updated_at=from_iso(updated_at),
                lines=tuple(lines[order_id]),
            )
            for order_id, status, created_at, updated_at in execute_in(
                self.conn,
                "SELECT order_id, status, created_at, updated_at FROM orders "
                "WHERE channel = ? AND order_id IN ({marks})",
                ids,
                leading=[channel],
            )
        ]

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


def recorded_of(effects: Mapping[str, LineEffects]) -> Recorded:
    """Line effects summed over locations: (order, line) → SKU → Effect, as reconcile reads."""
    recorded: dict[tuple[str, str], dict[str, Effect]] = defaultdict(dict)
    for order_id, lines in effects.items():
        for (line_id, sku, _), effect in lines.items():
            here = recorded[(order_id, line_id)]
            here[sku] = here[sku] + effect if sku in here else effect
    return recorded
