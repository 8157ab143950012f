"""A Shopify shop with two locations mapped to two ledger locations, end to end from the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnisync.cli import app
from omnisync.config import load_config
from omnisync.errors import ConfigError
from omnisync.ledger import Ledger
from tests.fakes import shopify_api
from tests.fakes.server import serve
from tests.fakes.shopify_api import LOCATION, OTHER_LOCATION, FakeShopify

ENV = {"SHOPIFY_TOKEN": shopify_api.TOKEN}
UNMAPPED_LOCATION = "gid://shopify/Location/3"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture
def shop() -> Iterator[tuple[FakeShopify, str]]:
    fake = FakeShopify()
    tee = fake.add_variant("TEE-M", 0)  # stocked at the warehouse (Location/1)...
    fake.levels[(tee, OTHER_LOCATION)] = 0  # ...and at the second store (Location/2)
    fake.add_variant("MUG", 0, location=OTHER_LOCATION)  # only at the store
    with serve(fake) as url:
        yield fake, url


def write_config(root: Path, url: str, locations: str) -> Path:
    path = root / "omnisync.toml"
    path.write_text(
        f"""
[locations]
main = "Warehouse"
store = "Second store"

[channels.shop]
type = "shopify"
store = "test-shop.myshopify.com"
token = "${{SHOPIFY_TOKEN}}"
base_url = "{url}"
{locations}
"""
    )
    if not (root / "inventory.db").exists():
        Ledger.open(root / "inventory.db", write=True, create=True).close()
    return path


def cli(runner: CliRunner, config: Path, *args: str) -> Any:
    result = runner.invoke(app, ["--config", str(config), *args], env=ENV)
    assert "Traceback" not in result.output
    return result


def at(runner: CliRunner, config: Path, sku: str) -> dict[str, tuple[int, int]]:
    rows = json.loads(cli(runner, config, "stock", "--json", sku).stdout)
    return {p: (b["on_hand"], b["committed"]) for p, b in rows[0]["locations"].items()}


def test_each_shopify_location_takes_and_is_pushed_its_own_ledger_locations_stock(
    shop: tuple[FakeShopify, str], tmp_path: Path, runner: CliRunner
) -> None:
    fake, url = shop
    config = write_config(tmp_path, url, f'locations = {{ "{LOCATION}" = "main", "2" = "store" }}')
    for args in (
        ("TEE-M", "10", "--new"),
        ("TEE-M", "3", "--location", "store"),
        ("MUG", "4", "--new", "--location", "store"),
    ):
        assert cli(runner, config, "stock", "set", *args).exit_code == 0
    # A web order not fulfilled yet (held at the first location, the warehouse), a sale at
    # the store's POS, and an order fulfilled from a location omnisync does not map.
    web = fake.add_order(5001, [("TEE-M", 2)], updated=iso(HOUR_AGO))
    fake.add_order(
        5002,
        [("TEE-M", 1), ("MUG", 1)],
        updated=iso(HOUR_AGO),
        fulfilment="FULFILLED",
        sold_at=OTHER_LOCATION,
    )
    fake.add_order(
        5003,
        [("TEE-M", 5)],
        updated=iso(HOUR_AGO),
        fulfilment="FULFILLED",
        fulfilled_from=UNMAPPED_LOCATION,
    )

    first = cli(runner, config, "sync", "--json", "--since", iso(HOUR_AGO - timedelta(hours=1)))
    assert first.exit_code == 0, first.output
    assert at(runner, config, "TEE-M") == {"main": (10, 2), "store": (2, 0)}
    assert at(runner, config, "MUG") == {"store": (3, 0)}
    # Each location is offered its own ledger location's available: 10 − 2 and 3 − 1.
    assert fake.available("TEE-M", LOCATION) == 8
    assert fake.available("TEE-M", OTHER_LOCATION) == 2
    assert fake.available("MUG", OTHER_LOCATION) == 3
    writes = [q for a in fake.adjustments for q in a["quantities"]]
    assert {(q["locationId"], q["quantity"]) for q in writes} == {
        (LOCATION, 8),
        (OTHER_LOCATION, 2),
        (OTHER_LOCATION, 3),
    }

    # The web order is fulfilled from the store: its promise leaves the warehouse and the
    # units leave the store.
    web["fulfillments"] = [{"location": {"id": OTHER_LOCATION}}]
    web["displayFulfillmentStatus"] = "FULFILLED"
    for line in web["lineItems"]:
        line["unfulfilledQuantity"] = 0
    web["updatedAt"] = iso(HOUR_AGO + timedelta(minutes=30))
    second = cli(runner, config, "sync", "--json")
    assert second.exit_code == 0, second.output
    assert at(runner, config, "TEE-M") == {"main": (10, 0), "store": (0, 0)}
    assert fake.available("TEE-M", LOCATION) == 10
    assert fake.available("TEE-M", OTHER_LOCATION) == 0

    # A re-run moves nothing and writes nothing.
    third = json.loads(cli(runner, config, "sync", "--json").stdout)
    assert third["channels"]["shop"]["movements"] == 0
    assert third["channels"]["shop"]["listings_pushed"] == 0
    with Ledger.open(config.parent / "inventory.db", write=False) as ledger:
        assert ledger.stored_effects() == ledger.effects_from_movements()


def test_check_names_each_location_and_the_ledger_location_it_maps_to(
    shop: tuple[FakeShopify, str], tmp_path: Path, runner: CliRunner
) -> None:
    _, url = shop
    config = write_config(tmp_path, url, 'locations = { "1" = "main", "2" = "store" }')
    out = cli(runner, config, "check").stdout
    assert "location Main warehouse → ledger location main" in out
    assert "location Second store → ledger location store" in out


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            'location = "1"\nlocations = { "2" = "store" }',
            "expected either location (one Shopify location) or locations",
        ),
        ("", "missing key 'location' (or 'locations'"),
        ('locations = { "2" = "attic" }', "key 'locations': unknown location 'attic'"),
        ('locations = { "shop" = "main" }', "expected a location GID"),
        (
            'locations = { "1" = "main" }\nsell_from = ["main", "store"]',
            "key 'sell_from': not with 'locations'",
        ),
    ],
)
def test_shopify_locations_are_checked_against_the_ledgers(
    tmp_path: Path, keys: str, expected: str
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9", keys)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENV)
    assert expected in str(caught.value)
    assert shopify_api.TOKEN not in str(caught.value)


def test_a_shopify_channel_with_locations_orders_default_to_its_first(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, "http://127.0.0.1:9", 'locations = { "2" = "store", "1" = "main" }'
    )
    channel = load_config(path, environ=ENV).channels["shop"]
    assert (channel.location, channel.sell_from) == ("store", ("store", "main"))
    assert dict(channel.places) == {OTHER_LOCATION: "store", LOCATION: "main"}
