"""Orders a channel sent that could not be read: kept until a readable version comes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from omnisync.ledger.connection import LedgerBase, execute_in


@dataclass(frozen=True, slots=True)
class UnreadableOrder:
    """One order the channel sent that omnisync could not read, and where it went wrong."""

    channel: str
    order_id: str
    field: str  # path into the payload: orders[3].line_items[0].quantity
    value: str  # what came there, as JSON text
    message: str
    first_run: int | None
    last_run: int | None


class ProblemStore(LedgerBase):
    """`unreadable_orders`: written by a sync's apply step, read back for its report."""

    def save_unreadable(
        self, channel: str, orders: Iterable[tuple[str, str, str, str]], *, run_id: int
    ) -> None:
        """Keep each (order id, field, value, message) as unreadable, newest reading wins."""
        self.conn.executemany(
            "INSERT INTO unreadable_orders "
            "(channel, order_id, field, value, message, first_run, last_run) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (channel, order_id) DO UPDATE SET field = excluded.field, "
            "value = excluded.value, message = excluded.message, last_run = excluded.last_run",
            [
                (channel, order_id, field, value, message, run_id, run_id)
                for order_id, field, value, message in orders
            ],
        )

    def clear_unreadable(self, channel: str, order_ids: Iterable[str]) -> None:
        """Forget the orders of `order_ids` that were unreadable: a readable version came."""
        held = self.conn.execute(
            "SELECT 1 FROM unreadable_orders WHERE channel = ? LIMIT 1", (channel,)
        ).fetchone()
        if held is None:  # the usual case: nothing to forget, and 50,000 ids not to look up
            return
        ids = sorted(set(order_ids))
        if not ids:
            return
        stored = {
            row[0]
            for row in execute_in(
                self.conn,
                "SELECT order_id FROM unreadable_orders "
                "WHERE channel = ? AND order_id IN ({marks})",
                ids,
                leading=(channel,),
            )
        }
        self.conn.executemany(
            "DELETE FROM unreadable_orders WHERE channel = ? AND order_id = ?",
            [(channel, order_id) for order_id in sorted(stored)],
        )

    def unreadable_orders(self, channel: str | None = None) -> list[UnreadableOrder]:
        """The unreadable orders of one channel (or of all), oldest first."""
        sql = (
            "SELECT channel, order_id, field, value, message, first_run, last_run "
            "FROM unreadable_orders"
        )
        params: tuple[str, ...] = ()
        if channel is not None:
            sql += " WHERE channel = ?"
            params = (channel,)
        rows = self.conn.execute(sql + " ORDER BY channel, first_run, order_id", params)
        return [UnreadableOrder(*row) for row in rows]
