"""Reading omnisync.toml: defaults, and errors that name the file, line, key and what fits."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnisync.channels import CHANNEL_TYPES
from omnisync.channels.base import (
    Channel,
    ChannelConfig,
    ChannelSettings,
    ChannelType,
    SecretStr,
    TokenStore,
)
from omnisync.cli import app
from omnisync.config import DEFAULT_CONFIG, SkuOverride, load_config, resolve_config_path
from omnisync.errors import ConfigError
from omnisync.ledger import Ledger
from omnisync.redact import Secret
from tests.helpers import Shop, invoke

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TOKEN = "shpat_0123456789abcdef"


class VaultSettings(ChannelSettings):
    """A stand-in HTTP channel type with a credential, as the real adapters declare them."""

    store: str
    token: SecretStr
    region: str = "sg"
    refresh_token: SecretStr | None = None  # optional, as when `omnisync auth` stores one


def _never_opened(
    config: ChannelConfig, http: httpx.AsyncClient | None, tokens: TokenStore | None
) -> Channel:
    raise AssertionError("config tests never open a channel")


@contextmanager
def _vault_registered() -> Iterator[None]:
    CHANNEL_TYPES["vault"] = ChannelType(settings=VaultSettings, open=_never_opened, http=True)
    try:
        yield
    finally:
        del CHANNEL_TYPES["vault"]


@pytest.fixture
def vault() -> Iterator[None]:
    """Register the `vault` type for one test: config handles every HTTP type the same way."""
    with _vault_registered():
        yield


def write(tmp_path: Path, text: str, *, mode: int = 0o600) -> Path:
    path = tmp_path / "omnisync.toml"
    path.write_text(text.lstrip("\n"))
    os.chmod(path, mode)
    return path


def error_of(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {})
    assert caught.value.exit_code == 2
    return str(caught.value)


# -- what a valid file gives -----------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, '[channels.web]\ntype = "fake"\npath = "fake/web.json"\n')
    config = load_config(path, environ={})
    assert config.ledger_path == tmp_path / "inventory.db"
    assert config.overlap == timedelta(minutes=10)
    assert config.restock_returns is True
    assert config.max_change == 0.5
    web = config.channels["web"]
    assert (web.type, web.buffer, web.share, web.enabled) == ("fake", 0, Fraction(1), True)
    assert web.max is None
    assert web.base_dir == tmp_path
    assert (config.skus, config.last_units, config.priority) == ({}, 0, None)
    assert config.warnings == ()


def test_a_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[ledger]
path = "data/stock.db"

[sync]
overlap = "2h"
restock_returns = false
max_change = 0.25
last_units = 3
priority = "web"

[channels.web]
type = "fake"
path = "${FAKE_DIR}/web.json"
buffer = 2
share = 0.29
enabled = false
max = 40

[mapping.web]
"WEB-TEE-M" = " TEE-M "

[bundles]
"GIFT-SET" = { "MUG" = 1, "TEE-M" = 2 }

[skus."TEE-M"]
buffer = 5
share = 0.29

[skus." MUG "]
share = 1

[skus]
"GIFT-SET" = { buffer = 0 }
""",
    )
    config = load_config(path, environ={"FAKE_DIR": "/srv/fake"})
    assert config.ledger_path == tmp_path / "data" / "stock.db"
    assert (config.overlap, config.restock_returns, config.max_change) == (
        timedelta(hours=2),
        False,
        0.25,
    )
    web = config.channels["web"]
    assert (web.buffer, web.enabled) == (2, False)
    # Exactly 29/100, so that floor(100 × share) is 29 and not 28.
    assert web.share == Fraction(29, 100)
    assert web.settings.model_dump()["path"] == "/srv/fake/web.json"
    assert config.mapping == {"web": {"WEB-TEE-M": "TEE-M"}}
    assert config.bundles == {"GIFT-SET": {"MUG": 1, "TEE-M": 2}}
    assert web.max == 40
    assert (config.last_units, config.priority) == (3, "web")
    # A SKU's share is exact like a channel's; its name is trimmed like a mapped SKU.
    assert config.skus == {
        "TEE-M": SkuOverride(buffer=5, share=Fraction(29, 100)),
        "MUG": SkuOverride(buffer=None, share=Fraction(1)),
        "GIFT-SET": SkuOverride(buffer=0, share=None),
    }


def test_an_absolute_ledger_path_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, f'[ledger]\npath = "{tmp_path / "elsewhere.db"}"\n')
    assert load_config(path, environ={}).ledger_path == tmp_path / "elsewhere.db"


