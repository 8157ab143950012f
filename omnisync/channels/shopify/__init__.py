"""Shopify (Admin GraphQL API): `channel` the adapter, `orders` the search, `queries` GraphQL."""

from __future__ import annotations

from omnisync.channels.shopify.auth import DEFAULT_API_VERSION, ShopifySettings
from omnisync.channels.shopify.channel import CHANNEL_TYPE, ShopifyChannel
from omnisync.channels.shopify.queries import LISTING_PAGE, MAX_PAGE, ORDER_PAGE

__all__ = [
    "CHANNEL_TYPE",
    "DEFAULT_API_VERSION",
    "LISTING_PAGE",
    "MAX_PAGE",
    "ORDER_PAGE",
    "ShopifyChannel",
    "ShopifySettings",
]
