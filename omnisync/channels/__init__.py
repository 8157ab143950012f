"""The channel types omnisync knows, by the `type` key of a `[channels.NAME]` table."""

from __future__ import annotations

from omnisync.channels import csvfile, fake, lazada, shopee, shopify, tiktok, woocommerce
from omnisync.channels.base import Channel, ChannelConfig, ChannelContext, ChannelType

# An explicit dict: adding a channel type is one line here, and nothing registers itself.
CHANNEL_TYPES: dict[str, ChannelType] = {
    "csv": csvfile.CHANNEL_TYPE,
    "fake": fake.CHANNEL_TYPE,
    "lazada": lazada.CHANNEL_TYPE,
    "shopee": shopee.CHANNEL_TYPE,
    "shopify": shopify.CHANNEL_TYPE,
    "tiktok": tiktok.CHANNEL_TYPE,
    "woocommerce": woocommerce.CHANNEL_TYPE,
}


def open_channel(config: ChannelConfig, context: ChannelContext) -> Channel:
    """Build the channel a config table describes."""
    return CHANNEL_TYPES[config.type].open(config, context)


__all__ = [
    "CHANNEL_TYPES",
    "Channel",
    "ChannelConfig",
    "ChannelContext",
    "ChannelType",
    "open_channel",
]
