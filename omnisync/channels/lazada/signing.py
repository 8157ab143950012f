"""Lazada Open Platform request signing (HMAC-SHA256 over the API path and sorted parameters).

The algorithm, from the platform's "Signature algorithm" guide and its official SDKs
(lazykern/ecommerce-api-docs@eba059e3:data/processed/lazada/guides/developers-guide/
call-api-with-http-requests/signature-algorithm.md; lazop-sdk-python `sign()`):

1. take every request parameter, system (`app_key`, `timestamp`, `sign_method`,
   `access_token`) and business alike, except `sign` itself and file parameters;
2. sort them by name in ASCII order;
3. concatenate `name` + `value` for each, raw (not URL-encoded);
4. put the API path (`/orders/get`) in front;
5. HMAC-SHA256 with the app secret as the key, over the UTF-8 bytes;
6. hex, UPPER case.

The official vector (same guide): secret `helloworld`, path `/order/get`, parameters
`access_token=test, app_key=123456, order_id=1234, sign_method=sha256,
timestamp=1517820392000` sign to
`4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from omnisync.timeparse import as_utc

SIGN_METHOD = "sha256"


def base_string(api_path: str, params: Mapping[str, str]) -> str:
    """The text that is signed: the API path, then `namevalue` for each sorted parameter."""
    return api_path + "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")


def sign(app_secret: str, api_path: str, params: Mapping[str, str]) -> str:
    """The `sign` parameter of a request to `api_path` with `params` (without `sign`)."""
    message = base_string(api_path, params).encode("utf-8")
    return hmac.new(app_secret.encode("utf-8"), message, hashlib.sha256).hexdigest().upper()


def timestamp(moment: datetime) -> str:
    """The `timestamp` system parameter: milliseconds since the epoch, as text.

    The platform takes "UTC or digital format, like 2017-11-11T12:00:00Z or 1517886554000"
    and refuses one more than 7200 s from its own clock (calling-parameters.md).
    """
    return str(int(as_utc(moment).timestamp() * 1000))
