"""StoredTokens: the ledger's tokens win, rotated ones are committed before use, none leak."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnisync.channels.tokens import StoredTokens
from omnisync.ledger import Ledger
from omnisync.redact import REDACTOR, Secret

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(tmp_path / "inventory.db", write=True)


def test_config_values_serve_until_the_ledger_has_its_own(ledger: Ledger) -> None:
    tokens = StoredTokens(
        "shopee", ledger, configured={"access_token": Secret("cfg-access"), "refresh_token": None}
    )
    assert tokens.get("access_token") == "cfg-access"
    assert tokens.get("refresh_token") is None
    assert not tokens.from_ledger("access_token")

    tokens.save({"access_token": "new-access", "refresh_token": "new-refresh"})

    again = StoredTokens("shopee", ledger, configured={"access_token": Secret("cfg-access")})
    assert again.get("access_token") == "new-access"
    assert again.get("refresh_token") == "new-refresh"
    assert again.from_ledger("access_token")


def test_tokens_are_kept_per_channel(ledger: Ledger) -> None:
    StoredTokens("a", ledger).save({"access_token": "token-of-a"})
    assert StoredTokens("b", ledger).get("access_token") is None
    assert StoredTokens("a", ledger).get("access_token") == "token-of-a"


def test_expiry_is_saved_with_the_token_and_read_back(ledger: Ledger) -> None:
    tokens = StoredTokens("shop", ledger)
    assert not tokens.expired("access_token", now=NOW)  # unknown expiry: the platform decides
    tokens.save({"access_token": "access-1"}, expires={"access_token": NOW + timedelta(hours=4)})
    again = StoredTokens("shop", ledger)
    assert again.expires_at("access_token") == NOW + timedelta(hours=4)
    assert not again.expired("access_token", now=NOW)
    assert not again.expired("access_token", now=NOW + timedelta(hours=3, minutes=54))
    # Within the margin a run would start on a token that dies half way: refresh first.
    assert again.expired("access_token", now=NOW + timedelta(hours=3, minutes=56))
    assert again.expired("access_token", now=NOW + timedelta(hours=5))


def test_an_expiry_without_its_token_says_nothing(ledger: Ledger) -> None:
    tokens = StoredTokens("shop", ledger, configured={"access_token": "from-config"})
    tokens.save({}, expires={"access_token": NOW - timedelta(days=1)})
    # The stored expiry belongs to a stored token; the config's token is judged by the platform.
    assert (
        StoredTokens("shop", ledger, configured={"access_token": "x"}).expires_at("access_token")
        is None
    )


def test_saved_tokens_are_scrubbed_from_any_text(ledger: Ledger) -> None:
    StoredTokens("shop", ledger).save({"refresh_token": "rotated-refresh-0123456789"})
    assert REDACTOR.scrub("refresh=rotated-refresh-0123456789&x=1") == "refresh=***&x=1"


def test_tokens_loaded_from_the_ledger_are_scrubbed_too(tmp_path: Path) -> None:
    """A fresh process knows a stored token only by loading it: loading registers it."""
    path = tmp_path / "inventory.db"
    with Ledger.open(path, write=True) as ledger:
        ledger.save_tokens("shop", {"access_token": "stored-by-an-earlier-run-42"})
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from omnisync.channels.tokens import StoredTokens
        from omnisync.ledger import Ledger
        from omnisync.redact import REDACTOR
        with Ledger.open(Path({str(path)!r}), write=False) as ledger:
            StoredTokens("shop", ledger)
        print(REDACTOR.scrub("token stored-by-an-earlier-run-42"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "token ***"


def test_a_rotated_token_is_in_the_ledger_before_save_returns(tmp_path: Path) -> None:
    """The single-use refresh token must survive a crash right after it arrives: save()
    commits, so another connection (another process) sees it at once."""
    path = tmp_path / "inventory.db"
    ledger = Ledger.open(path, write=True)
    StoredTokens("shopee", ledger).save({"refresh_token": "rotated-once"})
    with Ledger.open(path, write=False) as reader:
        assert reader.load_tokens("shopee") == {"refresh_token": "rotated-once"}
    ledger.close()


def test_without_a_store_tokens_live_in_memory() -> None:
    tokens = StoredTokens("shop", None, configured={"refresh_token": "cfg"})
    tokens.save({"refresh_token": "rotated"})
    assert tokens.get("refresh_token") == "rotated"


def test_shop_details_stored_with_the_tokens_stay_printable(ledger: Ledger) -> None:
    """A shop id saved beside the tokens names the shop in `auth` and `check` output."""
    StoredTokens("shopee", ledger).save(
        {"access_token": "secret-access-0987654321", "shop_id": "14701711"}
    )
    StoredTokens("shopee", ledger)  # a later process loading them
    assert REDACTOR.scrub("shop 14701711") == "shop 14701711"
    assert REDACTOR.scrub("token secret-access-0987654321") == "token ***"


@pytest.mark.parametrize("absurd", [10**12, 10**30, "99999999999999999999"])
def test_an_absurd_token_lifetime_never_loses_the_rotated_token(absurd: object) -> None:
    """Shopee and Lazada answer a refresh with the new (single-use) refresh token and a
    lifetime; a lifetime no datetime can hold must give "no known expiry", not an exception
    before the token is saved."""
    from omnisync.channels.lazada.api import _after
    from omnisync.channels.shopee.client import expiry

    assert expiry(NOW, absurd) is None
    assert _after(NOW, absurd) is None