# -- errors --------------------------------------------------------------------------------

FAKE = '[channels.web]\ntype = "fake"\npath = "web.json"\n'


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        pytest.param(
            '[ledger]\npath = "x.db"\n\n[sink]\nx = 1\n',
            4,
            [
                "top level key 'sink'",
                "unknown table",
                "expected one of: bundles, channels, ledger, locations, mapping, report, skus, "
                "sync",
            ],
            id="unknown-table",
        ),
        pytest.param(
            FAKE + "bufer = 2\n",
            4,
            [
                "[channels.web] key 'bufer'",
                "unknown key",
                "expected one of: buffer, enabled, fail, location, max, path, sell_from, share, "
                "type",
            ],
            id="unknown-channel-key",
        ),
        pytest.param(
            '[channels.web] # my site\ntype = "fake"\npath = "web.json"\nbufer = 2\n',
            4,
            ["[channels.web] key 'bufer'"],
            id="header-with-comment",
        ),
        pytest.param(
            FAKE + 'buffer = "2"\n',
            4,
            ["[channels.web] key 'buffer'", "expected a whole number ≥ 0", "got '2'"],
            id="buffer-string",
        ),
        pytest.param(
            FAKE + "buffer = -1\n",
            4,
            ["key 'buffer'", "expected a whole number ≥ 0", "got -1"],
            id="buffer-negative",
        ),
        pytest.param(
            FAKE + "share = 1.5\n",
            4,
            ["key 'share'", "expected a fraction from 0 to 1", "got 1.5"],
            id="share-above-1",
        ),
        pytest.param(
            FAKE + 'enabled = "yes"\n',
            4,
            ["key 'enabled'", "expected true or false", "got 'yes'"],
            id="enabled-string",
        ),
        pytest.param(
            '[sync]\noverlap = "10 minutes"\n',
            2,
            ["[sync] key 'overlap'", 'expected a duration like "10m"', "got '10 minutes'"],
            id="overlap-words",
        ),
        pytest.param(
            "[sync]\noverlap = 10\n",
            2,
            ["[sync] key 'overlap'", 'expected a duration like "10m"', "got 10"],
            id="overlap-number",
        ),
        pytest.param(
            "[sync]\nmax_change = 2\n",
            2,
            ["[sync] key 'max_change'", "expected a fraction from 0 to 1", "got 2"],
            id="max-change-2",
        ),
        pytest.param(
            '[sync]\nrestock_returns = "no"\n',
            2,
            ["[sync] key 'restock_returns'", "expected true or false"],
            id="restock-string",
        ),
        pytest.param(
            "[sync]\nmax_cange = 0.5\n",
            2,
            [
                "[sync] key 'max_cange'",
                "expected one of: last_units, max_change, overlap, priority, restock_returns",
            ],
            id="unknown-sync-key",
        ),
        pytest.param(
            '[ledger]\nfile = "x.db"\n',
            2,
            ["[ledger] key 'file'", "expected one of: path"],
            id="unknown-ledger-key",
        ),
        pytest.param(
            '[channels.web]\ntype = "shopfiy"\n',
            2,
            [
                "[channels.web] key 'type'",
                "unknown channel type 'shopfiy'",
                f"expected one of: {', '.join(sorted(CHANNEL_TYPES))}",
            ],
            id="unknown-type",
        ),
        pytest.param(
            '[channels.web]\npath = "web.json"\n',
            1,
            ["[channels.web]", "missing key 'type'"],
            id="missing-type",
        ),
        pytest.param(
            '[channels.web]\ntype = "fake"\n',
            1,
            ["[channels.web]", "missing key 'path'"],
            id="missing-fake-path",
        ),
        pytest.param(
            '[channels.web]\ntype = "fake"\npath = "${FAKE_DIR}/web.json"\n',
            3,
            ["[channels.web] key 'path'", "environment variable FAKE_DIR is not set"],
            id="missing-var",
        ),
        pytest.param(
            FAKE + '\n[mapping.shopee]\n"SHP-TEE-M" = "TEE-M"\n',
            5,
            ["[mapping.shopee]", "no channel named 'shopee'", "configured: web"],
            id="mapping-unknown-channel",
        ),
        pytest.param(
            FAKE + '\n[mapping.web]\n"WEB-TEE-M" = 3\n',
            6,
            ["[mapping.web] key 'WEB-TEE-M'", "expected a SKU string, got 3"],
            id="mapping-not-a-string",
        ),
        pytest.param(
            '[bundles]\n"MUG-SET" = { "MUG" = 2 }\n"GIFT-SET" = { "MUG" = 0, "TEE-M" = 1 }\n',
            3,
            ["[bundles] key 'GIFT-SET'", "component 'MUG'", "expected a whole number ≥ 1, got 0"],
            id="bundle-zero-count",
        ),
        pytest.param(
            '[bundles]\n"MUG-SET" = { "MUG" = 2 }\n"GIFT-SET" = { "MUG-SET" = 1 }\n',
            3,
            ["[bundles] key 'GIFT-SET'", "component 'MUG-SET' is itself a bundle"],
            id="bundle-of-bundles",
        ),
        pytest.param(
            '[channels]\nweb = { type = "fake", path = "web.json", buffer = "2" }\n',
            2,
            ["[channels.web] key 'buffer'", "got '2'"],
            id="inline-table",
        ),
        pytest.param(
            '[channels."my shop"]\ntype = "fake"\npath = "web.json"\n',
            1,
            ["a channel name may hold only letters, digits, - and _"],
            id="bad-channel-name",
        ),
        pytest.param(
            FAKE + "max = -1\n",
            4,
            ["[channels.web] key 'max'", "expected a whole number ≥ 0, got -1"],
            id="max-negative",
        ),
        pytest.param(
            FAKE + "max = 2.5\n",
            4,
            ["[channels.web] key 'max'", "expected a whole number ≥ 0, got 2.5"],
            id="max-fraction",
        ),
        pytest.param(
            "[sync]\nlast_units = -2\n",
            2,
            ["[sync] key 'last_units'", "expected a whole number ≥ 0, got -2"],
            id="last-units-negative",
        ),
        pytest.param(
            FAKE + "\n[sync]\nlast_units = 2\n",
            5,
            ["[sync]: missing key 'priority'", "last_units = 2", "(configured: web)"],
            id="last-units-without-priority",
        ),
        pytest.param(
            FAKE + '\n[sync]\nlast_units = 2\npriority = "shop"\n',
            7,
            ["[sync] key 'priority'", "no channel named 'shop' (configured: web)"],
            id="priority-unknown-channel",
        ),
        pytest.param(
            FAKE + "\n[sync]\npriority = 1\n",
            6,
            ["[sync] key 'priority'", "expected a channel name (a string), got 1"],
            id="priority-not-a-string",
        ),
        pytest.param(
            '[skus."TEE-M"]\nbuffer = -1\n',
            2,
            ["[skus.TEE-M] key 'buffer'", "expected a whole number ≥ 0, got -1"],
            id="sku-buffer-negative",
        ),
        pytest.param(
            '[skus."TEE-M"]\nshare = 1.01\n',
            2,
            ["[skus.TEE-M] key 'share'", "expected a fraction from 0 to 1, got 1.01"],
            id="sku-share-above-1",
        ),
        pytest.param(
            '[skus."TEE-M"]\nshare = "0.5"\n',
            2,
            ["[skus.TEE-M] key 'share'", "expected a fraction from 0 to 1, got '0.5'"],
            id="sku-share-string",
        ),
        pytest.param(
            '[skus."TEE-M"]\nbufer = 1\n',
            2,
            ["[skus.TEE-M] key 'bufer'", "unknown key (expected one of: buffer, share)"],
            id="sku-unknown-key",
        ),
        pytest.param(
            '[skus]\n"TEE-M" = 3\n',
            2,
            ["[skus] key 'TEE-M'", "expected a table of buffer and share, got 3"],
            id="sku-not-a-table",
        ),
        pytest.param(
            '[skus." "]\nbuffer = 1\n',
            1,
            ["[skus] key ' '", "expected a SKU, got ' '"],
            id="sku-blank",
        ),
        pytest.param(
            '[skus."TEE-M"]\nbuffer = 1\n\n[skus."TEE-M "]\nshare = 0.5\n',
            4,
            ["[skus] key 'TEE-M '", "the same SKU as 'TEE-M'"],
            id="sku-twice",
        ),
        pytest.param(
            '[bundles."GIFT-SET"]\n"MUG" = 0\n',
            1,
            ["[bundles] key 'GIFT-SET'", "component 'MUG': expected a whole number ≥ 1, got 0"],
            id="bundle-as-a-table-header",
        ),
        pytest.param(
            "skus = 3\n",
            1,
            ["top level key 'skus'", "expected a table, got 3"],
            id="skus-not-a-table",
        ),
        pytest.param(
            '[ledger]\npath = ""\n',
            2,
            ["[ledger] key 'path'", "expected a file path (a string), got ''"],
            id="ledger-path-empty",
        ),
    ],
)
def test_a_config_error_names_file_line_key_and_what_is_expected(
    tmp_path: Path, text: str, line: int, expected: list[str]
) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}:{line}: "), message
    for part in expected:
        assert part in message


