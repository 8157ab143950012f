"""WooCommerce (REST API v3): `channel` the adapter, `mapping` orders and stock, `payloads`."""

from __future__ import annotations

from omnisync.channels.woocommerce.channel import (
    BATCH,
    CHANNEL_TYPE,
    WooCommerceChannel,
    WooCommerceSettings,
)
from omnisync.channels.woocommerce.transport import PAGE

__all__ = ["BATCH", "CHANNEL_TYPE", "PAGE", "WooCommerceChannel", "WooCommerceSettings"]
