"""Incremental planning: a listing is settled without arithmetic only when nothing it depends
on has changed. Every way it could have changed must still reach the channel."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from tests.helpers import Shop, invoke, listing, order

SINCE = "2026-11-01"


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
