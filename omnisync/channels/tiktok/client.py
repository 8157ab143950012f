"""Signed calls to the TikTok Shop Open API, with the shop's tokens kept and renewed.

Every call (partner.tiktokshop.com, as scraped in lazykern/ecommerce-api-docs@eba059e3,
data/raw/tiktok/developer-guide/tiktok-shop-api-concepts/common-parameters.json and
sign-your-api-request.json):

- query `app_key`, `timestamp` (Unix seconds, accepted from 5 min before to 30 s after the
  platform's clock), `shop_cipher` on shop calls, `sign` (see `signing.py`);
- header `x-tts-access-token` with the seller's access token, `content-type:
  application/json`;
- answer `{"code": 0, "message": "Success", "request_id": ..., "data": {...}}`; a non-zero
  `code` is a failure whatever the HTTP status (common-errors.json).

The envelope's `code` decides, whatever the HTTP status: TikTok answers refusals with
HTTP 4xx *and* the code (a captured Get Authorized Shops with a bad sign: HTTP 401,
`{"code": 106001, "data": null, "message": "Invalid credentials. The 'sign' query parameter is
invalid. ..."}`, seen at https://tiktok-api.gemyno-lab.fr/scripts/get_shops.php), and
business errors with HTTP 200; an answer without an envelope (a proxy's 502 page) falls back
to the HTTP status table.

Failure codes acted on here (common-errors.json, rate-limits.json):

    code                     meaning                           what omnisync does
    -----------------------  --------------------------------  -------------------------------
    HTTP 429, 36009002       too many requests (50 QPS per     wait with backoff, retry
                             API, app and shop)
    HTTP 503, 36009003,      server protection, internal       retry with backoff
      36009007               error, timeout
    105002, or 36009004      access token expired, or not one  renew it once per run, retry
      naming the token       TikTok knows
    36009004 + "timestamp"   request time outside the window   "this machine's clock is N s
                                                               off" (N from the Date header)
    106001, 36009004, 105005 invalid sign, credentials, scope  fail the channel, naming what
      36009033, 101000       or IP allow-list                  to check

TikTok Shop has no daily call cap (rate-limits.json documents only the per-second quota).

Tokens (authorization-overview-202407.json): `GET {auth}/api/v2/token/get` trades the
seller's `auth_code` (valid 30 min, once) for an access token (default 7 days) and a refresh
token; `GET {auth}/api/v2/token/refresh` renews them; both take `app_key`, `app_secret` and
the grant in the query, unsigned, and answer the same envelope. `access_token_expire_in` and
`refresh_token_expire_in` are absolute Unix times. Both go through `StoredTokens`: the
ledger's copy wins over the config's, and a renewed pair is committed before it is used.
The token host answers a refused grant with HTTP 200 and a code the docs do not list:
36004004 for a bad auth code, 36004005 "can not find related auth record" for an unknown
refresh token (observed live, https://github.com/EcomPHP/tiktokshop-php/pull/15 and public
integration notes), 36004001 "rt has expired"; any code but throttling is the grant's fault.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from omnisync.channels.pacing import Left, Pacer
from omnisync.channels.tiktok.payloads import Shop, Shops, TokenAnswer
from omnisync.channels.tiktok.settings import API_HOST, AUTH_HOST, TikTokSettings
from omnisync.channels.tiktok.signing import sign
from omnisync.channels.tokens import StoredTokens
from omnisync.errors import ChannelAuthError, ChannelError, ChannelResponseError
from omnisync.httpclient import (
    DEFAULT_CONNECTIONS,
    Budget,
    ChannelHttp,
    Kind,
    RetryPolicy,
    Verdict,
    classify_status,
    clock_offset,
    snippet,
)
from omnisync.payload import Payload

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Payload)

SHOPS_PATH = "/authorization/202309/shops"
TOKEN_GET_PATH = "/api/v2/token/get"
TOKEN_REFRESH_PATH = "/api/v2/token/refresh"

QPS = 50  # "a default rate limit of 50 QPS ... for each API", per app and shop (rate-limits.json)
EXPIRED_TOKEN = "105002"
FRESH_WINDOW = 30  # s: a skew below TikTok's 30 s tolerance means our stamp went stale
BAD_TIMESTAMP = "36009004"  # shared with other credential errors; the message tells them apart
CODE_KINDS: Mapping[int, Kind] = {
    36009002: Kind.THROTTLED,
    36009003: Kind.TRANSIENT,
    36009007: Kind.TRANSIENT,
    105002: Kind.AUTH,
    106001: Kind.AUTH,
    36009004: Kind.AUTH,
    105005: Kind.AUTH,
    36009033: Kind.AUTH,
    101000: Kind.AUTH,
}


def auth_command(name: str) -> str:
    return f"omnisync auth {name}"


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def describe_shop(shop: Shop, *, cipher: bool = False) -> str:
    """A shop as the seller knows it: name and region (and its cipher, to configure one)."""
    text = f"{shop.name} ({shop.region})"
    return f"{text}: {shop.cipher}" if cipher else text


def body_code(response: httpx.Response) -> tuple[int | None, str]:
    """The envelope's `code` and `message`, or (None, text) for a body that is not one."""
    try:
        payload = response.json()
    except (ValueError, UnicodeDecodeError):
        return None, snippet(response.text)
    if not isinstance(payload, dict):
        return None, snippet(response.text)
    code = payload.get("code")
    message = str(payload.get("message") or "")
    if isinstance(code, int) and not isinstance(code, bool):
        return code, message
    if isinstance(code, str) and code.isdigit():
        return int(code), message
    return None, message


