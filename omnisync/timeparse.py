"""Times and durations as users type them: ISO 8601, or relative like `2h` and `7d`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """`90s`, `10m`, `2h`, `7d`, `1w` → timedelta. Raises ValueError with what is expected."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration like 30s, 10m, 2h or 7d, got {text!r}")
    amount, unit = match.groups()
    try:
        return timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        raise ValueError(f"{text!r} is longer than a duration can be") from None


def parse_when(text: str, *, now: datetime) -> datetime:
    """A relative duration back from `now`, or an ISO 8601 date/time (UTC when no offset)."""
    try:
        duration = parse_duration(text)
    except ValueError:
        pass
    else:
        try:
            return now - duration
        except OverflowError:
            raise ValueError(f"{text!r} reaches back before the year 1") from None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 time (2026-11-20 or 2026-11-20T09:00:00Z) "
            f"or a relative one (2h, 7d), got {text!r}"
        ) from None
    return as_utc(parsed)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive time is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_iso(moment: datetime) -> str:
    """The ledger's text form: UTC with microseconds and `Z`, so text order is time order."""
    if moment.tzinfo is not UTC:  # most times are UTC already: a big run writes 100,000
        moment = as_utc(moment)
    # A UTC time's isoformat ends in +00:00, always.
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def from_iso(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


def utcnow() -> datetime:
    return datetime.now(UTC)
