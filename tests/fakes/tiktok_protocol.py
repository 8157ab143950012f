"""TikTok Shop's wire protocol for the fake: its signature, its envelope, its page tokens.

Sources: partner.tiktokshop.com as scraped in lazykern/ecommerce-api-docs@eba059e3
(data/raw/tiktok/developer-guide/tiktok-shop-api-concepts/sign-your-api-request.json,
common-parameters.json, and the response samples of every spec under api-reference/).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from tests.fakes.server import Response


def expected_sign(secret: str, path: str, query: dict[str, str], body: bytes) -> str:
    # sign-your-api-request.json: keys except sign/access_token, sorted, {key}{value}; path
    # first; the raw body appended (not multipart); wrapped in the secret; HMAC-SHA256, hex.
    pairs = "".join(f"{k}{query[k]}" for k in sorted(query) if k not in ("sign", "access_token"))
    wrapped = secret + path + pairs + body.decode() + secret
    return hmac.new(secret.encode(), wrapped.encode(), hashlib.sha256).hexdigest()


def envelope(data: Any = None, *, code: int = 0, message: str = "Success") -> dict[str, Any]:
    # common-parameters / every spec's response sample: code (int, 0 = success), message,
    # request_id, data.
    body: dict[str, Any] = {"code": code, "message": message, "request_id": "2026FAKE0001"}
    if data is not None:
        body["data"] = data
    return body


def error(status: int, code: int, message: str) -> Response:
    # A refusal carries `"data": null` (captured Get Authorized Shops answer with a bad sign:
    # HTTP 401, {"code":106001,"data":null,"message":"Invalid credentials. ...",
    # "request_id":...}, https://tiktok-api.gemyno-lab.fr/scripts/get_shops.php).
    return Response(status, envelope(code=code, message=message) | {"data": None})


# Real page tokens are standard base64 with `+` and `/` in them (get-order-list's sample:
# "6AsPQsUMvH3RkchNUPPh22NROHkE0D8pmq/N5M1kHYcZmtRyv9aVrNv65W7Q6tFA+7D1ud64MPNz5OaT"): these
# start with "+/", so a token sent back unencoded (a `+` read as a space) or signed encoded
# fails here as it would there.
_PREFIX = b"\xfb\xff"


def page_token(offset: int) -> str:
    return base64.b64encode(_PREFIX + f"o{offset}".encode()).decode()


def page_offset(token: str) -> int | None:
    try:
        raw = base64.b64decode(token.encode(), validate=True)
        text = raw.removeprefix(_PREFIX).decode()
        return int(text[1:]) if raw.startswith(_PREFIX) and text.startswith("o") else None
    except (ValueError, UnicodeDecodeError):
        return None