def test_invalid_toml_names_the_file_and_where(tmp_path: Path) -> None:
    path = write(tmp_path, '[channels.web]\ntype = "fake\n')
    message = error_of(path)
    assert message.startswith(f"{path}:2: not valid TOML: ")


def test_a_missing_config_file_says_how_to_make_one(tmp_path: Path) -> None:
    message = error_of(tmp_path / "nope.toml")
    assert str(tmp_path / "nope.toml") in message
    assert "omnisync init" in message and "--config" in message


# -- HTTP channels: base_url and secrets -----------------------------------------------------


def vault_config(extra: str = "", token: str = '"${VAULT_TOKEN}"') -> str:
    return f'[channels.shop]\ntype = "vault"\nstore = "example"\ntoken = {token}\n{extra}'


@pytest.mark.usefixtures("vault")
@pytest.mark.parametrize(
    ("base_url", "kept"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://localhost:3000/api", "http://localhost:3000/api"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://sandbox.example.com", "https://sandbox.example.com"),
    ],
)
def test_an_accepted_base_url(tmp_path: Path, base_url: str, kept: str) -> None:
    path = write(tmp_path, vault_config(f'base_url = "{base_url}"\n'))
    config = load_config(path, environ={"VAULT_TOKEN": TOKEN})
    assert config.channels["shop"].base_url == kept


