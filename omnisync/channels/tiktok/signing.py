"""TikTok Shop's request signature: HMAC-SHA256 over path, sorted query and body, lower hex."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

# Query keys that never enter the signature (partner.tiktokshop.com, "Sign your API request",
# step 1: "Extract all query parameters excluding `sign` and `access_token`").
UNSIGNED = frozenset({"sign", "access_token"})


def base_string(path: str, query: Mapping[str, str | int], body: bytes = b"") -> str:
    """What is signed before wrapping: path, then `{key}{value}` by sorted key, then the body.

    Steps 1–4 of the signing guide (lazykern/ecommerce-api-docs@eba059e3:
    data/raw/tiktok/developer-guide/tiktok-shop-api-concepts/sign-your-api-request.json).
    The body is the exact bytes sent; a `multipart/form-data` body is left out, which
    omnisync never sends.
    """
    pairs = "".join(f"{key}{query[key]}" for key in sorted(query) if key not in UNSIGNED)
    return path + pairs + body.decode()


def sign(app_secret: str, path: str, query: Mapping[str, str | int], body: bytes = b"") -> str:
    """The `sign` query parameter: HMAC-SHA256(app_secret, secret + base + secret), lower hex."""
    wrapped = app_secret + base_string(path, query, body) + app_secret
    return hmac.new(app_secret.encode(), wrapped.encode(), hashlib.sha256).hexdigest()