def classify(response: httpx.Response) -> Verdict | None:
    """TikTok's verdict: the envelope's non-zero `code`, whatever the HTTP status.

    On a 2xx answer None accepts it. On a non-2xx answer (`classify_failures`) None means
    "no envelope": the HTTP status table decides; a known code overrides the status's kind
    (a 401 carrying 36009003 is TikTok's internal error, worth a retry).
    """
    by_status = classify_status(response)
    code, message = body_code(response)
    if by_status is None:
        if code is None:
            return Verdict(Kind.MALFORMED, f"expected TikTok's JSON envelope, got {message}")
        if code == 0:
            return None
        kind = CODE_KINDS.get(code, Kind.BAD_REQUEST)
        return Verdict(kind, snippet(f"TikTok Shop {code}: {message}"))
    if code is None or code == 0:
        return None
    kind = CODE_KINDS.get(code, by_status.kind)
    status = response.status_code
    return Verdict(kind, snippet(f"TikTok Shop {code}: {message} (HTTP {status})"), by_status.wait)


def classify_token(response: httpx.Response) -> Verdict | None:
    """The token endpoints: any refusal but throttling or an internal error is the grant's."""
    verdict = classify(response)
    if verdict is None or verdict.kind in (Kind.THROTTLED, Kind.TRANSIENT, Kind.MALFORMED):
        return verdict
    return Verdict(Kind.AUTH, verdict.message)


def token_refused(exc: ChannelError) -> bool:
    """Whether TikTok refused the access token itself (expired, or not one it knows), so a
    renewal may help: 105002, or 36009004 naming the token (common-errors.json: "Invalid
    credentials. The `x-tts-access-token` header is invalid.")."""
    if exc.code == EXPIRED_TOKEN:
        return True
    text = exc.message.lower()
    return exc.code == BAD_TIMESTAMP and ("access-token" in text or "access_token" in text)


