"""`omnisync sync` as installed, against loopback Shopify and WooCommerce fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from omnisync.ledger import Ledger
from tests.fakes import shopify_api, woocommerce_api
from tests.fakes.server import dead_url, serve
from tests.fakes.shopify_api import FakeShopify
from tests.fakes.woocommerce_api import FakeWoo


def iso(moment: datetime, *, z: bool = True) -> str:
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return text + "Z" if z else text


@pytest.fixture
def shops() -> Iterator[tuple[FakeShopify, FakeWoo, str, str]]:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    shopify = FakeShopify()
    shopify.add_variant("TEE-M", 10)
    shopify.add_variant("MUG", 5)
    shopify.add_order(5001, [("TEE-M", 2)], updated=iso(an_hour_ago))
    # A server in front of this shop drops the Authorization header, so the consumer key
    # and secret travel in the query string: the hardest case for keeping them out of logs.
    woo = FakeWoo(drop_auth_header=True)
    woo.add_product("TEE-M", 10)
    woo.add_product("MUG", 5)
    woo.add_order([("MUG", 1)], status="processing", modified=iso(an_hour_ago, z=False))
    with serve(shopify) as shopify_url, serve(woo) as woo_url:
        yield shopify, woo, shopify_url, woo_url


def omnisync(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMNISYNC_")} | {
        "SHOPIFY_TOKEN": shopify_api.TOKEN,
        "SHOPIFY_CLIENT_SECRET": shopify_api.CLIENT_SECRET,
        "WOO_KEY": woocommerce_api.KEY,
        "WOO_SECRET": woocommerce_api.SECRET,
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "omnisync", "--config", str(root / "omnisync.toml"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def write_config(root: Path, shopify_url: str, woo_url: str, dead: str) -> None:
    (root / "omnisync.toml").write_text(
        f"""
[ledger]
path = "inventory.db"

[channels.shop]
type = "shopify"
store = "test-shop.myshopify.com"
token = "${{SHOPIFY_TOKEN}}"
location = "1"
base_url = "{shopify_url}"

[channels.woo]
type = "woocommerce"
url = "https://shop.example"
key = "${{WOO_KEY}}"
secret = "${{WOO_SECRET}}"
base_url = "{woo_url}"

[channels.gone]
type = "woocommerce"
url = "https://gone.example"
key = "${{WOO_KEY}}"
secret = "${{WOO_SECRET}}"
base_url = "{dead}"
timeout = 3
"""
    )
    # A ledger is never made silently by `sync`: create it as `omnisync init` would.
    Ledger.open(root / "inventory.db", write=True, create=True).close()


def test_a_dead_channel_fails_within_its_budget_while_the_others_sync(
    tmp_path: Path, shops: tuple[FakeShopify, FakeWoo, str, str]
) -> None:
    shopify, woo, shopify_url, woo_url = shops
    write_config(tmp_path, shopify_url, woo_url, dead_url())
    for sku in ("TEE-M", "MUG"):
        done = omnisync(tmp_path, "stock", "set", sku, "10", "--new")
        assert done.returncode == 0, done.stderr

    started = time.monotonic()
    result = omnisync(tmp_path, "-v", "sync", "--json", "--since", "1d")
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    channels = report["channels"]
    assert channels["shop"]["status"] == "ok", channels["shop"]
    assert channels["woo"]["status"] == "ok", channels["woo"]
    assert channels["gone"]["status"] == "failed"
    assert "ConnectError" in " ".join(channels["gone"]["errors"])
    assert elapsed < 20  # the dead channel gave up within its 3 s budget, plus start-up
    # Stock 10 each; Shopify sold 2 TEE-M, Woo sold 1 MUG: both channels now show 8 and 9.
    assert shopify.available("TEE-M") == 8 and shopify.available("MUG") == 9
    assert woo.stock("TEE-M") == 8 and woo.stock("MUG") == 9

    # No credential anywhere in what the user or a log collector sees.
    output = result.stdout + result.stderr
    for secret in (shopify_api.TOKEN, woocommerce_api.KEY, woocommerce_api.SECRET):
        assert secret not in output
    # The Woo credentials did travel in URLs, so the check above is not vacuous.
    assert any("consumer_secret" in r.query for r in woo.requests)


def test_check_reports_each_channel_without_leaking_credentials(
    tmp_path: Path, shops: tuple[FakeShopify, FakeWoo, str, str]
) -> None:
    _, _, shopify_url, woo_url = shops
    write_config(tmp_path, shopify_url, woo_url, dead_url())
    result = omnisync(tmp_path, "-v", "check")
    output = result.stdout + result.stderr
    assert "Main warehouse" in output
    for secret in (shopify_api.TOKEN, woocommerce_api.KEY, woocommerce_api.SECRET):
        assert secret not in output


def test_a_sale_during_the_run_is_not_overwritten_on_either_shop(
    tmp_path: Path, shops: tuple[FakeShopify, FakeWoo, str, str]
) -> None:
    shopify, woo, shopify_url, woo_url = shops
    (tmp_path / "omnisync.toml").write_text(
        f"""
