"""What each listing is pushed: the target rule and its allocation rules, the brake, and
incremental planning (a listing is settled without arithmetic only when nothing it depends on
has changed; every way it could have changed must still reach the channel).

Expected numbers are worked out by hand from the rule as planning.py's docstring and the SPEC
state it (`max(0, floor(available × share) − buffer)`, then last units, then max), never from
the code under test.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnisync.catalog import Catalog
from omnisync.channels.base import ChannelConfig, ChannelSettings
from omnisync.config import Config, SkuOverride
from omnisync.models import Listing, QuantityChange
from omnisync.planning import (
    PushPlan,
    TargetRule,
    plan_keys,
    plan_pushes,
    skus_behind,
    split_settled,
)
from tests.helpers import Shop, invoke, listing, order

SINCE = "2026-11-01"
CHANNEL = "shop"
CATALOG = Catalog(
    skus=frozenset({"TEE-M", "MUG", "CAP"}),
    mapping={CHANNEL: {"SHP-TEE-M": "TEE-M"}},
    bundles={"GIFT-SET": {"MUG": 1, "TEE-M": 2}, "HALF-SET": {"MUG": 1, "SCARF": 1}},
)


def rule(**keys: Any) -> TargetRule:
    return TargetRule(**{"channel": CHANNEL, "catalog": CATALOG, **keys})


def target(channel_sku: str, available: dict[str, int], **keys: Any) -> int | None:
    """The target one listing of `channel_sku` is planned (None: it maps to no SKU)."""
    plan = plan_pushes(
        [Listing("L", channel_sku, 999)],
        rule=rule(**keys),
        available=available,
        max_change=1.0,
        force=True,
    )
    return plan.targets["L"]


# -- one way to resolve a channel SKU ----------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "channel_sku", "sku", "resolved"),
    [
        (CHANNEL, "TEE-M", "TEE-M", {"TEE-M": 1}),
        (CHANNEL, "SHP-TEE-M", "TEE-M", {"TEE-M": 1}),  # through [mapping.shop]
        ("other", "SHP-TEE-M", "SHP-TEE-M", None),  # a mapping is its channel's only
        (CHANNEL, "GIFT-SET", "GIFT-SET", {"MUG": 1, "TEE-M": 2}),
        (CHANNEL, "HALF-SET", "HALF-SET", None),  # SCARF is no SKU: half a bundle never sells
        (CHANNEL, "NOPE", "NOPE", None),
        (CHANNEL, "", None, None),  # a listing with no SKU at all
    ],
)
def test_a_channel_sku_resolves_through_mapping_then_bundles(
    channel: str, channel_sku: str, sku: str | None, resolved: dict[str, int] | None
) -> None:
    assert CATALOG.sku_of(channel, channel_sku) == sku
    assert CATALOG.resolve(channel, channel_sku) == resolved


# -- the target rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "share", "buffer", "expected"),
    [
        (10, Fraction(1), 0, 10),
        (10, Fraction(1), 2, 8),
        (2, Fraction(1), 2, 0),
        (1, Fraction(1), 2, 0),
        (100, Fraction("0.29"), 0, 29),
        (100, Fraction("0.57"), 0, 57),
        (7, Fraction("0.5"), 0, 3),
        (7, Fraction("0.5"), 1, 2),
        (10, Fraction(0), 0, 0),
        (0, Fraction(1), 0, 0),
        (-3, Fraction(1), 0, 0),
        (-3, Fraction("0.5"), 0, 0),
    ],
)
def test_share_then_buffer_never_below_zero(
    units: int, share: Fraction, buffer: int, expected: int
) -> None:
    assert target("TEE-M", {"TEE-M": units}, share=share, buffer=buffer) == expected


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        ({"MUG": 5, "TEE-M": 9}, 4),  # TEE-M: floor(9 / 2) = 4 sets
        ({"MUG": 3, "TEE-M": 9}, 3),
        ({"MUG": 5, "TEE-M": 1}, 0),
        ({"MUG": 5, "TEE-M": -1}, 0),  # an oversold component: 0 sets
        ({"MUG": 5}, 0),  # a component never stocked counts as 0
    ],
)
def test_a_bundle_sells_as_many_as_its_scarcest_component_allows(
    available: dict[str, int], expected: int
) -> None:
    assert target("GIFT-SET", available) == expected


def test_a_listing_that_maps_nowhere_has_no_target() -> None:
    assert target("NOPE", {"NOPE": 5}) is None


# -- per-SKU buffer and share ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (SkuOverride(buffer=3), 2),  # floor(10 × 0.5) − 3
        (SkuOverride(share=Fraction(1)), 9),  # floor(10 × 1) − 1
        (SkuOverride(buffer=0, share=Fraction("0.8")), 8),  # floor(10 × 0.8) − 0
        (SkuOverride(buffer=0), 5),  # 0 replaces the channel's 1: it is not "unset"
        (SkuOverride(share=Fraction(0)), 0),
        (SkuOverride(), 4),  # nothing overridden: floor(10 × 0.5) − 1
    ],
)
def test_a_sku_override_replaces_the_channels_buffer_or_share(
    override: SkuOverride, expected: int
) -> None:
    keys = {"share": Fraction("0.5"), "buffer": 1, "overrides": {"TEE-M": override}}
    assert target("TEE-M", {"TEE-M": 10}, **keys) == expected
    # Through [mapping] the listing is the same SKU, so the same override applies.
    assert target("SHP-TEE-M", {"TEE-M": 10}, **keys) == expected
    # Other SKUs keep the channel's own values.
    assert target("MUG", {"MUG": 10}, **keys) == 4


def test_a_bundle_listing_follows_its_own_override_not_its_components() -> None:
    overrides = {"GIFT-SET": SkuOverride(buffer=1), "TEE-M": SkuOverride(buffer=5)}
    # floor(9 / 2) = 4 sets, less the bundle's buffer of 1.
    assert target("GIFT-SET", {"MUG": 5, "TEE-M": 9}, overrides=overrides) == 3


# -- last units to one channel -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "available", "expected"),
    [
        (CHANNEL, 2, 0),  # below 3: only the priority channel sells them
        (CHANNEL, 3, 3),  # not below
        ("web", 2, 2),  # the priority channel
        ("web", 0, 0),
        (CHANNEL, -1, 0),
    ],
)
def test_the_last_units_go_to_the_priority_channel_only(
    channel: str, available: int, expected: int
) -> None:
    keys = {"channel": channel, "last_units": 3, "priority": "web"}
    assert target("TEE-M", {"TEE-M": available}, **keys) == expected


def test_without_a_priority_channel_the_last_units_are_offered_nowhere() -> None:
    assert target("TEE-M", {"TEE-M": 2}, last_units=3) == 0
    assert target("TEE-M", {"TEE-M": 3}, last_units=3) == 3


def test_last_units_judge_a_bundle_by_its_own_units() -> None:
    # Each component has 4 or more (not below 3), but TEE-M makes only floor(5 / 2) = 2 sets.
    available = {"MUG": 4, "TEE-M": 5}
    assert target("GIFT-SET", available, last_units=3, priority="web") == 0
    assert target("MUG", available, last_units=3, priority="web") == 4
    assert target("GIFT-SET", available, channel="web", last_units=3, priority="web") == 2


def test_last_units_judge_the_stock_not_the_channels_share_of_it() -> None:
    # 4 available is not below 3, so the shop is offered floor(4 × 0.5) = 2, though 2 < 3.
    assert target("TEE-M", {"TEE-M": 4}, share=Fraction("0.5"), last_units=3) == 2


def test_last_units_of_zero_change_nothing() -> None:
    assert target("TEE-M", {"TEE-M": 1}, last_units=0, priority="web") == 1


# -- a per-channel max -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("available", "keys", "expected"),
    [
        (10, {"max": 3}, 3),
        (2, {"max": 3}, 2),
        (10, {"max": 0}, 0),
        (-2, {"max": 5}, 0),
        # planning.py's worked example: floor(10 × 0.5) − 1 = 4, capped to 3.
        (10, {"max": 3, "share": Fraction("0.5"), "buffer": 1}, 3),
        (7, {"max": 3, "share": Fraction("0.5"), "buffer": 1}, 2),  # floor(3.5) − 1
        (10, {"max": None}, 10),
    ],
)
def test_a_channel_max_caps_the_target(available: int, keys: dict[str, Any], expected: int) -> None:
    assert target("TEE-M", {"TEE-M": available}, **keys) == expected


def test_a_rule_is_built_from_the_channel_and_the_config() -> None:
    overrides = {"MUG": SkuOverride(buffer=2)}
    channel = ChannelConfig(
        "shop", "fake", ChannelSettings(), Path("."), buffer=1, share=Fraction("0.5"), max=7
    )
    config = Config(
        path=Path("omnisync.toml"),
        ledger_path=Path("inventory.db"),
        channels={"shop": channel},
        skus=overrides,
        last_units=2,
        priority="web",
    )
    assert TargetRule.for_channel(channel, config, CATALOG) == TargetRule(
        channel="shop",
        catalog=CATALOG,
        share=Fraction("0.5"),
        buffer=1,
        max=7,
        overrides=overrides,
        last_units=2,
        priority="web",
    )


# -- the plan key: every input of the rule -----------------------------------------------------

# For each field of TargetRule, another value. A field added to the rule must be added here:
# the test below then proves the plan key, and so the settle shortcut, sees it change.
OTHER_VALUES: dict[str, Any] = {
    "channel": "web",
    "catalog": replace(CATALOG, bundles={}),
    "share": Fraction("0.9"),
    "buffer": 4,
    "max": 12,
    "overrides": {"TEE-M": SkuOverride(buffer=2)},
    "last_units": 3,
    "priority": "web",
    "sell_from": ("main", "store"),
    "places": {"gid://shopify/Location/2": "store"},
    "version": "0.0.0-other",
}


def test_every_input_of_the_rule_changes_the_plan_key() -> None:
    assert set(OTHER_VALUES) == {f.name for f in fields(TargetRule)}
    base = rule()
    variants = [replace(base, **{name: value}) for name, value in OTHER_VALUES.items()]
    keys = plan_keys([base, *variants])
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    "other",
    [
        replace(CATALOG, mapping={CHANNEL: {"SHP-TEE-M": "MUG"}}),
        replace(CATALOG, mapping={"web": {"X": "MUG"}, **CATALOG.mapping}),
        replace(CATALOG, bundles={"GIFT-SET": {"MUG": 1, "TEE-M": 3}}),
    ],
)
def test_a_changed_mapping_or_bundle_changes_the_plan_key(other: Catalog) -> None:
    first, second = plan_keys([rule(), rule(catalog=other)])
    assert first != second


def test_a_new_sku_leaves_the_plan_key_alone() -> None:
    # Only listings that resolve now and did then are settled, to the same SKUs either way;
    # a listing the new SKU maps was unmapped, so it is planned (see the command-line test
    # test_a_new_sku_maps_a_listing_that_mapped_nowhere below).
    grown = replace(CATALOG, skus=CATALOG.skus | {"NEW-CAP"})
    first, second = plan_keys([rule(), rule(catalog=grown)])
    assert first == second


def test_the_plan_key_is_the_same_for_the_same_rule_built_again() -> None:
    again = Catalog(
        skus=frozenset(sorted(CATALOG.skus, reverse=True)),
        mapping={CHANNEL: {"SHP-TEE-M": "TEE-M"}},
        bundles={"HALF-SET": {"SCARF": 1, "MUG": 1}, "GIFT-SET": {"TEE-M": 2, "MUG": 1}},
    )
    overrides = {"MUG": SkuOverride(share=Fraction(1, 2)), "CAP": SkuOverride(buffer=1)}
    first = rule(overrides=overrides)
    second = rule(catalog=again, overrides=dict(reversed(overrides.items())))
    assert plan_keys([first]) == plan_keys([second])


def test_a_rule_input_the_key_cannot_write_out_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot hold a list"):
        plan_keys([rule(overrides={"TEE-M": [1, 2]})])


# -- the plan: only what differs, and the max_change brake -------------------------------------


def listings(*items: tuple[str, str, int]) -> list[Listing]:
    return [Listing(listing_id, sku, quantity) for listing_id, sku, quantity in items]


def plan(
    items: list[Listing],
    available: dict[str, int],
    *,
    max_change: float = 0.5,
    force: bool = False,
    **keys: Any,
) -> PushPlan:
    return plan_pushes(
        items, rule=rule(**keys), available=available, max_change=max_change, force=force
    )


def test_only_listings_that_differ_from_their_target_are_pushed() -> None:
    result = plan(
        listings(
            ("L1", "TEE-M", 10),
            ("L2", "SHP-TEE-M", 7),
            ("L3", "MUG", 4),
            ("L4", "GIFT-SET", 0),
            ("L5", "UNKNOWN", 3),
            ("L6", "", 3),
        ),
        {"TEE-M": 8, "MUG": 4},
    )
    assert result.changes == [
        QuantityChange("L1", "TEE-M", 10, 8),
        QuantityChange("L2", "SHP-TEE-M", 7, 8),
        QuantityChange("L4", "GIFT-SET", 0, 4),
    ]
    assert result.unchanged == 1
    assert result.mapped == 4
    assert [item.id for item in result.unmapped] == ["L5", "L6"]
    assert result.refused is None
    # Every listing's target is kept for the next run, unchanged ones and unmapped ones too.
    assert result.targets == {"L1": 8, "L2": 8, "L3": 4, "L4": 4, "L5": None, "L6": None}


def test_buffer_and_share_apply_to_every_listing_of_the_channel() -> None:
    result = plan(
        listings(("L1", "TEE-M", 0), ("L2", "MUG", 0)),
        {"TEE-M": 100, "MUG": 3},
        share=Fraction("0.29"),
        buffer=2,
    )
    assert [(c.listing_id, c.target) for c in result.changes] == [("L1", 27)]
    assert result.unchanged == 1  # MUG: floor(3 × 0.29) − 2 < 0 → 0, already 0


def test_an_oversold_sku_is_pushed_zero() -> None:
    result = plan(
        listings(("L1", "TEE-M", 3), ("L2", "MUG", 5), ("L3", "CAP", 5)),
        {"TEE-M": -2, "MUG": 5, "CAP": 5},
    )
    assert result.changes == [QuantityChange("L1", "TEE-M", 3, 0)]
    assert result.refused is None


def test_settled_listings_count_as_mapped_and_unchanged() -> None:
    result = plan_pushes(
        listings(("L1", "TEE-M", 3)),
        rule=rule(),
        available={"TEE-M": 5},
        max_change=0.5,
        force=False,
        settled=7,
    )
    assert (result.mapped, result.unchanged, len(result.changes)) == (8, 7, 1)


def _brake(zeroed: int, kept: int, max_change: float, *, force: bool = False) -> str | None:
    """A channel with `zeroed` listings whose SKU ran out and `kept` that still have stock."""
    items = [Listing(f"Z{i}", "TEE-M", 5) for i in range(zeroed)]
    items += [Listing(f"K{i}", "MUG", 5) for i in range(kept)]
    result = plan(items, {"TEE-M": 0, "MUG": 5}, max_change=max_change, force=force)
    assert result.zeroing == zeroed
    return result.refused


@pytest.mark.parametrize(
    ("zeroed", "kept", "max_change", "refused"),
    [
        (2, 2, 0.5, False),  # exactly half: allowed
        (3, 1, 0.5, True),
        (1, 3, 0.25, False),
        (2, 3, 0.25, True),
        (29, 71, 0.29, False),  # 29 of 100 is exactly 0.29, though 0.29 × 100 < 29 in floats
        (30, 70, 0.29, True),
        (57, 43, 0.57, False),
        (1, 0, 1.0, False),
        (1, 9, 0.0, True),
        (0, 4, 0.0, False),
    ],
)
def test_the_max_change_brake(zeroed: int, kept: int, max_change: float, refused: bool) -> None:
    message = _brake(zeroed, kept, max_change)
    assert (message is not None) == refused
    if refused:
        assert message is not None
        assert f"would set {zeroed} of {zeroed + kept} listings to 0" in message
        assert "--force" in message


def test_force_overrides_the_brake() -> None:
    assert _brake(4, 0, 0.5, force=True) is None


def test_listings_already_at_zero_do_not_count_toward_the_brake() -> None:
    result = plan(
        listings(("L1", "TEE-M", 0), ("L2", "TEE-M", 0), ("L3", "TEE-M", 0), ("L4", "MUG", 5)),
        {"TEE-M": 0, "MUG": 0},
    )
    assert result.zeroing == 1
    assert result.refused is None
    assert result.changes == [QuantityChange("L4", "MUG", 5, 0)]


def test_a_listing_showing_below_zero_raised_to_zero_is_not_zeroing() -> None:
    result = plan(listings(("L1", "TEE-M", -2)), {"TEE-M": -2}, max_change=0.0)
    assert result.changes == [QuantityChange("L1", "TEE-M", -2, 0)]
    assert result.refused is None


def test_a_channel_with_no_mapped_listings_is_never_refused() -> None:
    result = plan(listings(("L1", "UNKNOWN", 5)), {}, max_change=0.0)
    assert result.mapped == 0 and result.refused is None


# -- what may be settled without arithmetic ----------------------------------------------------


def test_a_listing_is_settled_only_if_it_shows_its_planned_target_and_no_sku_behind_it_moved() -> (
    None
):
    shown = listings(
        ("S1", "TEE-M", 4),  # shows its target, TEE-M did not move: settled
        ("S2", "SHP-TEE-M", 4),  # the same through [mapping]: settled
        ("C1", "MUG", 4),  # MUG moved
        ("C2", "GIFT-SET", 2),  # a component (MUG) moved
        ("C3", "CAP", 9),  # shows something else than its target (edited by hand)
        ("C4", "CAP", 5),  # never planned
        ("C5", "NOPE", 0),  # maps nowhere (planned None)
    )
    planned = {"S1": 4, "S2": 4, "C1": 4, "C2": 2, "C3": 5, "C5": None}
    candidates, settled = split_settled(shown, rule=rule(), planned=planned, moved={"MUG"})
    assert settled == 2
    assert [item.id for item in candidates] == ["C1", "C2", "C3", "C4", "C5"]


def test_the_skus_behind_listings_include_bundle_components() -> None:
    items = listings(("L1", "SHP-TEE-M", 0), ("L2", "GIFT-SET", 0), ("L3", "NOPE", 0))
    assert skus_behind(items, rule()) == {"TEE-M", "MUG"}


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    quantities=st.lists(
        st.tuples(
            st.sampled_from(["TEE-M", "MUG", "CAP", "GIFT-SET", "NOPE"]), st.integers(-5, 50)
        ),
        max_size=8,
    ),
    available=st.fixed_dictionaries({sku: st.integers(-10, 60) for sku in ("TEE-M", "MUG", "CAP")}),
    share=st.integers(0, 100).map(lambda percent: Fraction(percent, 100)),
    buffer=st.integers(0, 5),
    cap=st.none() | st.integers(0, 40),
    last_units=st.integers(0, 10),
)
def test_a_listing_is_never_offered_more_than_the_stock_behind_it(
    quantities: list[tuple[str, int]],
    available: dict[str, int],
    share: Fraction,
    buffer: int,
    cap: int | None,
    last_units: int,
) -> None:
    items = [Listing(f"L{n}", sku, quantity) for n, (sku, quantity) in enumerate(quantities)]
    result = plan(
        items,
        available,
        max_change=1.0,
        share=share,
        buffer=buffer,
        max=cap,
        last_units=last_units,
    )
    shown = {item.id: item.quantity for item in items}
    for change in result.changes:
        assert change.target >= 0
        assert cap is None or change.target <= cap
        assert change.expected == shown[change.listing_id] != change.target
        for sku, count in (CATALOG.resolve(CHANNEL, change.channel_sku) or {}).items():
            assert change.target * count <= max(0, available[sku]) * share
            # Below last_units, this (non-priority) channel is offered nothing.
            assert available[sku] // count >= last_units or change.target == 0
    assert result.unchanged + len(result.changes) == result.mapped
    assert result.mapped + len(result.unmapped) == len(items)
    assert all(item.channel_sku == "NOPE" for item in result.unmapped)


# -- incremental planning through the command line ---------------------------------------------


def sync(runner: CliRunner, shop: Shop, *args: str) -> dict[str, Any]:
    result = invoke(runner, shop, "sync", "--json", "--since", SINCE, *args)
    assert "Traceback" not in result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def settled_shop(shop: Shop, runner: CliRunner, config_extra: str = "", **keys: Any) -> None:
    """Two channels, three SKUs, one bundle, synced once so every listing shows its target."""
    for name in ("a", "b"):
        shop.write_channel(
            name,
            listings=[
                listing(f"{name}1", "TEE-M", 1),
                listing(f"{name}2", "MUG", 1),
                listing(f"{name}3", "GIFT", 1),
                listing(f"{name}4", "NEW-CAP", 1),
            ],
        )
    shop.write_config(
        {"a": keys, "b": {}}, '[bundles]\n"GIFT" = { "MUG" = 1, "TEE-M" = 2 }\n' + config_extra
    )
    for sku, quantity in (("TEE-M", 10), ("MUG", 4)):
        assert invoke(runner, shop, "stock", "set", sku, str(quantity), "--new").exit_code == 0
    sync(runner, shop)
    assert shop.quantities("a") == {"a1": 10, "a2": 4, "a3": 4, "a4": 1}
    # A second run with nothing new settles everything and writes nothing.
    report = sync(runner, shop)
    assert report["channels"]["a"]["listings_pushed"] == 0
    assert report["channels"]["a"]["listings_unchanged"] == 3


def test_stock_counted_between_runs_reaches_every_listing_of_the_sku(
    shop: Shop, runner: CliRunner
) -> None:
    settled_shop(shop, runner)
    assert invoke(runner, shop, "stock", "add", "MUG", "-3").exit_code == 0
    sync(runner, shop)
    # MUG and the bundle built on it move; the T-shirt is left alone.
    assert shop.quantities("a") == {"a1": 10, "a2": 1, "a3": 1, "a4": 1}
    assert shop.quantities("b") == {"b1": 10, "b2": 1, "b3": 1, "b4": 1}


def test_an_order_on_one_channel_moves_the_bundle_on_the_other(
    shop: Shop, runner: CliRunner
) -> None:
    settled_shop(shop, runner)
    data = shop.read_channel("a")
    data["orders"] = [order("1", "paid", [("TEE-M", 7)], updated="2026-11-21T00:00:00Z")]
    shop.channel_path("a").write_text(json.dumps(data))
    sync(runner, shop)
    assert shop.quantities("b") == {"b1": 3, "b2": 4, "b3": 1, "b4": 1}


def test_a_quantity_edited_by_hand_on_the_channel_is_put_back(
    shop: Shop, runner: CliRunner
) -> None:
    settled_shop(shop, runner)
    data = shop.read_channel("b")
    data["listings"][0]["quantity"] = 99
    shop.channel_path("b").write_text(json.dumps(data))
    sync(runner, shop)
    assert shop.quantities("b")["b1"] == 10


def test_a_changed_buffer_replans_the_whole_channel(shop: Shop, runner: CliRunner) -> None:
    settled_shop(shop, runner)
    shop.write_config(
        {"a": {"buffer": 1}, "b": {}}, '[bundles]\n"GIFT" = { "MUG" = 1, "TEE-M" = 2 }\n'
    )
    sync(runner, shop)
    assert shop.quantities("a") == {"a1": 9, "a2": 3, "a3": 3, "a4": 1}
    assert shop.quantities("b") == {"b1": 10, "b2": 4, "b3": 4, "b4": 1}


def test_a_new_sku_maps_a_listing_that_mapped_nowhere(shop: Shop, runner: CliRunner) -> None:
    settled_shop(shop, runner)
    assert invoke(runner, shop, "stock", "set", "NEW-CAP", "6", "--new").exit_code == 0
    sync(runner, shop)
    assert shop.quantities("a")["a4"] == 6


def test_a_push_that_failed_is_made_on_the_next_run(shop: Shop, runner: CliRunner) -> None:
    settled_shop(shop, runner)
    assert invoke(runner, shop, "stock", "add", "TEE-M", "5").exit_code == 0
    bundles = '[bundles]\n"GIFT" = { "MUG" = 1, "TEE-M" = 2 }\n'
    shop.write_config({"a": {"fail": "push"}, "b": {}}, bundles)
    report = sync(runner, shop)
    assert report["channels"]["a"]["status"] == "failed"
    assert shop.quantities("a")["a1"] == 10
    shop.write_config({"a": {}, "b": {}}, bundles)
    sync(runner, shop)
    assert shop.quantities("a")["a1"] == 15
    assert shop.quantities("b")["b1"] == 15


def test_a_dry_run_does_not_settle_anything(shop: Shop, runner: CliRunner) -> None:
    settled_shop(shop, runner)
    assert invoke(runner, shop, "stock", "add", "TEE-M", "5").exit_code == 0
    dry = sync(runner, shop, "--dry-run")
    assert {c["listing_id"] for c in dry["channels"]["a"]["changes"]} == {"a1"}
    sync(runner, shop)
    assert shop.quantities("a")["a1"] == 15


def test_the_allocation_keys_in_the_config_file_shape_what_each_channel_shows(
    shop: Shop, runner: CliRunner
) -> None:
    for name in ("a", "b"):
        shop.write_channel(
            name,
            listings=[
                listing(f"{name}1", "TEE-M", 0),
                listing(f"{name}2", "MUG", 0),
                listing(f"{name}3", "CAP", 0),
            ],
        )
    shop.write_config(
        {"a": {"max": 6}, "b": {"buffer": 1}},
        '[sync]\nlast_units = 3\npriority = "b"\n\n[skus."MUG"]\nbuffer = 0\nshare = 0.5\n',
    )
    for sku, quantity in (("TEE-M", 10), ("MUG", 9), ("CAP", 2)):
        assert invoke(runner, shop, "stock", "set", sku, str(quantity), "--new").exit_code == 0

    report = sync(runner, shop, "--force")

    assert report["exit_code"] == 0
    # a: TEE-M 10 capped to 6; MUG floor(9 × 0.5) = 4; CAP 2 is below last_units 3: 0.
    assert shop.quantities("a") == {"a1": 6, "a2": 4, "a3": 0}
    # b, the priority channel: TEE-M 10 − 1; MUG's own buffer 0 replaces b's 1; CAP 2 − 1.
    assert shop.quantities("b") == {"b1": 9, "b2": 4, "b3": 1}
