"""The run report: what one sync did per channel, and the problems that need a person."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from omnisync.errors import ExitCode
from omnisync.timeparse import to_iso

ChannelStatus = Literal["ok", "failed", "skipped"]


@dataclass(slots=True)
class ListingChange:
    """One listing's quantity before → after, and what became of the write."""

    listing_id: str
    channel_sku: str
    before: int
    after: int
    outcome: str = "planned"  # planned | written | conflict | failed | refused
    detail: str = ""


@dataclass(slots=True)
class ChannelReport:
    status: ChannelStatus = "ok"
    orders_fetched: int = 0
    movements: int = 0
    listings_pushed: int = 0
    listings_unchanged: int = 0
    listings_conflict: int = 0  # ended the run unwritten because the channel moved
    conflicts_seen: int = 0  # writes refused because a sale landed between read and write
    listings_failed: int = 0
    listings_unmapped: int = 0
    # Listings without any SKU: never written, counted here, never a reason for exit 1.
    listings_not_managed: int = 0
    errors: list[str] = field(default_factory=list)
    # Worth a look but nothing lost (a channel's clock ahead of ours): shown, exit code kept.
    warnings: list[str] = field(default_factory=list)
    changes: list[ListingChange] = field(default_factory=list)
    orders_applied: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies, slow on a run that changed 10,000 listings.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["errors"] = list(self.errors)
        data["warnings"] = list(self.warnings)
        data["orders_applied"] = list(self.orders_applied)
        data["changes"] = [
            {
                "listing_id": c.listing_id,
                "channel_sku": c.channel_sku,
                "before": c.before,
                "after": c.after,
                "outcome": c.outcome,
                "detail": c.detail,
            }
            for c in self.changes
        ]
        return data


@dataclass(slots=True)
class Oversold:
    sku: str
    available: int
    orders: list[str]


@dataclass(slots=True)
class Unmapped:
    channel: str
    channel_sku: str
    orders: list[str]
    listings: list[str] = field(default_factory=list)  # ids of listings with this channel SKU


@dataclass(slots=True)
class RunReport:
    started_at: datetime
    dry_run: bool
    run_id: int | None = None
    finished_at: datetime | None = None
    channels: dict[str, ChannelReport] = field(default_factory=dict)
    oversold: list[Oversold] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    # Seconds per phase: fetch, reconcile (wall and CPU, planning included), push.
    timings: dict[str, float] = field(default_factory=dict)
    # (channel, channel SKU) -> ids of listings that map to no SKU; shown through `unmapped`.
    unmapped_listings: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        """1 when anything needs a person: a failed channel or push, oversold, unmapped."""
        needs_attention = (
            self.oversold
            or self.unmapped
            or any(
                c.status == "failed" or c.errors or c.listings_failed
                for c in self.channels.values()
                if c.status != "skipped"  # disabled on purpose: nothing to look at
            )
        )
        return ExitCode.NEEDS_ATTENTION if needs_attention else ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": to_iso(self.started_at),
            "finished_at": to_iso(self.finished_at) if self.finished_at else None,
            "dry_run": self.dry_run,
            "exit_code": int(self.exit_code),
            "channels": {name: report.to_dict() for name, report in self.channels.items()},
            "oversold": [asdict(item) for item in self.oversold],
            "unmapped": [asdict(item) for item in self.unmapped],
            "timings": {key: round(value, 4) for key, value in self.timings.items()},
        }
