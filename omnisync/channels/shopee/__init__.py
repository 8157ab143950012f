"""Shopee Open Platform v2: the channel type `shopee` (adapter, OAuth, signing, mapping)."""

from __future__ import annotations

from omnisync.channels.shopee.channel import CHANNEL_TYPE, ShopeeChannel
from omnisync.channels.shopee.settings import ShopeeSettings

__all__ = ["CHANNEL_TYPE", "ShopeeChannel", "ShopeeSettings"]
