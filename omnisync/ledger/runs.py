"""The record of sync runs: one row each, its report stored when it finishes."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import datetime

from omnisync.ledger.connection import LedgerBase, execute_in
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

    def skus_sold_down(self, skus: AbstractSet[str]) -> set[str]:
        """Those of `skus` that orders took stock from since each was last counted or adjusted:
        what explains a listing selling out (a count to 0 explains nothing; it may be wrong)."""
        keys = sorted(skus)
        counted = dict(
            execute_in(
                self.conn,
                "SELECT sku, max(id) FROM movements "
                "WHERE sku IN ({marks}) AND kind != 'order' GROUP BY sku",
                keys,
            )
        )
        taken: dict[str, int] = {}
        # Walked in Python: one index range per SKU, where SQL would re-find the last count
        # for every order row.
        for sku, movement_id, units in execute_in(
            self.conn,
            "SELECT sku, id, committed - on_hand FROM movements "
            "WHERE sku IN ({marks}) AND kind = 'order'",
            keys,
        ):
            if movement_id > counted.get(sku, 0):
                taken[sku] = taken.get(sku, 0) + units
        return {sku for sku, units in taken.items() if units > 0}

    def finish_run(
        self, run_id: int, *, finished_at: datetime, exit_code: int, report: str
    ) -> None:
        self.conn.execute(
            "UPDATE runs SET finished_at = ?, exit_code = ?, report = ? WHERE run_id = ?",
            (to_iso(finished_at), exit_code, report, run_id),
        )