class TikTokApi:
    """One channel's session with TikTok Shop: signing, tokens, the shop cipher."""

    def __init__(
        self,
        name: str,
        settings: TikTokSettings,
        *,
        budget: Budget,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        policy: RetryPolicy | None = None,
        tokens: StoredTokens,
        now: Callable[[], datetime],
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        self.name = name
        self.settings = settings
        # base_url replaces the host of every call, token calls included (SPEC "Channel keys").
        root = base_url.rstrip("/") if base_url else None
        self.api_root = root or API_HOST
        self.auth_root = root or AUTH_HOST
        self.now = now
        self.tokens = tokens
        self.http = ChannelHttp(
            name,
            budget=budget,
            client=client,
            policy=policy,
            # Every call's documented headers (request_header_param of each spec): content-type
            # "Allowed type: application/json", required on GETs too; the token is per call.
            headers={"Content-Type": "application/json"},
            credential_hint=f"app_key and app_secret in [channels.{name}], and the shop's "
            f"authorisation (`{auth_command(name)}`)",
            connections=connections,
        )
        self.shop_cipher = settings.shop_cipher or tokens.get("shop_cipher")
        self.pacer = Pacer(budget, QPS, limit="pacing under TikTok's 50 requests a second")
        self._refreshed = False
        self._token_lock = asyncio.Lock()
        self._cipher_lock = asyncio.Lock()

    @property
    def requests(self) -> int:
        return self.http.requests

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- calls -------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        query: Mapping[str, str | int] | None = None,
        body: Any = None,
        shop: bool = True,
        api_name: str | None = None,
        context: str,
    ) -> M:
        """One signed call; returns the envelope's `data` read as `model` (an absent or null
        `data` reads as an empty object). An expired or refused token is renewed once."""
        token = await self.access_token()
        cipher = await self.cipher() if shop else None
        # The quota is per API: the update path counts as one API whatever the product id.
        api = api_name or path
        renewed = restamped = False
        while True:
            params: dict[str, str | int] = {
                "app_key": self.settings.app_key,
                "timestamp": int(self.now().timestamp()),
                **(query or {}),
            }
            if cipher is not None:
                params["shop_cipher"] = cipher
            # The exact bytes ChannelHttp sends (json.dumps with default separators), since
            # the body is part of what is signed.
            content = b"" if body is None else json.dumps(body).encode()
            params["sign"] = sign(self.settings.app_secret.reveal(), path, params, content)
            self.http.headers["x-tts-access-token"] = token

            async def pace() -> Left:
                # Counted from when the request leaves (the transport calls what this returns).
                return await self.pacer.wait(api)

            try:
                response = await self.http.send(
                    method,
                    f"{self.api_root}{path}",
                    params=params,
                    json_body=body,
                    classify=classify,
                    classify_failures=True,
                    before=pace,
                    context=context,
                )
            except ChannelError as exc:
                if token_refused(exc) and not renewed:
                    renewed = True
                    token = await self.refresh(stale=token, why=exc.code or "")
                    continue
                if exc.code == BAD_TIMESTAMP and "timestamp" in exc.message.lower():
                    error, skew = await self._clock_error()
                    if skew is not None and abs(skew) < FRESH_WINDOW and not restamped:
                        # The clock is right: the stamp aged while throttled retries waited.
                        restamped = True
                        continue
                    raise error from None
                raise
            payload = self.http.json(response, "TikTok's JSON envelope")
            data = payload.get("data") if isinstance(payload, dict) else None
            return self.http.validate(response, model, {} if data is None else data, root="data")

    async def _clock_error(self) -> tuple[ChannelError, int | None]:
        """TikTok refused the request time: measure the skew against the server's Date."""
        local = self.now()
        offset: float | None = None
        try:
            answer = await self.http.client.get(f"{self.api_root}{SHOPS_PATH}", timeout=10.0)
            offset = clock_offset(answer.headers, now=local)
        except httpx.HTTPError:
            offset = None
        window = "TikTok Shop accepts request times from 5 min behind to 30 s ahead of its own"
        if offset is None:
            error = ChannelResponseError(
                self.name, f"this machine's clock is off ({window}): set it right (NTP)"
            )
            return error, None
        skew = round(offset)
        ahead = "ahead" if skew > 0 else "behind"
        error = ChannelResponseError(
            self.name,
            f"this machine's clock is {abs(skew)} s off ({ahead} of TikTok Shop's; {window}): "
            f"set it right (NTP), then run again",
        )
        return error, skew

    # -- tokens ------------------------------------------------------------------------------

    def _missing(self, why: str) -> ChannelAuthError:
        return ChannelAuthError(
            self.name,
            f"{why}: run `{auth_command(self.name)}` to connect the shop again",
        )

    async def access_token(self) -> str:
        """The access token to use now, renewed first if its stored expiry has come."""
        token = self.tokens.get("access_token")
        if token is None or self.tokens.expired("access_token", now=self.now()):
            return await self.refresh(stale=token)
        return token

    async def refresh(self, *, stale: str | None, why: str = "") -> str:
        """Renew the tokens (at most once per run), saved in the ledger before use.

        `why` is TikTok's code when it refused the token (105002 expired, 36009004 unknown).
        """
        async with self._token_lock:
            current = self.tokens.get("access_token")
            if current is not None and current != stale:
                return current  # another request renewed it meanwhile
            if self._refreshed:
                raise self._missing("TikTok Shop refused the access token again after renewing it")
            self._refreshed = True
            refresh = self.tokens.get("refresh_token")
            if refresh is None:
                if current is None:
                    raise self._missing("no access token for this shop yet")
                state = "was refused" if why == BAD_TIMESTAMP else "has expired"
                raise self._missing(f"the access token {state} and there is no refresh token")
            if self.tokens.expired("refresh_token", now=self.now(), margin=timedelta(0)):
                raise self._missing("the shop's authorisation (refresh token) has expired")
            try:
                data = await self._token_call(
                    TOKEN_REFRESH_PATH,
                    {"refresh_token": refresh, "grant_type": "refresh_token"},
                    context="renewing the access token",
                )
            except ChannelAuthError as exc:
                raise self._missing(
                    f"TikTok Shop refused to renew the access token ({exc.message.split(' (')[0]})"
                ) from None
            log.info("%s: access token renewed", self.name)
            return self.save(data)

    async def _token_call(
        self, path: str, params: Mapping[str, str], *, context: str
    ) -> TokenAnswer:
        query = {
            "app_key": self.settings.app_key,
            "app_secret": self.settings.app_secret.reveal(),
            **params,
        }
        try:
            response = await self.http.send(
                "GET",
                f"{self.auth_root}{path}",
                params=query,
                classify=classify_token,
                classify_failures=True,
                context=context,
            )
        except ChannelResponseError as exc:
            # A refused grant, whatever HTTP status TikTok answers it with.
            raise ChannelAuthError(
                self.name, exc.message, http_status=exc.http_status, code=exc.code
            ) from None
        payload = self.http.json(response, "TikTok's token answer")
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict) or not data.get("access_token"):
            raise self.http.malformed(response, "data.access_token", "(no token)")
        return self.http.validate(response, TokenAnswer, data, root="data")

    def save(self, data: TokenAnswer) -> str:
        """Store a token answer (access and refresh token, their expiries) in the ledger."""
        values = {"access_token": data.access_token}
        expires = {"access_token": _when(data.access_token_expire_in)}
        if data.refresh_token:
            values["refresh_token"] = data.refresh_token
            expires["refresh_token"] = _when(data.refresh_token_expire_in)
        self.tokens.save(values, expires=expires)
        return data.access_token

    async def exchange(self, code: str) -> TokenAnswer:
        """Trade an authorisation code for tokens (Get Access Token), saved before return."""
        data = await self._token_call(
            TOKEN_GET_PATH,
            {"auth_code": code, "grant_type": "authorized_code"},
            context="exchanging the authorisation code",
        )
        self.save(data)
        return data

    # -- the shop ----------------------------------------------------------------------------

    async def shops(self) -> list[Shop]:
        """Get Authorized Shops: the shops this token may act for (no shop_cipher here)."""
        data = await self.call(
            "GET", SHOPS_PATH, Shops, shop=False, context="reading authorised shops"
        )
        return data.shops

    async def cipher(self) -> str:
        """The shop's cipher: configured, stored by `auth`, or the token's only shop."""
        if self.shop_cipher:
            return self.shop_cipher
        async with self._cipher_lock:
            if self.shop_cipher:
                return self.shop_cipher
            shops = await self.shops()
            if len(shops) != 1:
                names = ", ".join(describe_shop(shop, cipher=True) for shop in shops)
                raise ChannelResponseError(
                    self.name,
                    f"the token is authorised for {len(shops)} shops ({names or 'none'}): "
                    f"set shop_cipher in [channels.{self.name}] to the one to sync",
                )
            self.shop_cipher = shops[0].cipher
            if not self.shop_cipher:
                raise ChannelResponseError(self.name, "Get Authorized Shops gave no cipher")
            return self.shop_cipher
