"""The one way a channel SKU becomes ledger SKUs: `[mapping]` first, then `[bundles]`."""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from omnisync.skus import normal_sku

if TYPE_CHECKING:  # types only: the CLI imports this module at start-up
    from omnisync.config import Config
    from omnisync.ledger import Ledger

_NO_MAPPING: Mapping[str, str] = {}
# Order lines past which `expect` has the ledger read every SKU at once: as many SKUs looked up
# together cost more than that read (`KnownSkus._BATCH_LOOKUPS`, the same figure).
_MANY_LOOKUPS = 30_000


@runtime_checkable
class SkusReadAsAsked(Protocol):
    """A SKU list read from the ledger as asked (`omnisync.ledger.stock.KnownSkus`), told
    ahead which SKUs are coming so it can look them up together."""

    def __contains__(self, sku: object) -> bool: ...
    def expect_skus(self, skus: Iterable[str]) -> None: ...
    def read_all(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Catalog:
    """What turns a channel SKU into ledger SKUs: known SKUs, `[mapping]` and `[bundles]`.

    Order lines (reconcile), listing targets (planning), `check` and the stock table all ask
    it, so a listing maps to the same thing wherever it is looked at.
    """

    # Not part of a plan key (see `omnisync.planning.plan_keys`): a listing is settled only if
    # it resolves now and did when planned, and then resolves to the same SKUs whatever SKUs
    # were added since. Leaving 100,000 SKUs out keeps the key cheap.
    # Only asked `sku in skus`: a frozenset, or the ledger's lazy `KnownSkus`, which spares a
    # run that touches a few SKUs reading all 100,000 of them.
    skus: Container[str] = field(metadata={"plan_key": False})
    mapping: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    bundles: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # What `resolve` answered, per (channel, channel SKU): a run asks the same listing's SKU
    # for its order lines, the SKUs its plan reads and the plan itself. Channels without a
    # `[mapping.CHANNEL]` resolve alike and share their answers under None (four channels
    # selling the same SKUs resolve each once, not four times). Not part of a key.
    _resolved: dict[tuple[str | None, str], dict[str, int] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, metadata={"plan_key": False}
    )

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
        The answer is shared between calls: read it, never change it.
        """
        key = (channel if channel in self.mapping else None, channel_sku)
        try:
            return self._resolved[key]
        except KeyError:
            resolved = self._resolved[key] = self._resolve(channel, channel_sku)
            return resolved

    def _resolve(self, channel: str, channel_sku: str) -> dict[str, int] | None:
        return self._resolve_name(self.sku_of(channel, channel_sku))

    def _resolve_name(self, sku: str | None) -> dict[str, int] | None:
        """`resolve` for the name a channel SKU maps to (`sku_of`)."""
        if sku is None:
            return None
        components = self.bundles.get(sku)
        if components is not None:
            if all(component in self.skus for component in components):
                return dict(components)
            return None
        return {sku: 1} if sku in self.skus else None

    def expect(self, channel: str, channel_skus: Collection[str]) -> None:
        """These channel SKUs of `channel` are about to be resolved (a run's order lines): with
        the ledger's `KnownSkus` the SKUs behind them are looked up together, a few statements
        for 12,000 of them instead of one each, or every SKU read at once for very many."""
        known = self.skus
        if not isinstance(known, SkusReadAsAsked):  # a frozenset: every SKU is in already
            return
        if len(channel_skus) >= _MANY_LOOKUPS:
            # So many that every SKU will be read: their names are not worked out twice.
            known.read_all()
            return
        key = channel if channel in self.mapping else None
        named = {
            channel_sku: self.sku_of(channel, channel_sku)
            for channel_sku in set(channel_skus)
            if (key, channel_sku) not in self._resolved
        }
        wanted: set[str] = set()
        for sku in named.values():
            if sku is not None:
                wanted.update(self.bundles.get(sku) or (sku,))
        known.expect_skus(wanted)
        # Resolved here, from the names just worked out: `resolve` then only reads them back.
        for channel_sku, sku in named.items():
            self._resolved[(key, channel_sku)] = self._resolve_name(sku)

    def channel_skus_behind(self, channel: str, skus: Iterable[str]) -> set[str]:
        """Every channel SKU of `channel` (in its one spelling) whose listing stands for one of
        `skus`: the reverse of `resolve`, which spares resolving 100,000 listings to learn
        which of them the SKUs a run moved are behind. Whether those SKUs exist is not asked:
        a listing that maps nowhere has no plan to keep.
        """
        moved = set(skus)
        names = moved
        if self.bundles:
            # resolve() reads the name a channel SKU maps to as a bundle first, else as a SKU.
            names = {sku for sku in moved if sku not in self.bundles}
            names.update(
                bundle
                for bundle, components in self.bundles.items()
                if not moved.isdisjoint(components)
            )
        mapping = self.mapping.get(channel, _NO_MAPPING)
        if not mapping:
            # Every channel SKU stands for itself: no set of 10,000 names rebuilt per channel.
            return names
        # A mapped channel SKU stands for its entry's value, any other for itself.
        behind = {name for name in names if name not in mapping}
        behind.update(channel_sku for channel_sku, sku in mapping.items() if sku in names)
        return behind


def catalog_of(ledger: Ledger, config: Config) -> Catalog:
    """The catalog as it stands now: the ledger's SKUs (looked up as asked), the config's
    mapping and bundles."""
    return Catalog(skus=ledger.sku_lookup(), mapping=config.mapping, bundles=config.bundles)
