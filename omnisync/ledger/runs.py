"""The record of sync runs: one row each, its report stored when it finishes."""

from __future__ import annotations

from datetime import datetime

from omnisync.ledger.connection import LedgerBase
from omnisync.timeparse import to_iso


class RunStore(LedgerBase):
    """Starting and finishing runs; `LedgerViews.runs` reads them back."""

    def start_run(self, *, started_at: datetime, dry_run: bool) -> int:
        """Record a run as started and return its id (movements and orders carry it)."""
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
