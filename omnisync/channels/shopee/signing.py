"""Shopee Open Platform v2 request signing and hosts (pure functions, no I/O).

Source: Shopee's guide "Authorization and Authentication", section "Calculating the sign
parameter" (open.shopee.com, copied in lazykern/ecommerce-api-docs@67148d16:
data/processed/shopee/guides/getting-started/authorization-and-authentication.md):

    Shop APIs:   partner_id + api path + timestamp + access_token + shop_id
    Public APIs: partner_id + api path + timestamp        (auth_partner, token/get, refresh)

concatenated with no separator, HMAC-SHA256 with the partner key as the key, lower-case hex.
The API path has no host and no query (`/api/v2/product/update_stock`); the body is never
signed. The timestamp is Unix seconds and "valid for 5 minutes".
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

# Production hosts by region (same guide, "Fixed authorization URL" / GetAccesstoken paths;
# getting-started/api-calls.md "API domains"; congminh1254/shopee-sdk@cb231e9b:
# src/schemas/region.ts SHOPEE_BASE_URLS agrees). The guide gives auth_partner only on the SG
# and CN hosts; on the BR host it is UNVERIFIED (the same path is assumed).
HOSTS: dict[str, str] = {
    "sg": "https://partner.shopeemobile.com",
    "cn": "https://openplatform.shopee.cn",
    "br": "https://openplatform.shopee.com.br",
}

AUTH_PARTNER_PATH = "/api/v2/shop/auth_partner"
TOKEN_GET_PATH = "/api/v2/auth/token/get"
TOKEN_REFRESH_PATH = "/api/v2/auth/access_token/get"


def base_string(
    partner_id: int,
    path: str,
    timestamp: int,
    access_token: str | None = None,
    shop_id: int | None = None,
) -> str:
    """The sign base string: a shop API's when a token is given, else a public API's."""
    text = f"{partner_id}{path}{timestamp}"
    if access_token is not None:
        if shop_id is None:
            raise ValueError("a shop API signature needs the shop_id")
        text += f"{access_token}{shop_id}"
    return text


def sign(
    partner_key: str,
    partner_id: int,
    path: str,
    timestamp: int,
    access_token: str | None = None,
    shop_id: int | None = None,
) -> str:
    """`sign` for one request: hex HMAC-SHA256 of the base string under the partner key."""
    message = base_string(partner_id, path, timestamp, access_token, shop_id)
    return hmac.new(partner_key.encode(), message.encode(), hashlib.sha256).hexdigest()


def authorization_url(
    host: str, partner_key: str, partner_id: int, timestamp: int, redirect: str
) -> str:
    """The seller's authorisation link: `auth_partner` signed as a public API.

    Parameters as the guide lists them: partner_id, timestamp, sign, redirect (the page the
    browser lands on afterwards with `?code=...&shop_id=...`). The link dies with its
    timestamp, 5 minutes after it is made.
    """
    query = urlencode(
        {
            "partner_id": partner_id,
            "timestamp": timestamp,
            "sign": sign(partner_key, partner_id, AUTH_PARTNER_PATH, timestamp),
            "redirect": redirect,
        }
    )
    return f"{host.rstrip('/')}{AUTH_PARTNER_PATH}?{query}"
