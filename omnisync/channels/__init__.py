"""The channel types omnisync knows, by the `type` key of a `[channels.NAME]` table."""

from __future__ import annotations

import httpx

from omnisync.channels import fake, shopify, woocommerce
from omnisync.channels.base import Channel, ChannelConfig, ChannelType, TokenStore

# An explicit dict: adding a channel type is one line here, and nothing registers itself.
CHANNEL_TYPES: dict[str, ChannelType] = {
    "fake": fake.CHANNEL_TYPE,
    "shopify": shopify.CHANNEL_TYPE,
    "woocommerce": woocommerce.CHANNEL_TYPE,
}


def open_channel(
    config: ChannelConfig,
    *,
    http: httpx.AsyncClient | None = None,
    tokens: TokenStore | None = None,
) -> Channel:
    """Build the channel a config table describes."""
    return CHANNEL_TYPES[config.type].open(config, http, tokens)


__all__ = ["CHANNEL_TYPES", "Channel", "ChannelConfig", "ChannelType", "open_channel"]
