"""`omnisync report`: per channel and per SKU performance, computed from the ledger alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from omnisync.analytics.figures import Report, compute
from omnisync.gcpause import young_collections_only
from omnisync.ledger import Ledger
from omnisync.ledger.analytics import report_rows

__all__ = ["Report", "build_report"]


def build_report(
    ledger: Ledger,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    timezone: ZoneInfo,
    reorder_days: int,
    channels: Sequence[str] = (),
) -> Report:
    """Read the window [since, until) and the one of equal length before it; compute."""
    previous = since - (until - since)
    with young_collections_only():  # a window of a million order lines is as many objects
        rows = report_rows(
            ledger,
            previous=previous,
            since=since,
            until=until,
            channels=channels,
            minutes=not _whole_hours(timezone, (previous, since, until)),
        )
        return compute(
            rows,
            since=since,
            until=until,
            now=now,
            timezone=timezone,
            reorder_days=reorder_days,
            channels=channels,
        )


def _whole_hours(timezone: ZoneInfo, moments: Sequence[datetime]) -> bool:
    """Whether UTC hours fall whole into the seller's days (not so in India or Nepal)."""
    return all(
        (moment.astimezone(timezone).utcoffset() or timedelta(0)) % timedelta(hours=1)
        == timedelta(0)
        for moment in moments
    )