[ledger]
path = "inventory.db"

[channels.shop]
type = "shopify"
store = "test-shop.myshopify.com"
token = "${{SHOPIFY_TOKEN}}"
location = "1"
base_url = "{shopify_url}"

[channels.woo]
type = "woocommerce"
url = "https://shop.example"
key = "${{WOO_KEY}}"
secret = "${{WOO_SECRET}}"
base_url = "{woo_url}"
"""
    )
    Ledger.open(tmp_path / "inventory.db", write=True, create=True).close()
    for sku in ("TEE-M", "MUG"):
        assert omnisync(tmp_path, "stock", "set", sku, "10", "--new").returncode == 0

    def just_now() -> datetime:
        return datetime.now(UTC) - timedelta(seconds=1)

    def shopify_sale(operation: str, variables: dict[str, Any]) -> None:
        # Right before omnisync's first write, a customer buys a TEE-M on Shopify.
        if operation == "SetQuantities" and 5002 not in sold:
            sold.add(5002)
            shopify.add_order(5002, [("TEE-M", 1)], updated=iso(just_now()))
            shopify.sell("TEE-M", 1)

    def woo_sale(request: Any) -> None:
        # Right before omnisync re-reads to write, a customer buys a MUG on Woo.
        if "include" in request.query and "woo" not in sold:
            sold.add("woo")
            woo.add_order([("MUG", 1)], status="processing", modified=iso(just_now(), z=False))
            woo.sell("MUG", 1)

    sold: set[object] = set()
    shopify.before.append(shopify_sale)
    woo.before.append(woo_sale)

    result = omnisync(tmp_path, "sync", "--json", "--since", "1d")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sold == {5002, "woo"}
    # Stock 10 each. Sold: TEE-M 2 + 1 on Shopify; MUG 1 + 1 on Woo. Both channels agree,
    # and neither mid-run sale was written back into stock.
    assert (shopify.available("TEE-M"), shopify.available("MUG")) == (7, 8)
    assert (woo.stock("TEE-M"), woo.stock("MUG")) == (7, 8)


def test_a_dev_dashboard_app_syncs_from_cron_on_one_stored_token(tmp_path: Path) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    shopify = FakeShopify()
    shopify.add_variant("TEE-M", 10)
    shopify.add_order(5001, [("TEE-M", 2)], updated=iso(an_hour_ago))
    with serve(shopify) as url:
        (tmp_path / "omnisync.toml").write_text(
            f"""
[channels.shop]
type = "shopify"
store = "test-shop.myshopify.com"
client_id = "{shopify_api.CLIENT_ID}"
client_secret = "${{SHOPIFY_CLIENT_SECRET}}"
location = "1"
base_url = "{url}"
"""
        )
        Ledger.open(tmp_path / "inventory.db", write=True, create=True).close()
        assert omnisync(tmp_path, "stock", "set", "TEE-M", "10", "--new").returncode == 0
        first = omnisync(tmp_path, "-v", "sync", "--json", "--since", "1d")
        again = omnisync(tmp_path, "-v", "sync", "--json")  # the next cron run

    for result in (first, again):
        assert result.returncode == 0, result.stdout + result.stderr
    assert shopify.available("TEE-M") == 8
    assert shopify.grants == 1  # the second run reused the token stored in the ledger
    [token] = shopify.granted
    output = first.stdout + first.stderr + again.stdout + again.stderr
    for secret in (token, shopify_api.CLIENT_SECRET):
        assert secret not in output