@pytest.mark.usefixtures("vault")
@pytest.mark.parametrize(
    "base_url",
    [
        "http://example.com",
        "http://10.0.0.5:8080",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "ftp://127.0.0.1",
        "example.com",
    ],
)
def test_plain_http_to_a_non_loopback_host_is_refused(tmp_path: Path, base_url: str) -> None:
    path = write(tmp_path, vault_config(f'base_url = "{base_url}"\n'))
    message = error_of(path, {"VAULT_TOKEN": TOKEN})
    assert message.startswith(f"{path}:5: [channels.shop] key 'base_url'")
    assert "expected an https:// URL (plain http:// only for a loopback host)" in message


@pytest.mark.usefixtures("vault")
@pytest.mark.parametrize(
    ("value", "got"), [("0", "0"), ("-5", "-5"), ('"30"', "'30'"), ("inf", "inf")]
)
def test_a_timeout_is_seconds_above_zero(tmp_path: Path, value: str, got: str) -> None:
    path = write(tmp_path, vault_config(f"timeout = {value}\n"))
    assert error_of(path, {"VAULT_TOKEN": TOKEN}) == (
        f"{path}:5: [channels.shop] key 'timeout': expected seconds > 0, got {got}"
    )


@pytest.mark.usefixtures("vault")
def test_a_base_url_from_the_environment_is_checked_once_filled_in(tmp_path: Path) -> None:
    path = write(tmp_path, vault_config('base_url = "${SANDBOX}/api"\n'))
    environ = {"VAULT_TOKEN": TOKEN, "SANDBOX": "http://127.0.0.1:9000"}
    assert load_config(path, environ=environ).channels["shop"].base_url == (
        "http://127.0.0.1:9000/api"
    )
    environ["SANDBOX"] = "http://sandbox.example.com"
    assert "plain http:// only for a loopback host" in error_of(path, environ)


def test_a_channel_types_own_check_is_said_in_its_words(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[channels.shop]\ntype = "woocommerce"\nurl = "http://shop.example.com"\n'
        'key = "${K}"\nsecret = "${K}"\n',
    )
    assert error_of(path, {"K": "ck_1"}) == (
        f"{path}:3: [channels.shop] key 'url': expected the shop's https:// address "
        "(http:// only for a loopback host), got 'http://shop.example.com'"
    )


def test_base_url_is_not_a_key_of_file_channels(tmp_path: Path) -> None:
    path = write(tmp_path, FAKE + 'base_url = "https://example.com"\n')
    assert "unknown key" in error_of(path)


