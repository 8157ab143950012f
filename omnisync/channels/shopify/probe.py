"""`omnisync check` on Shopify: the credentials, the location, the scopes, the API version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnisync.channels.shopify import queries as q
from omnisync.channels.shopify.auth import granted, missing_scopes, scopes_message
from omnisync.channels.shopify.payloads import ProbeData, ProbeLocationData
from omnisync.errors import ChannelError
from omnisync.models import ChannelProbe

if TYPE_CHECKING:
    from omnisync.channels.shopify.channel import ShopifyChannel


async def probe(channel: ShopifyChannel) -> ChannelProbe:
    """Reach the shop and say what works; every missing scope is named, none raises."""
    name, settings = channel.name, channel.settings
    messages: list[str] = []
    try:
        # The installation's scopes need no scope of their own: read them first, so a
        # missing read_locations is named instead of failing the location query.
        data = await channel._graphql(
            q.PROBE_QUERY, {}, ProbeData, cost=q.PROBE_COST, context="checking access"
        )
        installation = data.currentAppInstallation
        scopes = {s.handle for s in installation.accessScopes} if installation else set()
        shop = data.shop.name if data.shop else "?"
        kind = "app credentials" if channel.token.granted else "token"
        messages.append(f"{kind} accepted by {settings.store} ({shop}), API {settings.api_version}")
        ok = True
        key = "locations" if channel.several else "location"
        for location in channel.locations if "read_locations" in granted(scopes) else ():
            where = await channel._graphql(
                q.PROBE_LOCATION_QUERY,
                {"location": location},
                ProbeLocationData,
                cost=q.PROBE_COST,
                context="checking the location",
            )
            if where.location is None:
                ok = False
                messages.append(
                    f"location {location} not found: check [channels.{name}] {key} "
                    f"(Shopify admin → Settings → Locations; the number at the end of its URL)"
                )
            else:
                active = "" if where.location.isActive else " (inactive)"
                mapped = settings.ledger_locations().get(location)
                to = f" → ledger location {mapped}" if mapped else ""
                messages.append(f"location {where.location.name}{active}{to}")
    except ChannelError as exc:
        return ChannelProbe(ok=False, messages=(*messages, exc.message))
    missing = missing_scopes(scopes)
    if missing:
        ok = False
        messages.append(scopes_message(name, missing))
    if "read_all_orders" not in scopes:
        messages.append(
            "without the read_all_orders scope Shopify shows only the last 60 days of "
            "orders: a longer --since or outage would miss older updates"
        )
    if channel.served_version and channel.served_version != settings.api_version:
        messages.append(channel.version_warning())
    return ChannelProbe(ok=ok, messages=tuple(messages))
