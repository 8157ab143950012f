"""Each channel listing as last read, last pushed and last planned."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from omnisync.ledger.connection import LedgerBase
from omnisync.models import Listing, PushResult, QuantityChange
from omnisync.timeparse import to_iso


class ListingStore(LedgerBase):
    """The `listings` table: `shown` is the later of what was read and what was written."""

    def save_listings_read(
        self, channel: str, listings: Sequence[Listing], *, now: datetime
    ) -> dict[str, int | None]:
        """Record what a channel's listings showed; only rows that changed are written, as a
        big shop reads the same 100,000 quantities run after run.

        Returns the target last planned for each listing (None where there is none, or its
        channel SKU changed since): read here, in the same pass, for the planner.
        """
        # One fetch, then two dicts built in C: on 100,000 listings this is half the cost of
        # filling them row by row in Python.
        stored_rows = self.conn.execute(
            "SELECT listing_id, channel_sku, shown, target FROM listings WHERE channel = ?",
            (channel,),
        ).fetchall()
        stored = {row[0]: row for row in stored_rows}
        targets: dict[str, int | None] = {row[0]: row[3] for row in stored_rows}
        rows = []
        for item in listings:
            known = stored.get(item.id)
            if known is None or known[1] != item.channel_sku:
                # The target was planned for the SKU the listing mapped to then: a listing now
                # under another channel SKU has none until it is planned again. The one place
                # a target is dropped; the row below stores what is decided here.
                targets[item.id] = None
            elif known[2] == item.quantity:
                continue
            row = (channel, item.id, item.channel_sku, item.quantity, item.quantity)
            rows.append((*row, targets[item.id]))
        self.conn.executemany(
            "INSERT INTO listings (channel, listing_id, channel_sku, last_read, shown, target) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, listing_id) DO UPDATE SET "
            "channel_sku = excluded.channel_sku, last_read = excluded.last_read, "
            "shown = excluded.shown, target = excluded.target",
            rows,
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
        """Record what a push did: a written quantity is shown now; a conflict tells what is."""
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
        """Store the target planned for each listing (None: it maps nowhere)."""
        self.conn.executemany(
            "UPDATE listings SET target = ? WHERE channel = ? AND listing_id = ?",
            [(target, channel, listing_id) for listing_id, target in targets],
        )

    def listings_shown(self) -> list[tuple[str, str, int]]:
        """(channel, channel SKU, quantity) each listing shows as far as the ledger knows:
        what omnisync last pushed, or what it read since (already right, or moved)."""
        return list(
            self.conn.execute(
                "SELECT channel, channel_sku, shown FROM listings WHERE shown IS NOT NULL "
                "ORDER BY channel, channel_sku"
            )
        )

    def listings_of(self, channel: str) -> list[tuple[str, str, int | None, int | None]]:
        """(listing id, channel SKU, last read, last pushed) of a channel's listings."""
        return list(
            self.conn.execute(
                "SELECT listing_id, channel_sku, last_read, last_pushed FROM listings "
                "WHERE channel = ? ORDER BY listing_id",
                (channel,),
            )
        )
