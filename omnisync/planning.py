"""What each listing is pushed: the target rule, the allocation rules and the max_change brake.

No I/O here: the engine hands in the ledger's `available` and what the channel shows. A listing
that maps to SKUs (see `omnisync.catalog`) is pushed a target worked out in this order:

1. units: its SKU's available, summed over the channel's `sell_from` locations; a bundle's is
   the minimum over its components of floor(component available ÷ count).
2. share and buffer: `floor(units × share) − buffer`, with the channel's `share` and `buffer`,
   each replaced by the SKU's own where `[skus."SKU"]` sets it (for a bundle listing, the
   bundle's own entry).
3. last units to one channel: while units is below `[sync] last_units`, every channel but
   `[sync] priority` is pushed 0, so the last pieces cannot sell twice (the config requires a
   priority channel with last_units; a rule without one offers them nowhere). Units, not the
   shared-out figure, decide: a bundle by its own units.
4. max: never more than the channel's `max`.
5. never below 0: an oversold SKU (units < 0) is pushed 0 everywhere.

For example, 10 available, share 0.5, buffer 1, max 3: floor(10 × 0.5) − 1 = 4, capped to 3.
Only listings that show something else than their target are written, and a push that would set
more than `max_change` of a channel's mapped listings to 0 is refused whole unless forced; a
listing sold out by this run's orders (its SKU, or a bundle's component) does not count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, fields, is_dataclass
from fractions import Fraction

from omnisync import __version__
from omnisync.catalog import Catalog
from omnisync.channels.base import ChannelConfig
from omnisync.config import Config, SkuOverride
from omnisync.models import Listing, QuantityChange
from omnisync.skus import normal_sku


def sellable(resolved: Mapping[str, int], available: Mapping[str, int]) -> int:
    """Units of a listing that can be sold: a bundle is limited by its scarcest component."""
    return min(available.get(sku, 0) // count for sku, count in resolved.items())


@dataclass(frozen=True, slots=True)
class TargetRule:
    """Everything a listing's target on one channel depends on besides stock.

    The engine settles a listing without arithmetic while this rule is unchanged since its
    target was planned (see `plan_keys`, which hashes every field): a new input of the rule is
    a new field here, and cannot be left out of that comparison.
    """

    channel: str
    catalog: Catalog
    share: Fraction = Fraction(1)
    buffer: int = 0
    max: int | None = None
    overrides: Mapping[str, SkuOverride] = field(default_factory=dict)
    last_units: int = 0
    priority: str | None = None
    # The locations whose available stock this channel offers (config `sell_from`): the
    # `available` handed to `target` is summed over them (`Ledger.available(sell_from)`).
    sell_from: tuple[str, ...] = ("main",)
    # For a channel whose own locations map to ledger ones (Shopify `locations`): a listing
    # at one of them is offered that ledger location's available alone (`available_at`).
    places: Mapping[str, str] = field(default_factory=dict)
    version: str = __version__  # a new omnisync may compute targets differently

    @classmethod
    def for_channel(cls, channel: ChannelConfig, config: Config, catalog: Catalog) -> TargetRule:
        return cls(
            channel=channel.name,
            catalog=catalog,
            share=channel.share,
            buffer=channel.buffer,
            max=channel.max,
            overrides=config.skus,
            last_units=config.last_units,
            priority=config.priority,
            sell_from=channel.sell_from,
            places=channel.places,
        )

    def target(
        self, channel_sku: str, resolved: Mapping[str, int], available: Mapping[str, int]
    ) -> int:
        """What a listing of `channel_sku` (standing for `resolved`) should show."""
        if len(resolved) == 1:
            # The common case, a plain SKU, without the generator `sellable` needs for bundles.
            ((sku, count),) = resolved.items()
            units = available.get(sku, 0) // count
        else:
            units = sellable(resolved, available)
        if units < self.last_units and self.channel != self.priority:
            return 0  # rule 3 decides alone, so it is asked first
        share, buffer = self.share, self.buffer
        if self.overrides:
            override = self.overrides.get(self.catalog.sku_of(self.channel, channel_sku) or "")
            if override is not None:
                share = share if override.share is None else override.share
                buffer = buffer if override.buffer is None else override.buffer
        # Integer floor division is exact and, over 100,000 listings, far cheaper than Fraction.
        target = units * share.numerator // share.denominator - buffer
        if self.max is not None and target > self.max:
            target = self.max
        return max(0, target)


def plan_keys(rules: Iterable[TargetRule]) -> list[str]:
    """One key per rule that changes whenever any of its fields does (a digest of them all).

    Fields are read one by one, so a field added to the rule is in the key without anyone
    remembering to add it; one that must stay out says so in its metadata (`plan_key`: False)
    with the reason. Keys are computed together so that what the rules share (the catalog's
    mapping and bundles) is written out once.
    """
    memo: dict[int, str] = {}
    return [hashlib.sha256(_canonical(rule, memo).encode()).hexdigest() for rule in rules]


def _canonical(value: object, memo: dict[int, str]) -> str:
    """A text that differs whenever `value` does: field by field, mappings sorted by key."""
    if is_dataclass(value) and not isinstance(value, type):
        known = memo.get(id(value))
        if known is None:
            parts = (
                f"{f.name}={_canonical(getattr(value, f.name), memo)}"
                for f in fields(value)
                if f.metadata.get("plan_key", True)  # a field opts out only by saying so
            )
            known = memo[id(value)] = f"{type(value).__name__}({', '.join(parts)})"
        return known
    if isinstance(value, Mapping):
        items = sorted(f"{_canonical(k, memo)}: {_canonical(v, memo)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if value is None or isinstance(value, str | int | Fraction):
        return repr(value)
    if isinstance(value, tuple):  # an ordered, immutable list: `sell_from`
        return "(" + ", ".join(_canonical(item, memo) for item in value) + ")"
    # Anything else (a list, a float, an object) is refused rather than guessed at: a text
    # that missed part of it would let two different rules share a key.
    raise TypeError(f"a plan key cannot hold a {type(value).__name__}")


@dataclass(slots=True)
class PushPlan:
    """What to write to one channel, and what was left alone and why."""

    changes: list[QuantityChange] = field(default_factory=list)
    unchanged: int = 0
    unmapped: list[Listing] = field(default_factory=list)
    mapped: int = 0
    refused: str | None = None  # set when the max_change brake stopped the whole push
    # The target of every listing planned (None: it maps to no SKU), for the next run's
    # settle shortcut.
    targets: dict[str, int | None] = field(default_factory=dict)

    @property
    def zeroing(self) -> int:
        return sum(1 for c in self.changes if c.target == 0 and c.expected > 0)


def plan_pushes(
    listings: Sequence[Listing],
    *,
    rule: TargetRule,
    available: Mapping[str, int],
    max_change: float,
    force: bool,
    settled: int = 0,
    sold: Callable[[AbstractSet[str]], AbstractSet[str]] | None = None,
    available_at: Mapping[str, Mapping[str, int]] | None = None,
) -> PushPlan:
    """Compare each mapped listing with its target; keep only those that differ.

    A push that would set more than `max_change` of the channel's mapped listings to zero is
    refused whole unless `force`: an empty or wrong ledger must not wipe a shop.

    Args:
        settled: mapped listings left out of `listings` because they are known to show their
            target already (see `split_settled`); they count as mapped and unchanged.
        sold: given SKUs, those that orders took stock from since they were last counted or
            adjusted; asked only when the brake would stop the push. A listing sent to 0
            because one of them can no longer make a unit is selling out, which the brake
            never blocks.
        available_at: per ledger location, its own available (see `available_by_place`);
            required when the rule maps channel locations (`places`), whose listings are
            each offered their own location's stock.
    """
    if rule.places and available_at is None:
        raise ValueError(f"{rule.channel}: a channel with several locations needs available_at")
    plan = PushPlan(unchanged=settled, mapped=settled)
    resolve, channel, targets = rule.catalog.resolve, rule.channel, plan.targets
    for listing in listings:
        stock = available
        if listing.location is not None and available_at is not None:
            stock = available_at.get(rule.places.get(listing.location, ""), {})
        resolved = resolve(channel, listing.channel_sku)
        if resolved is None:
            plan.unmapped.append(listing)
            targets[listing.id] = None
            continue
        plan.mapped += 1
        target = targets[listing.id] = rule.target(listing.channel_sku, resolved, stock)
        if target == listing.quantity:
            plan.unchanged += 1
        else:
            plan.changes.append(
                QuantityChange(listing.id, listing.channel_sku, listing.quantity, target)
            )
    # Compared exactly, from the decimal the user wrote: 0.29 × 100 is 28.999… in floats,
    # which would refuse 29 of 100 listings although that is exactly the limit.
    if force or not plan.mapped:
        return plan
    limit = Fraction(str(max_change))
    zeroing = plan.zeroing
    if sold is not None and Fraction(zeroing, plan.mapped) > limit:
        # What the brake guards against is a wrong or empty ledger, a bad stock-take or a
        # mapping mistake; sales that empty a SKU explain its zeros (a one-listing shop that
        # sells out would trip it otherwise, and keep selling units that do not exist).
        behind = [
            resolve(channel, c.channel_sku) or {}
            for c in plan.changes
            if c.target == 0 and c.expected > 0
        ]
        sold_down = sold({sku for resolved in behind for sku in resolved})
        zeroing -= sum(1 for resolved in behind if _sold_out(resolved, available, sold_down))
    if Fraction(zeroing, plan.mapped) > limit:
        plan.refused = (
            f"would set {zeroing} of {plan.mapped} listings to 0, more than max_change "
            f"({max_change:.0%}); nothing was pushed to this channel. If that is right, "
            f"run again with --force"
        )
    return plan


def _sold_out(
    resolved: Mapping[str, int], available: Mapping[str, int], sold: AbstractSet[str]
) -> bool:
    """True when a SKU behind a listing was sold down this run to less than one listing unit."""
    return any(sku in sold and available.get(sku, 0) < count for sku, count in resolved.items())


def split_settled(
    listings: Sequence[Listing],
    *,
    rule: TargetRule,
    planned: Mapping[str, int | None],
    moved: AbstractSet[str],
) -> tuple[list[Listing], int]:
    """The listings whose target must be worked out, and how many are settled without it.

    A listing is settled when it shows the target planned for it last time (`planned`, read
    under the same plan key) and none of the SKUs behind it has moved since (`moved`): its
    target is then the same. On a shop of 100,000 listings a run costs what its orders touched.

    A planned target (not None) means the listing resolved when planned, under the same
    mapping and bundles (the plan key) and channel SKU (`save_listings_read` drops the target
    of a listing whose channel SKU changed); SKUs are never removed, so it resolves to the same
    SKUs now. Which listings the moved SKUs are behind is then asked the other way round, from
    the few SKUs moved to their channel SKUs, instead of resolving every listing.
    """
    candidates: list[Listing] = []
    keep = candidates.append
    target_of = planned.get
    touched = rule.catalog.channel_skus_behind(rule.channel, moved)
    for listing in listings:
        if target_of(listing.id) != listing.quantity:
            keep(listing)
            continue
        sku = listing.channel_sku
        # `normal_sku` inlined for the plain ASCII SKU: this loop sees every listing.
        if (sku.strip() if sku.isascii() else normal_sku(sku)) in touched:
            keep(listing)
    return candidates, len(listings) - len(candidates)


def skus_behind(listings: Iterable[Listing], rule: TargetRule) -> set[str]:
    """Every SKU the targets of `listings` read (a bundle's components)."""
    needed: set[str] = set()
    for listing in listings:
        resolved = rule.catalog.resolve(rule.channel, listing.channel_sku)
        if resolved:
            needed.update(resolved)
    return needed


def available_by_place(
    rule: TargetRule, available: Callable[[Sequence[str]], Mapping[str, int]]
) -> dict[str, Mapping[str, int]] | None:
    """Each mapped ledger location's own available (`available` reads the ledger for a tuple
    of locations, so a cached reader serves every channel), for a rule with `places`; None for
    any other."""
    if not rule.places:
        return None
    return {place: available((place,)) for place in dict.fromkeys(rule.places.values())}
