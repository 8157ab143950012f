"""`omnisync auth` then `omnisync sync` against a loopback fake Lazada, from the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from omnisync.cli import app
from omnisync.ledger import Ledger
from tests.fakes import lazada_api
from tests.fakes.lazada_api import FakeLazada
from tests.fakes.server import serve

ENV = {"LZD_SECRET": lazada_api.APP_SECRET, "NO_COLOR": "1"}


def test_connect_a_shop_then_sync_it(tmp_path: Path) -> None:
    fake = FakeLazada()
    fake.access_tokens.clear()  # nothing works until the seller connects the shop
    fake.refresh_tokens.clear()
    _, (tee,) = fake.add_product([("TEE-M", 10)])
    _, (mug,) = fake.add_product([("MUG", 10)])
    an_hour_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    # Two units of TEE-M (two items) and a cancelled MUG.
    fake.add_order(
        [("TEE-M", tee, "pending"), ("TEE-M", tee, "ready_to_ship"), ("MUG", mug, "canceled")],
        updated=an_hour_ago,
    )
    runner = CliRunner()
    config = tmp_path / "omnisync.toml"

    with serve(fake) as url:
        config.write_text(
            f"""
[ledger]
path = "inventory.db"

[channels.lzd]
type = "lazada"
app_key = "{lazada_api.APP_KEY}"
app_secret = "${{LZD_SECRET}}"
country = "id"
redirect_url = "https://seller.example/lazada/callback"
base_url = "{url}/rest"
"""
        )
        # A ledger is never made silently by `sync`: create it as `omnisync init` would.
        Ledger.open(tmp_path / "inventory.db", write=True, create=True).close()
        for sku in ("TEE-M", "MUG"):
            done = runner.invoke(
                app, ["--config", str(config), "stock", "set", sku, "10", "--new"], env=ENV
            )
            assert done.exit_code == 0, done.output

        shown = runner.invoke(app, ["--config", str(config), "auth", "lzd"], env=ENV)
        assert shown.exit_code == 0, shown.output
        assert "https://auth.lazada.com/oauth/authorize?" in shown.stdout
        assert f"client_id={lazada_api.APP_KEY}" in shown.stdout

        back = f"https://seller.example/lazada/callback?code={lazada_api.CODE}"
        connected = runner.invoke(app, ["--config", str(config), "auth", "lzd", back], env=ENV)
        assert connected.exit_code == 0, connected.output
        assert "Connected lzd" in connected.stdout

        checked = runner.invoke(app, ["--config", str(config), "check"], env=ENV)
        assert checked.exit_code == 0, checked.output
        assert "Toko Fake" in checked.output and "access token valid until" in checked.output

        synced = runner.invoke(
            app, ["--config", str(config), "sync", "--json", "--since", "1d"], env=ENV
        )

    assert synced.exit_code == 0, synced.output
    report = json.loads(synced.stdout)
    assert report["channels"]["lzd"]["status"] == "ok", report["channels"]["lzd"]
    assert report["channels"]["lzd"]["orders_fetched"] == 1
    # 10 counted; two TEE-M units are held by the order, the MUG was cancelled.
    assert fake.stock(tee) == 8 and fake.stock(mug) == 10
    output = shown.output + connected.output + checked.output + synced.output
    for secret in (lazada_api.APP_SECRET, *fake.access_tokens, *fake.refresh_tokens):
        assert secret not in output