@pytest.mark.usefixtures("vault")
def test_a_secret_from_the_environment_is_wrapped_and_gives_no_warning(tmp_path: Path) -> None:
    path = write(tmp_path, vault_config(), mode=0o644)
    config = load_config(path, environ={"VAULT_TOKEN": TOKEN})
    token = config.channels["shop"].settings.token  # type: ignore[attr-defined]
    assert isinstance(token, Secret) and token.reveal() == TOKEN
    assert TOKEN not in repr(config)
    assert config.warnings == ()


@pytest.mark.usefixtures("vault")
def test_a_literal_secret_in_a_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    path = write(tmp_path, vault_config(token=f'"{TOKEN}"'), mode=0o644)
    config = load_config(path, environ={})
    assert len(config.warnings) == 1
    warning = config.warnings[0]
    assert str(path) in warning and "[channels.shop] key 'token'" in warning
    assert "chmod 600" in warning
    assert TOKEN not in warning


@pytest.mark.usefixtures("vault")
def test_a_literal_secret_in_an_owner_only_file_is_not_warned_about(tmp_path: Path) -> None:
    path = write(tmp_path, vault_config(token=f'"{TOKEN}"'), mode=0o600)
    assert load_config(path, environ={}).warnings == ()


@pytest.mark.usefixtures("vault")
@pytest.mark.parametrize(
    "token",
    [
        "12345678901234",  # a number where a string belongs
        '["shpat_secret_in_a_list"]',
    ],
)
def test_a_secret_value_never_appears_in_a_config_error(tmp_path: Path, token: str) -> None:
    path = write(tmp_path, vault_config(token=token))
    message = error_of(path)
    assert message.startswith(f"{path}:4: [channels.shop] key 'token'")
    assert "***" in message
    assert "12345678901234" not in message and "shpat_secret_in_a_list" not in message


@pytest.mark.usefixtures("vault")
def test_an_optional_secret_is_a_secret_too(tmp_path: Path) -> None:
    path = write(tmp_path, vault_config(f'refresh_token = "{TOKEN}"\n'), mode=0o644)
    config = load_config(path, environ={"VAULT_TOKEN": "x"})
    assert [w for w in config.warnings if "key 'refresh_token'" in w]
    path = write(tmp_path, vault_config("refresh_token = 98765432123\n"))
    message = error_of(path, {"VAULT_TOKEN": "x"})
    assert message.startswith(f"{path}:5: [channels.shop] key 'refresh_token'")
    assert "***" in message and "98765432123" not in message


@pytest.mark.usefixtures("vault")
def test_errors_in_other_keys_do_not_show_the_secret(tmp_path: Path) -> None:
    path = write(tmp_path, vault_config('region = 5\nbase_url = "http://example.com"\n'))
    message = error_of(path, {"VAULT_TOKEN": TOKEN})
    assert TOKEN not in message


REAL_HTTP_TYPES = {
    # type: (keys besides the secrets, the secret keys)
    "shopify": ('store = "example.myshopify.com"\nlocation = 1\n', ("token",)),
    "woocommerce": ('url = "https://shop.example.com"\n', ("key", "secret")),
}


@pytest.mark.parametrize("type_name", sorted(REAL_HTTP_TYPES))
def test_literal_secrets_of_real_channel_types_are_warned_about_and_never_shown(
    tmp_path: Path, type_name: str
) -> None:
    if type_name not in CHANNEL_TYPES:
        pytest.skip(f"the {type_name} adapter is not registered")
    keys, secrets = REAL_HTTP_TYPES[type_name]
    literal = "".join(f'{key} = "{TOKEN}_{key}"\n' for key in secrets)
    path = write(tmp_path, f'[channels.shop]\ntype = "{type_name}"\n{keys}{literal}', mode=0o644)
    config = load_config(path, environ={})
    assert sorted(config.warnings) == sorted(
        f"{path}: [channels.shop] key '{key}' holds a literal secret in a file other users "
        'can read; use "${VAR}" and the environment, or chmod 600 the file'
        for key in secrets
    )
    assert TOKEN not in repr(config.channels["shop"])

    # A wrong value for a secret is reported without echoing it.
    wrong = "".join(f"{key} = 98765432123\n" for key in secrets)
    path = write(tmp_path, f'[channels.shop]\ntype = "{type_name}"\n{keys}{wrong}')
    message = error_of(path)
    assert f"key '{secrets[0]}'" in message and "***" in message
    assert "98765432123" not in message


# -- which file ----------------------------------------------------------------------------


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_config_path(None) == DEFAULT_CONFIG == Path("omnisync.toml")
    monkeypatch.setenv("OMNISYNC_CONFIG", "/etc/omnisync/env.toml")
    assert resolve_config_path(None) == Path("/etc/omnisync/env.toml")
    assert resolve_config_path(Path("cli.toml")) == Path("cli.toml")


