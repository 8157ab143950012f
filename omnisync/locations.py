"""The places stock is kept: the one every shop starts with, and what a location name may be."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

# Every movement made before a shop named its locations lies here, and every SKU starts here.
MAIN_LOCATION = "main"
# Names are stored in the ledger and typed after --location: plain words only.
LOCATION_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def channel_location_notes(
    *,
    location: str,
    sell_from: tuple[str, ...],
    labels: Mapping[str, str],
    stocked: Collection[str],
    last_order_location: str | None,
) -> list[str]:
    """What `check` says about where a channel takes and offers stock, and what a change of
    its `location` since its last orders will do (nothing recorded is ever rewritten)."""

    def named(place: str) -> str:
        label = labels.get(place, "")
        return f"{place} ({label})" if label and label != place else place

    notes = [
        f"orders take stock from {named(location)}; offers what is available at "
        + " + ".join(named(place) for place in sell_from)
    ]
    empty = [place for place in dict.fromkeys((location, *sell_from)) if place not in stocked]
    if empty:
        notes.append(
            f"no stock recorded yet at {', '.join(empty)}: `omnisync stock set|add|move "
            f"--location` puts some there"
        )
    if last_order_location is not None and last_order_location != location:
        notes.append(
            f"location changed: its orders took stock from {last_order_location} until now "
            f"and take it from {location} from the next sync; what they already did stays at "
            f"{last_order_location}, and units still committed to an open order move to "
            f"{location} when that order next changes"
        )
    return notes


def unnamed_locations(labels: Mapping[str, str], stocked: Collection[str]) -> list[str]:
    """Warnings for locations the ledger holds stock at that `[locations]` does not name."""
    return [
        f"the ledger holds stock at location {place!r}, which [locations] does not name: no "
        f'channel offers it and `stock` commands cannot name it; add `{place} = "..."` '
        f"under [locations]"
        for place in sorted(stocked)
        if place not in labels
    ]
