"""One loopback rule: every place that lets credentials travel over plain http agrees on it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from omnisync.config import load_config
from omnisync.errors import ChannelResponseError, ConfigError
from omnisync.httpclient import Budget, ChannelHttp, build_client
from omnisync.netloc import is_loopback, is_secure_url
from tests.fakes.server import FakeApp, Request, Response

# This machine is `localhost`, 127.0.0.0/8 and ::1, nothing else (RFC 6761 § 6.3, RFC 1122
# § 3.2.1.3, RFC 4291 § 2.5.3). A name that merely looks local is resolved by DNS.
HOSTS = [
    ("localhost", True),
    ("LocalHost", True),
    ("127.0.0.1", True),
    ("127.0.0.2", True),
    ("127.255.255.254", True),
    ("::1", True),
    ("[::1]", True),
    ("10.0.0.5", False),
    ("128.0.0.1", False),
    ("0.0.0.0", False),
    ("::2", False),
    ("localhost.example.com", False),
    ("127.0.0.1.nip.io", False),
    ("example.com", False),
    ("", False),
]


@pytest.mark.parametrize(("host", "loopback"), HOSTS)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("url", "secure"),
    [
        ("https://shop.example.com", True),
        ("https://10.0.0.5:8443/wp-json", True),
        ("http://127.0.0.2:8080/admin", True),
        ("http://[::1]:8080", True),
        ("http://shop.example.com", False),
        ("ftp://127.0.0.1", False),
        ("shop.example.com", False),
        ("https://", False),
        ("http://[::1", False),  # malformed: refused, not a traceback
    ],
)
def test_is_secure_url(url: str, secure: bool) -> None:
    assert is_secure_url(url) is secure


class _Ok(FakeApp):
    async def handle(self, request: Request) -> Response:
        return Response(200, {})


def _http_sends_to(url: str) -> bool:
    async def send() -> bool:
        client = build_client(transport=httpx.ASGITransport(app=_Ok()))
        http = ChannelHttp(
            "shop", budget=Budget("shop", 5.0), credential_hint="the key", client=client
        )
        try:
            await http.send("GET", url)
        except ChannelResponseError as exc:
            assert "refusing plain http://" in str(exc)
            return False
        finally:
            await client.aclose()
        return True

    return asyncio.run(send())


def _config_accepts(tmp_path: Path, key: str, url: str) -> bool:
    values = {"url": "https://shop.example.com", key: url}
    text = '[channels.shop]\ntype = "woocommerce"\nkey = "${K}"\nsecret = "${K}"\n' + "".join(
        f'{name} = "{value}"\n' for name, value in values.items()
    )
    path = tmp_path / "omnisync.toml"
    path.write_text(text)
    try:
        load_config(path, environ={"K": "ck_test"})
    except ConfigError as exc:
        assert f"key '{key}'" in str(exc) and "loopback" in str(exc)
        return False
    return True


@pytest.mark.parametrize(("host", "loopback"), [(h, lb) for h, lb in HOSTS if h])
def test_config_woocommerce_and_the_http_layer_agree_on_plain_http(
    tmp_path: Path, host: str, loopback: bool
) -> None:
    netloc = f"[{host.strip('[]')}]" if ":" in host else host
    url = f"http://{netloc}:8080"
    assert _config_accepts(tmp_path, "base_url", url) is loopback
    assert _config_accepts(tmp_path, "url", url) is loopback  # WooCommerce's own address
    assert _http_sends_to(f"{url}/wp-json/wc/v3/products") is loopback
