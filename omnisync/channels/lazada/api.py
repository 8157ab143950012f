"""Signed calls to the Lazada Open Platform, with the seller's tokens kept fresh.

Every call carries the system parameters `app_key`, `timestamp` (ms since the epoch, as the
official SDK writes it: `str(int(round(time.time()))) + '000'`), `sign_method=sha256`,
`access_token` (seller calls only; not on the token calls) and `sign` (calling-parameters.md,
signature-algorithm.md). On GET all of them ride in the query; on POST the system parameters
stay in the query and the business parameters go in a form body
(`application/x-www-form-urlencoded`), every one of them signed alike. Which side carries
what is not part of the signature: lazop-sdk-python 20181207 `LazopClient.execute` posts
everything as form data (`requests.post(api_url, sign_parameter)`), the Java SDK keeps the
protocol parameters in the URL; the gateway reads both. Paths are signed without the
`/rest` prefix of the gateway (`/orders/get`).

Lazada answers HTTP 200 with its own `code` (a string; "0" is success) and `message`
(lazykern/ecommerce-api-docs@eba059e3:.../reconfigure-existing-app-to-lazada-open-platform.md).
The codes acted on here, each from the error lists of the API pages cited:

    code                         meaning                                what happens
    ---------------------------  -------------------------------------  --------------------
    901                          "API level QPS limiting flow, please   wait until the
                                 retry in the next second" (getorders,  pacer's window (a
                                 updatesellablequantity, ...)           little longer now)
                                                                        has room, retry
    ApiCallLimit                 "Api access frequency exceeds the      wait the ban, retry;
                                 limit. this ban will last N seconds"   a ban over a minute
                                 (create-update-product-q-a.md Q10)     stops the channel
    OPEN_API_CALL_EXCEED_LIMIT   "Open Api call times exceeds:          call cap reached:
                                 apiName_limitType" (wallet API list)   stop the channel now
    IllegalAccessToken           "The specified access token is         refresh once, retry
                                 invalid or expired" (getseller, ...)
    IllegalRefreshToken          "The specified refresh token is        `omnisync auth NAME`
                                 invalid or expired" (refreshaccess-
                                 token.json)
    IncompleteSignature          "The request signature does not        check app_secret
                                 conform to lazop standards"
                                 (generateaccesstoken.json)
    1000, ServiceTimeout, 6      internal error / service timeout       retried (a stock
                                 (product APIs' error lists)            write: re-read)
    a code naming the timestamp  the request's timestamp is more than   "this machine's
                                 7200 s from Lazada's clock             clock is N s off"
                                 (calling-parameters.md); UNVERIFIED
                                 code (OPEN_API_TIMESTAMP_INVALID "The
                                 input timestamp is invalid" is the one
                                 documented), matched on "timestamp"

Tokens: read through `StoredTokens` (the ledger's copy wins over the config's), refreshed
before the first call when the stored expiry is less than 30 minutes away, or when Lazada
refuses the token; at most once per run. Token calls go to `https://auth.lazada.com/rest`
(`/auth/token/create` with `code`, `/auth/token/refresh` with `refresh_token`), signed with
the app's keys and no access token. Lazada's refresh answers a new refresh token too, whose
lifetime is not reset (refreshaccesstoken.json; seller-authorization-introduction.md: "You
must save the latest refresh_token"); it is saved in the ledger before the new access token
is used. `expires_in` / `refresh_expires_in` are seconds, numbers or digit strings; a
`refresh_expires_in` of 0 means the token cannot be refreshed (same guide).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from omnisync.channels.base import ChannelContext
from omnisync.channels.lazada.settings import LazadaSettings, api_root, auth_root
from omnisync.channels.lazada.signing import SIGN_METHOD, sign, timestamp
from omnisync.channels.pacing import Left, Pacer
from omnisync.channels.tokens import StoredTokens
from omnisync.errors import (
    ChannelAuthError,
    ChannelResponseError,
    ChannelUnavailableError,
)
from omnisync.httpclient import (
    DEFAULT_CONNECTIONS,
    ChannelHttp,
    Kind,
    RetryPolicy,
    Verdict,
    clock_offset,
)

ACCESS, REFRESH = "access_token", "refresh_token"
THROTTLED = {"901", "ApiCallLimit"}
CAPPED = {"OPEN_API_CALL_EXCEED_LIMIT"}
TOKEN_REFUSED = {"IllegalAccessToken"}
# Lazada's own "try again" answers: "1000 Internal Application Error", "ServiceTimeout The
# request has failed due to service timeout", and on the product APIs "6 E006: Unexpected
# internal error ... System fluctuation please retry" (getproducts.json,
# updatesellablequantity.json). On GetOrders "6" means "Invalid status filter", so "6" counts
# only with "internal" in its message.
TRANSIENT = {"1000", "ServiceTimeout"}
AUTH_CODES = {
    "IllegalAccessToken",
    "IllegalRefreshToken",
    "IncompleteSignature",
    "InvalidCode",
    "AUTH_TYPE_UNSUPPORTED",
    "APP_KEY_INVALID",
}
LONGEST_WAIT = 60.0  # a ban longer than this is a cap for this run, not a pause
ALLOWED_SKEW = 7200  # seconds (calling-parameters.md)
# "it is recommended to refresh it 30 minutes before the token expires"
# (seller-authorization-introduction.md, Usage notes 3).
REFRESH_MARGIN = timedelta(minutes=30)
_BAN = re.compile(r"ban will last (\d+) seconds?", re.IGNORECASE)
# Calls a second per API and seller. Documented for the inventory APIs only: "Each seller can
# only call the inventory API 50 times per second, more than 50 may cause the request to fail
# due to traffic limitation" (lazykern/ecommerce-api-docs@eba059e3:data/processed/lazada/
# guides/api-best-practice/product-operation/product-inventory-management/
# inventory-management-api.md). For the reads Lazada says only that the limit is per API and
# differs between APIs ("API level traffic limit, each API will have a different traffic
# limit", create-update-product-q-a.md Q10; 901 "API level QPS limiting flow" in
# getproducts.json and getorders.json) and publishes no figure: we assume the same 50 for
# GetProducts, GetOrders and GetMultipleOrderItems, an assumption, not Lazada's word. A 901
# or ApiCallLimit above it is waited out and retried.
QPS = 50
# Connections in each pool of the client (`SplitPools`).
POOL_SIZE = 10


def body_of(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


class LazadaApi:
    """One seller's signed session with Lazada: calls, tokens, refresh."""

    def __init__(
        self,
        name: str,
        settings: LazadaSettings,
        *,
        context: ChannelContext,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        self.name = name
        self.settings = settings
        self.root = api_root(settings, base_url)
        self.auth_root = auth_root(base_url)
        self.now = context.now
        self.http = ChannelHttp(
            name,
            budget=context.budget,
            client=context.http,
            policy=policy,
            credential_hint=(
                f"app_key and app_secret in [channels.{name}], or run `omnisync auth {name}`"
            ),
            connections=connections,
            # A client of its own, when none is given, splits its connections into pools of
            # ten (see `SplitPools`).
            pools=-(-connections // POOL_SIZE),
        )
        self.tokens = StoredTokens(
            name,
            context.tokens,
            configured={ACCESS: settings.access_token, REFRESH: settings.refresh_token},
        )
        self.refreshed = False  # a refresh was tried in this run: never a second one
        self._lock = asyncio.Lock()
        self.pacer = Pacer(context.budget, QPS, limit="pacing under Lazada's 50 calls a second")

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- calls -----------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        context: str,
        accept: Collection[str] = (),
    ) -> dict[str, Any]:
        """One API call, signed with the seller's token; Lazada's whole answer.

        `accept` names error codes the caller reads itself (the stock update's 501).
        """
        for attempt in range(2):
            token = await self._access_token()
            try:
                return await self._send(
                    method, self.root, path, params or {}, token, context, accept
                )
            except ChannelAuthError as exc:
                if exc.code in TOKEN_REFUSED and attempt == 0:
                    await self._refresh_refused(token)
                    continue
                if exc.code in TOKEN_REFUSED:
                    raise ChannelAuthError(
                        self.name,
                        f"{context}: Lazada refuses the access token even after a refresh "
                        f"(IllegalAccessToken): run `omnisync auth {self.name}` to connect "
                        f"the shop again",
                        code=exc.code,
                    ) from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def token_call(self, path: str, params: Mapping[str, str], *, context: str) -> Any:
        """A call to the token service (`/auth/token/create`, `/auth/token/refresh`): signed
        with the app's keys only, on the central auth host."""
        return await self._send("POST", self.auth_root, path, params, None, context, ())

    async def _send(
        self,
        method: str,
        root: str,
        path: str,
        params: Mapping[str, str],
        token: str | None,
        context: str,
        accept: Collection[str],
    ) -> dict[str, Any]:
        # The official Java/.NET SDKs leave parameters with empty values out of the signed
        # text (signature-algorithm.md samples: `!IsNullOrEmpty(kv.Value)`), the Python one
        # keeps them: an empty parameter is not sent at all, so both readings agree.
        params = {key: value for key, value in params.items() if value != ""}
        system = {
            "app_key": self.settings.app_key,
            "timestamp": timestamp(self.now()),
            "sign_method": SIGN_METHOD,
        }
        if token:
            system[ACCESS] = token
        system["sign"] = sign(self.settings.app_secret.reveal(), path, system | dict(params))
        post = method.upper() == "POST"

        bounces: list[float] = []  # this call's refusals over the quota, by wait

        async def pace() -> Left:
            # The quota is per API and seller; every attempt, retries included, counts, from
            # the moment it leaves (ChannelHttp says when).
            return await self.pacer.wait(path)

        try:
            response = await self.http.send(
                method,
                root + path,
                params=system if post else system | dict(params),
                form=dict(params) if post else None,
                classify=lambda answer: self._classify(answer, accept, path, bounces),
                before=pace,
                context=context,
            )
        except ChannelResponseError as exc:
            if exc.code in CAPPED or exc.code == "ApiCallLimit":
                raise ChannelUnavailableError(
                    self.name,
                    f"{exc.message}; Lazada's call limit for this app is used up, so "
                    f"{self.name} stops for this run (the next run carries on)",
                    code=exc.code,
                ) from None
            raise
        body = body_of(response)
        if body is None:
            raise self.http.malformed(response, "a JSON object", response.text)
        return body

    def _classify(
        self,
        response: httpx.Response,
        accept: Collection[str],
        path: str,
        bounces: list[float],
    ) -> Verdict | None:
        body = body_of(response)
        if body is None:
            return None  # the caller says what it expected
        code = str(body.get("code", "0"))
        if code == "0" or code in accept:
            return None
        message = str(body.get("message") or "")
        said = f"Lazada {code}: {message}" if message else f"Lazada error {code}"
        ban = _BAN.search(message)
        if code in THROTTLED:
            if not ban:
                # Over the per-second quota: sent again once the pacer's window, grown by this
                # lesson, has room (see `Pacer.bounced`).
                bounces.append(self.pacer.bounced(path, again=bool(bounces)))
                return Verdict(Kind.THROTTLED, said, wait=bounces[-1])
            if (wait := float(ban.group(1))) <= LONGEST_WAIT:
                return Verdict(Kind.THROTTLED, said, wait=wait)
        if "timestamp" in (code + " " + message).lower():
            return Verdict(Kind.BAD_REQUEST, self.clock_message(response))
        if code in TRANSIENT or (code == "6" and "internal" in message.lower()):
            return Verdict(Kind.TRANSIENT, said)
        if code in AUTH_CODES:
            return Verdict(Kind.AUTH, said)
        return Verdict(Kind.BAD_REQUEST, said)

    def clock_message(self, response: httpx.Response) -> str:
        """What a refused timestamp means: this machine's clock, by how much if we can tell."""
        offset = clock_offset(response.headers, now=self.now())
        if offset is None:
            return (
                f"Lazada refused the request's time: this machine's clock is off by more "
                f"than {ALLOWED_SKEW} s; set it right (NTP) and run again"
            )
        off = round(offset)
        way = "ahead" if off > 0 else "behind"
        return (
            f"this machine's clock is {abs(off)} s off ({way} of Lazada's; it allows "
            f"{ALLOWED_SKEW} s): set it right (NTP) and run again"
        )

    # -- tokens ----------------------------------------------------------------------------

    async def _access_token(self) -> str:
        async with self._lock:
            token = self.tokens.get(ACCESS)
            if token is None or (
                not self.refreshed
                and self.tokens.expired(ACCESS, now=self.now(), margin=REFRESH_MARGIN)
            ):
                if token is None and not self.tokens.get(REFRESH):
                    raise ChannelAuthError(
                        self.name,
                        f"no access token: run `omnisync auth {self.name}` to connect the "
                        f"shop (or set access_token in [channels.{self.name}])",
                    )
                await self._refresh()
                token = self.tokens.get(ACCESS)
            assert token is not None  # a refresh either stored one or raised
            return token

    async def _refresh_refused(self, refused: str) -> None:
        async with self._lock:
            if self.tokens.get(ACCESS) != refused:
                return  # another call refreshed it meanwhile
            if self.refreshed:
                raise ChannelAuthError(
                    self.name,
                    f"Lazada refuses the access token even after a refresh "
                    f"(IllegalAccessToken): run `omnisync auth {self.name}` to connect the "
                    f"shop again",
                    code="IllegalAccessToken",
                )
            await self._refresh()

    async def _refresh(self) -> None:
        """Trade the refresh token for new tokens, saved before use; once per run."""
        self.refreshed = True
        refresh = self.tokens.get(REFRESH)
        again = f"run `omnisync auth {self.name}` to connect the shop again"
        if not refresh:
            raise ChannelAuthError(
                self.name,
                f"the access token is expired or refused and there is no refresh token: {again}",
            )
        expires = self.tokens.expires_at(REFRESH)
        if expires is not None and expires <= self.now():
            raise ChannelAuthError(
                self.name,
                f"the refresh token expired on {expires:%Y-%m-%d %H:%M} UTC: {again}",
            )
        try:
            body = await self.token_call(
                "/auth/token/refresh", {REFRESH: refresh}, context="refreshing the access token"
            )
        except ChannelAuthError as exc:
            if exc.code == "AUTH_TYPE_UNSUPPORTED":
                raise ChannelAuthError(
                    self.name,
                    "Lazada does not refresh tokens of apps sold on its service market "
                    "(AUTH_TYPE_UNSUPPORTED): renew the seller's subscription, then run "
                    f"`omnisync auth {self.name}`",
                    code=exc.code,
                ) from None
            raise ChannelAuthError(
                self.name,
                f"Lazada refused the refresh token ({exc.code or 'refused'}: expired or "
                f"revoked): {again}",
                code=exc.code,
            ) from None
        self.store(body)

    def store(self, body: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
        """Save the tokens of a token answer in the ledger now; their expiry times."""
        access = body.get(ACCESS)
        refresh = body.get(REFRESH)
        if not isinstance(access, str) or not access:
            raise ChannelResponseError(
                self.name, "the token answer has no access_token (expected a Lazada token)"
            )
        now = self.now()
        access_expires = _after(now, body.get("expires_in"))
        refresh_expires = _after(now, body.get("refresh_expires_in"))
        values = {ACCESS: access}
        expiry: dict[str, datetime | None] = {ACCESS: access_expires}
        if isinstance(refresh, str) and refresh:
            values[REFRESH] = refresh
            expiry[REFRESH] = refresh_expires
        self.tokens.save(values, expires=expiry)
        return access_expires, refresh_expires


def _after(now: datetime, seconds: Any) -> datetime | None:
    # `expires_in` / `refresh_expires_in` are seconds, sent as numbers or digit strings.
    # Never raises: the new refresh token saved with this expiry must not be lost to it.
    try:
        value = int(str(seconds))
        return now + timedelta(seconds=value) if value > 0 else None
    except (OverflowError, ValueError):
        return None
