"""`omnisync auth` then `omnisync sync` as a seller runs them, against a loopback fake Shopee."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from omnisync.cli import app
from omnisync.ledger import Ledger
from tests.fakes import shopee_api
from tests.fakes.server import serve
from tests.fakes.shopee_api import FakeShopee


def write_config(root: Path, url: str) -> Path:
    path = root / "omnisync.toml"
    path.write_text(
        f"""
[ledger]
path = "inventory.db"

[channels.shopee]
type = "shopee"
partner_id = {shopee_api.PARTNER_ID}
partner_key = "${{SHOPEE_PARTNER_KEY}}"
region = "sg"
base_url = "{url}"
"""
    )
    return path


def test_check_offline_says_a_shop_never_connected_needs_omnisync_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPEE_PARTNER_KEY", shopee_api.PARTNER_KEY)
    # Offline: nothing is reached, so the address is never dialled.
    config = write_config(tmp_path, "http://127.0.0.1:9")
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(config), "init"]).exit_code == 0

    result = runner.invoke(app, ["--config", str(config), "check", "--offline", "--json"])
    assert result.exit_code == 1, result.output
    (shopee,) = json.loads(result.stdout)["channels"]
    assert (shopee["ok"], shopee["connected"]) == (False, False)
    assert "not connected yet: run `omnisync auth shopee`" in shopee["messages"]

    # Once `omnisync auth` has stored tokens, the same check passes.
    with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
        ledger.save_tokens("shopee", {"access_token": "a", "refresh_token": "r", "shop_id": "1"})
    result = runner.invoke(app, ["--config", str(config), "check", "--offline", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["channels"][0]["connected"] is True


def test_check_offline_does_not_take_an_empty_token_from_the_config_for_a_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cron environment that sets the variable but leaves it empty: the adapter has no token
    # to start from, so `check` must not say the shop is connected.
    monkeypatch.setenv("SHOPEE_PARTNER_KEY", shopee_api.PARTNER_KEY)
    monkeypatch.setenv("SHOPEE_ACCESS_TOKEN", "")
    config = write_config(tmp_path, "http://127.0.0.1:9")
    config.write_text(config.read_text() + 'access_token = "${SHOPEE_ACCESS_TOKEN}"\n')
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(config), "init"]).exit_code == 0

    result = runner.invoke(app, ["--config", str(config), "check", "--offline", "--json"])

    assert result.exit_code == 1, result.output
    (shopee,) = json.loads(result.stdout)["channels"]
    assert shopee["connected"] is False
    assert "not connected yet: run `omnisync auth shopee`" in shopee["messages"]


def test_a_seller_connects_a_shop_and_syncs_without_writing_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPEE_PARTNER_KEY", shopee_api.PARTNER_KEY)
    monkeypatch.setenv("NO_COLOR", "1")
    fake = FakeShopee()
    tee = fake.add_item("TEE-M", 10)
    mug = fake.add_variations("MUG", [("MUG-RED", 10), ("MUG-BLUE", 10)])
    fake.add_order([(tee, 2), (mug[0], 1)], updated=int(time.time()) - 600)
    runner = CliRunner()
    with serve(fake) as url:
        config = write_config(tmp_path, url)

        def omnisync(*args: str) -> tuple[int, str]:
            result = runner.invoke(app, ["--config", str(config), *args])
            return result.exit_code, result.output

        assert omnisync("init")[0] == 0  # only init makes the ledger
        for sku in ("TEE-M", "MUG-RED", "MUG-BLUE"):
            assert omnisync("stock", "set", sku, "10", "--new")[0] == 0

        # Step 1: the link. Opening it (the fake checks its signature) lands on the redirect.
        code, output = omnisync("auth", "shopee")
        assert code == 0, output
        link = next(word for word in output.split() if "/api/v2/shop/auth_partner?" in word)
        landed = httpx.get(link).json()["redirect_to"]
        answer = dict(parse_qsl(urlsplit(landed).query))
        assert answer["shop_id"] == str(shopee_api.SHOP_ID)

        # Step 2: the code (and the shop id) from that address.
        code, output = omnisync(
            "auth", "shopee", "--code", answer["code"], "--shop-id", answer["shop_id"]
        )
        assert code == 0, output
        assert f"shop {shopee_api.SHOP_ID}" in output

        code, output = omnisync("check")
        assert code == 0, output
        assert "Toko Fake" in output and "read products" in output

        code, output = omnisync("sync", "--json", "--since", "1d")
        assert code == 0, output
        report = json.loads(output)
        assert report["channels"]["shopee"]["status"] == "ok", report

    # Stock 10 each; Shopee sold 2 TEE-M and 1 MUG-RED.
    assert (fake.stock(tee), fake.stock(mug[0]), fake.stock(mug[1])) == (8, 9, 10)
    with Ledger.open(tmp_path / "inventory.db", write=True) as ledger:
        stored = ledger.load_tokens("shopee")
    assert stored["access_token"] in fake.access
    # Nothing a seller sees carries the key or a token.
    for secret in (shopee_api.PARTNER_KEY, *fake.access, *fake.refresh):
        assert secret not in output
