"""`omnisync check`: is the config right, can each channel be reached, does every listing map."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from omnisync.budget import Budget
from omnisync.catalog import Catalog
from omnisync.channels import CHANNEL_TYPES, Channel, ChannelContext, open_channel
from omnisync.channels.base import ChannelConfig
from omnisync.channels.tokens import StoredTokens
from omnisync.config import Config
from omnisync.errors import ChannelError
from omnisync.ledger import Ledger
from omnisync.locations import MAIN_LOCATION, channel_location_notes, unnamed_locations
from omnisync.models import Listing
from omnisync.redact import REDACTOR
from omnisync.skus import normal_sku


@dataclass(slots=True)
class ChannelCheck:
    name: str
    type: str
    reached: bool | None = None  # None when not tried (--offline, or disabled)
    messages: list[str] = field(default_factory=list)
    listings: int = 0
    unmapped: list[str] = field(default_factory=list)  # channel SKUs that map to no SKU
    # Ids of listings with no SKU at all: "not managed", listed but never a problem.
    not_managed: list[str] = field(default_factory=list)
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # SKU -> listing ids
    # False for a marketplace shop with no token from `omnisync auth` or the config: a sync
    # could not reach it. None where no token is needed, or it was not looked at.
    connected: bool | None = None

    @property
    def ok(self) -> bool:
        return (
            self.reached is not False
            and self.connected is not False
            and not self.unmapped
            and not self.duplicates
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "reached": self.reached,
            "connected": self.connected,
            "ok": self.ok,
            "messages": self.messages,
            "listings": self.listings,
            "unmapped": self.unmapped,
            "not_managed": self.not_managed,
            "duplicates": self.duplicates,
        }


@dataclass(slots=True)
class CheckReport:
    warnings: list[str]
    channels: list[ChannelCheck]
    unlisted_skus: list[str]

    @property
    def ok(self) -> bool:
        return all(channel.ok for channel in self.channels)


def examine_listings(
    check: ChannelCheck, listings: Sequence[Listing], catalog: Catalog
) -> set[str]:
    """Fill in unmapped listings and SKUs on two listings; return the SKUs this channel lists."""
    check.listings = len(listings)
    listed: dict[str, list[str]] = defaultdict(list)
    skus: set[str] = set()
    for listing in listings:
        sku = catalog.sku_of(check.name, listing.channel_sku)
        if sku is None:
            check.not_managed.append(listing.id)
            continue
        resolved = catalog.resolve(check.name, listing.channel_sku)
        if resolved is None:
            check.unmapped.append(normal_sku(listing.channel_sku))
            continue
        listed[sku].append(listing.id)
        skus.add(sku)
        skus.update(resolved)  # a bundle lists each of its components too
    check.duplicates = {sku: ids for sku, ids in sorted(listed.items()) if len(ids) > 1}
    return skus


def connected(cfg: ChannelConfig, ledger: Ledger) -> bool | None:
    """Whether a marketplace shop has a token to start from (None: its type needs none).

    A refresh token alone will do: the adapter trades it for an access token on first use.
    """
    if CHANNEL_TYPES[cfg.type].authorize is None:
        return None
    keys = ("access_token", "refresh_token")
    # Read as the adapter reads them: the ledger's, else the config's; an empty one is none.
    tokens = StoredTokens(
        cfg.name, ledger, configured={key: getattr(cfg.settings, key, None) for key in keys}
    )
    return any(tokens.get(key) for key in keys)


async def run_check(
    config: Config,
    ledger: Ledger | None,
    *,
    offline: bool,
    opener: Callable[[ChannelConfig, ChannelContext], Channel] = open_channel,
) -> CheckReport:
    """Check every configured channel; offline, judge listings from the last run's read.

    Online, channels use the ledger's tokens and may refresh them (saved in the ledger, so
    the caller holds the ledger open for writing).
    """
    known: frozenset[str] = ledger.known_skus() if ledger else frozenset()
    catalog = Catalog(
        skus=known,
        mapping=config.mapping,
        bundles=config.bundles,
    )
    checks = [ChannelCheck(cfg.name, cfg.type) for cfg in config.channels.values()]
    stocked = ledger.stock_locations() if ledger is not None else []
    warnings = [*config.warnings, *unnamed_locations(config.locations, stocked)]

    async def one(check: ChannelCheck, cfg: ChannelConfig) -> set[str]:
        if len(config.locations) > 1 or cfg.location != MAIN_LOCATION:
            # Only a shop with several locations hears about them.
            check.messages.extend(
                channel_location_notes(
                    location=cfg.location,
                    sell_from=cfg.sell_from,
                    labels=config.locations,
                    stocked=stocked,
                    last_order_location=(
                        ledger.last_order_location(cfg.name) if ledger is not None else None
                    ),
                )
            )
        if not cfg.enabled:
            check.messages.append("disabled (enabled = false)")
            return set()
        if offline:
            if ledger is None:
                return set()
            check.connected = connected(cfg, ledger)
            if check.connected is False:
                check.messages.append(f"not connected yet: run `omnisync auth {cfg.name}`")
                return set()
            stored = [
                Listing(listing_id, channel_sku, last_read or 0)
                for listing_id, channel_sku, last_read, _ in ledger.listings_of(cfg.name)
            ]
            check.messages.append(f"{len(stored)} listings as read by the last sync")
            return examine_listings(check, stored, catalog)
        context = ChannelContext(
            budget=Budget(cfg.name, cfg.timeout),
            tokens=ledger,
            skus=partial(ledger.skus_at, cfg.sell_from) if ledger is not None else None,
        )
        channel = opener(cfg, context)
        try:
            probe = await channel.probe()
            check.messages.extend(REDACTOR.scrub(m) for m in probe.messages)
            check.reached = probe.ok
            if not probe.ok:
                return set()
            return examine_listings(check, await channel.list_listings(), catalog)
        except ChannelError as exc:
            check.reached = False
            check.messages.append(REDACTOR.scrub(exc.message))
            return set()
        finally:
            await channel.aclose()

    listed_sets = await asyncio.gather(
        *(one(check, cfg) for check, cfg in zip(checks, config.channels.values(), strict=True))
    )
    listed = set().union(*listed_sets) if listed_sets else set()
    looked = any(check.listings for check in checks)
    unlisted = sorted(known - listed) if looked else []
    return CheckReport(warnings=warnings, channels=checks, unlisted_skus=unlisted)
