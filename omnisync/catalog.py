"""The one way a channel SKU becomes ledger SKUs: `[mapping]` first, then `[bundles]`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from omnisync.skus import normal_sku

_NO_MAPPING: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class Catalog:
    """What turns a channel SKU into ledger SKUs: known SKUs, `[mapping]` and `[bundles]`.

    Order lines (reconcile), listing targets (planning), `check` and the stock table all ask
    it, so a listing maps to the same thing wherever it is looked at.
    """

    # Not part of a plan key (see `omnisync.planning.plan_keys`): a listing is settled only if
    # it resolves now and did when planned, and then resolves to the same SKUs whatever SKUs
    # were added since. Leaving 100,000 SKUs out keeps the key cheap.
    skus: frozenset[str] = field(metadata={"plan_key": False})
    mapping: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    bundles: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def sku_of(self, channel: str, channel_sku: str) -> str | None:
        """The SKU (or bundle) a channel SKU names: its `[mapping.CHANNEL]` entry, else itself.

        None for a listing with no SKU at all. Whether that SKU exists is `resolve`'s question.
        """
        # Compared in the one spelling SKUs have (NFC, trimmed), never case-folded.
        channel_sku = normal_sku(channel_sku)
        if not channel_sku:
            return None
        return self.mapping.get(channel, _NO_MAPPING).get(channel_sku, channel_sku)

    def resolve(self, channel: str, channel_sku: str) -> dict[str, int] | None:
        """The SKUs and unit counts one unit of `channel_sku` stands for; None if unmapped.

        A bundle maps only once every component is a known SKU: half a bundle is never sold.
        """
        sku = self.sku_of(channel, channel_sku)
        if sku is None:
            return None
        components = self.bundles.get(sku)
        if components is not None:
            if all(component in self.skus for component in components):
                return dict(components)
            return None
        return {sku: 1} if sku in self.skus else None