def _shop_with_sku(root: Path, sku: str) -> Path:
    """A config in `root` whose ledger holds one SKU, so a test sees which file was read."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "omnisync.toml").write_text('[ledger]\npath = "inventory.db"\n')
    with Ledger.open(root / "inventory.db", write=True) as ledger, ledger.atomic():
        ledger.add_sku(sku, now=NOW)
    return root / "omnisync.toml"


def _skus(runner: CliRunner, *args: str) -> list[str]:
    result = runner.invoke(app, [*args, "stock", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [row["sku"] for row in json.loads(result.stdout)]


def test_the_cli_reads_option_then_environment_then_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _shop_with_sku(tmp_path / "here", "HERE")
    env = _shop_with_sku(tmp_path / "env", "ENV")
    option = _shop_with_sku(tmp_path / "option", "OPTION")
    monkeypatch.chdir(here.parent)
    runner = CliRunner()
    assert _skus(runner) == ["HERE"]
    monkeypatch.setenv("OMNISYNC_CONFIG", str(env))
    assert _skus(runner) == ["ENV"]
    assert _skus(runner, "--config", str(option)) == ["OPTION"]


def test_a_bad_config_exits_2_with_one_error_line(shop: Shop) -> None:
    shop.write_channel("web")
    shop.write_config({"web": {"buffer": "2"}}, init=False)
    line = shop.config.read_text().splitlines().index('buffer = "2"') + 1
    result = invoke(CliRunner(), shop, "sync")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {shop.config}:{line}: [channels.web] key 'buffer': expected a whole number ≥ 0, "
        "got '2'\n"
    )
    assert "Traceback" not in result.output
    assert not shop.ledger.exists()


def test_a_missing_config_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["sync"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: omnisync.toml: no such config file")


# -- any file: a Config or a ConfigError, never a traceback ----------------------------------

_keys = st.sampled_from(
    ["type", "path", "buffer", "share", "enabled", "base_url", "timeout", "store", "token"]
    + ["ledger", "sync", "channels", "mapping", "bundles", "overlap", "max_change", "web"]
    + ["skus", "max", "last_units", "priority", " ", "TEE-M"]
)
_values = st.recursive(
    st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(["", "fake", "vault", "10m", "x.json", "${NOPE}", "http://h", "0.5"]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=6,
)
_channel = st.fixed_dictionaries(
    {"type": st.sampled_from(["fake", "vault"]) | _values},
    optional={
        key: _values
        for key in ("path", "buffer", "share", "base_url", "store", "token", "max", "timeout")
    },
)
_documents = st.fixed_dictionaries(
    {},
    optional={
        "ledger": st.dictionaries(st.sampled_from(["path", "file"]), _values, max_size=2),
        "sync": st.dictionaries(
            st.sampled_from(["overlap", "max_change", "restock_returns", "last_units", "priority"]),
            _values | st.sampled_from(["web", "shop"]),
            max_size=3,
        ),
        "channels": st.dictionaries(st.sampled_from(["web", "shop"]), _channel | _values),
        "mapping": st.dictionaries(st.sampled_from(["web", "x"]), _values, max_size=2),
        "bundles": st.dictionaries(st.sampled_from(["SET", "MUG"]), _values, max_size=2),
        "skus": st.dictionaries(
            st.sampled_from(["TEE-M", " TEE-M", " "]),
            st.dictionaries(st.sampled_from(["buffer", "share", "bufer"]), _values) | _values,
            max_size=2,
        ),
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_config_is_read_or_refused_with_a_config_error(document: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder, _vault_registered():
        path = Path(folder) / "omnisync.toml"
        path.write_text(tomli_w.dumps(document))
        try:
            load_config(path, environ={})
        except ConfigError as exc:
            assert str(exc).startswith(str(path))


def test_an_unknown_key_lists_each_expected_key_once(tmp_path: Path) -> None:
    # A shopify channel has a `location` of its own besides every channel's `location`.
    path = write(tmp_path, '[channels.web]\ntype = "shopify"\nbogus = 1\n')
    message = error_of(path)
    assert message.startswith(f"{path}:3: [channels.web] key 'bogus': unknown key (expected")
    expected = message.split("expected one of: ")[1].rstrip(")").split(", ")
    assert "location" in expected
    assert len(expected) == len(set(expected)), message
