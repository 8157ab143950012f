"""Terminal output of a big run stays short: the first rows, then how many more (--json: all)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from omnisync import render
from omnisync.report import ChannelReport, ListingChange, RunReport


def printed(report: RunReport) -> str:
    out = io.StringIO()
    render.sync_summary(Console(file=out, width=120), report, show_changes=True)
    return out.getvalue()


def test_a_backlog_run_shows_the_first_listings_and_counts_the_rest() -> None:
    report = RunReport(started_at=datetime(2026, 11, 20, tzinfo=UTC), dry_run=True)
    channel = report.channels["shop"] = ChannelReport()
    channel.changes = [
        ListingChange(f"L{n:03d}", f"SKU-{n:03d}", 5, 4, "planned") for n in range(150)
    ]
    channel.orders_applied = [f"O{n:02d}" for n in range(25)]
    text = printed(report)
    rows = [line.split()[1] for line in text.splitlines() if line.rstrip().endswith("planned")]
    assert rows == [f"L{n:03d}" for n in range(100)]
    assert "50 more listings not shown (`--json` lists every one)" in text
    assert "shop: orders to apply: O00, O01," in text
    assert "O19 and 5 more" in text and "O20" not in text


def test_a_small_run_shows_everything() -> None:
    report = RunReport(started_at=datetime(2026, 11, 20, tzinfo=UTC), dry_run=True)
    channel = report.channels["shop"] = ChannelReport()
    channel.changes = [ListingChange("L1", "SKU-1", 5, 4, "planned")]
    channel.orders_applied = ["O1", "O2"]
    text = printed(report)
    assert "not shown" not in text
    assert "shop: orders to apply: O1, O2\n" in text
