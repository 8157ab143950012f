"""Each channel's state in the ledger: start time, cursor, last outcome, tokens, plan marks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omnisync.ledger.connection import LedgerBase
from omnisync.timeparse import from_iso, to_iso


@dataclass(frozen=True, slots=True)
class ChannelState:
    """What the ledger holds about one channel between runs."""

    channel: str
    type: str
    start_time: datetime | None
    cursor: datetime | None
    last_run: int | None
    last_status: str | None
    last_error: str | None


_STATE_QUERY = (
    "SELECT channel, type, start_time, cursor, last_run, last_status, last_error FROM channel_state"
)


def _state(row: Sequence[Any]) -> ChannelState:
    return ChannelState(
        channel=row[0],
        type=row[1],
        start_time=from_iso(row[2]) if row[2] else None,
        cursor=from_iso(row[3]) if row[3] else None,
        last_run=row[4],
        last_status=row[5],
        last_error=row[6],
    )


class ChannelStore(LedgerBase):
    """One `channel_state` row per channel, written with the data of the run it describes."""

    def channel_state(self, channel: str) -> ChannelState | None:
        """The channel's state, or None before its first sync."""
        row = self.conn.execute(_STATE_QUERY + " WHERE channel = ?", (channel,)).fetchone()
        return None if row is None else _state(row)

    def channel_states(self) -> list[ChannelState]:
        return [_state(row) for row in self.conn.execute(_STATE_QUERY + " ORDER BY channel")]

    def ensure_channel(self, channel: str, type_: str, *, start_time: datetime) -> None:
        """Record a channel the first time it syncs; its start time is set then, once."""
        self.conn.execute(
            "INSERT INTO channel_state (channel, type, start_time) VALUES (?, ?, ?) "
            "ON CONFLICT (channel) DO UPDATE SET type = excluded.type, "
            "start_time = coalesce(channel_state.start_time, excluded.start_time)",
            (channel, type_, to_iso(start_time)),
        )

    def reset_start_time(self, channel: str, type_: str, *, start_time: datetime) -> None:
        """Correct a channel's start time; its cursor goes with it, so the next run re-reads
        orders from `start_time`. Nothing recorded is rewritten: re-reading is idempotent."""
        self.conn.execute(
            "INSERT INTO channel_state (channel, type, start_time) VALUES (?, ?, ?) "
            "ON CONFLICT (channel) DO UPDATE SET start_time = excluded.start_time, "
            "cursor = NULL, plan_key = NULL",
            (channel, type_, to_iso(start_time)),
        )

    def first_order_created(self, channel: str) -> datetime | None:
        """When the oldest order applied on the channel was created (None: no order yet)."""
        row = self.conn.execute(
            "SELECT min(created_at) FROM orders WHERE channel = ?", (channel,)
        ).fetchone()
        return from_iso(row[0]) if row and row[0] else None

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
        """The tokens last saved for a channel (empty when none)."""
        row = self.conn.execute(
            "SELECT tokens FROM channel_state WHERE channel = ?", (channel,)
        ).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def save_tokens(self, channel: str, tokens: dict[str, str]) -> None:
        """Store rotated tokens at once, in their own transaction: a single-use refresh token
        that is lost locks the shop out."""
        if self.in_transaction:
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
