"""The settle shortcut asked the other way round, and the ledger's SKUs read as asked.

A listing is settled (no target worked out) when it shows the target planned for it and no SKU
it stands for has moved since. Which listings the moved SKUs stand behind is found from the
SKUs (`Catalog.channel_skus_behind`) instead of resolving every listing; these tests hold it
to the definition, `resolve()` itself, over random catalogs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from omnisync.catalog import Catalog
from omnisync.ledger import Ledger
from omnisync.models import Listing
from omnisync.planning import TargetRule, split_settled

CHANNEL = "shop"
NAMES = ["A", "B", "C", "D", "E", " A", "Ａ", "A\u0301", "\u00c1", ""]
SKUS = ["A", "B", "C", "\u00c1"]

catalogs = st.builds(
    Catalog,
    skus=st.frozensets(st.sampled_from(SKUS)),
    mapping=st.dictionaries(
        st.sampled_from([CHANNEL, "other"]),
        st.dictionaries(
            st.sampled_from(["A", "B", "X", "Y", "\u00c1"]), st.sampled_from(SKUS + ["D"])
        ),
    ),
    bundles=st.dictionaries(
        st.sampled_from(["D", "E", "B"]),
        st.dictionaries(st.sampled_from(SKUS), st.integers(1, 3), min_size=1),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    catalog=catalogs,
    listed=st.lists(st.tuples(st.sampled_from(NAMES), st.integers(0, 3)), max_size=8),
    planned=st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=8, max_size=8),
    moved=st.frozensets(st.sampled_from(SKUS + ["D", "Z"])),
)
def test_a_listing_is_settled_exactly_when_it_shows_its_plan_and_nothing_behind_it_moved(
    catalog: Catalog,
    listed: list[tuple[str, int]],
    planned: list[int | None],
    moved: frozenset[str],
) -> None:
    listings = [Listing(f"L{n}", sku, quantity) for n, (sku, quantity) in enumerate(listed)]
    # A target is planned only for a listing that resolved (None otherwise), as the engine
    # stores it.
    plans = {
        item.id: (target if catalog.resolve(CHANNEL, item.channel_sku) is not None else None)
        for item, target in zip(listings, planned, strict=False)
    }
    candidates, settled = split_settled(
        listings,
        rule=TargetRule(channel=CHANNEL, catalog=catalog),
        planned=plans,
        moved=moved,
    )
    # The definition, listing by listing, with resolve().
    expected = [
        item
        for item in listings
        if not (
            plans.get(item.id) == item.quantity
            and moved.isdisjoint(catalog.resolve(CHANNEL, item.channel_sku) or {})
        )
    ]
    assert candidates == expected
    assert settled == len(listings) - len(expected)


def test_the_ledgers_skus_are_read_as_asked_then_all_at_once(tmp_path: Path) -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
        with ledger.atomic():
            for sku in ("TEE", "MUG", "CAP"):
                ledger.add_sku(sku, now=now)
        known = ledger.sku_lookup()
        known._SINGLE_LOOKUPS = 2  # type: ignore[misc]  # reach the whole read in a test
        answers = [sku in known for sku in ("TEE", "NOPE", "MUG", "CAP", "NOPE", "TEE", 7)]
        assert answers == [True, False, True, True, False, True, False]
