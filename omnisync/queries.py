"""Questions about stock that need both the ledger and the config, asked by the CLI and demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnisync.catalog import Catalog

if TYPE_CHECKING:  # types only: the CLI imports this module at start-up
    from omnisync.config import Config
    from omnisync.ledger import Ledger


def shown_by_sku(ledger: Ledger, config: Config | None) -> dict[str, dict[str, int]]:
    """Per SKU (a bundle under its own SKU), what each channel's listing of it shows, as far
    as the ledger knows: what omnisync last pushed there, or what it read since."""
    catalog = Catalog(
        skus=ledger.known_skus(),
        mapping=config.mapping if config else {},
        bundles=config.bundles if config else {},
    )
    shown: dict[str, dict[str, int]] = {}
    for channel, channel_sku, quantity in ledger.listings_shown():
        sku = catalog.sku_of(channel, channel_sku)
        if sku is not None:
            shown.setdefault(sku, {})[channel] = quantity
    return shown
