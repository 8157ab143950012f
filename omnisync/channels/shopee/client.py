"""Signed Shopee calls: tokens, one refresh per run, and what Shopee's error codes mean.

Every answer carries `error` (empty on success) and `message`
(congminh1254/shopee-sdk@cb231e9b: schemas/*.json `common_error_list`). Which HTTP status comes
with an error is not documented (UNVERIFIED; the SDK, src/fetch.ts, looks at `error` whatever
the status), so the body decides on every status (`classify_failures`); a body without an
`error` leaves it to the HTTP layer's status table. Codes may carry a module prefix
(`common.error_auth`, `product.error_param` in the docs' error examples): it is dropped before
a code is compared.

    error                                  what happens
    -------------------------------------  ------------------------------------------------
    error_rate_limit                       throttled: wait and retry (inside the budget)
    error_server, error_inner,             Shopee's "please try later": retried with backoff
      error_system_busy, error_network,
      any "try (again) later" message
    error_limit (daily call limit, resets  the channel stops for this run, saying when the
      00:00 UTC+8)                         cap resets; no retries
    invalid_acceess_token (sic) /          refresh the access token once per run and retry;
      invalid_access_token / error_auth      a second refusal fails the channel
      "Invalid access_token"
    error_param "Timestamp is expired"     "this machine's clock is N s off" (N from the
      / "Invalid timestamp"                  Date header Shopee sends), not a signature error
    error_sign, error_auth (partner),      credentials refused: fail the channel naming the
      invalid_partner_id, shop_no_linked,    key to check or `omnisync auth NAME`
      partner_shop_no_link, shop_banned,
      error_partner_key_expired, ...
    anything else                          ChannelResponseError with Shopee's code + message

`error_auth` is also how `update_stock` refuses one item ("Total stock must be more than
reserved stock.", "Lack of location_id"): only a message about the access token refreshes.

Tokens (SPEC "Channel keys"; Shopee's guide "Authorization and Authentication"): the access
token lives 4 hours, the refresh token 30 days and is single-use: each refresh returns a new
one, saved in the ledger (`StoredTokens.save`) before the new access token is used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlencode

import httpx

from omnisync.channels.base import ChannelContext
from omnisync.channels.pacing import Left, Pacer
from omnisync.channels.shopee import signing
from omnisync.channels.shopee.settings import ShopeeSettings
from omnisync.channels.tokens import StoredTokens
from omnisync.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelResponseError,
    ChannelUnavailableError,
)
from omnisync.httpclient import (
    DEFAULT_CONNECTIONS,
    ChannelHttp,
    Classifier,
    Kind,
    RetryPolicy,
    Verdict,
    clock_offset,
    snippet,
)
from omnisync.redact import REDACTOR
from omnisync.timeparse import as_utc

log = logging.getLogger(__name__)

HINT = "the Shopee app keys and the shop's authorisation"
THROTTLED = {"error_rate_limit"}
# "System error. Please try again later.", "Our system is taking some time to respond, please
# try later.", "Inner http call failed" (error lists of the APIs used here).
TRANSIENT = {"error_server", "error_inner", "error_system_busy", "error_network"}
DAILY_CAP = {"error_limit"}
TOKEN_EXPIRED = {"invalid_acceess_token", "invalid_access_token"}
# Calls a second for the whole shop, every API together. Shopee publishes no figure: its API
# docs name only the codes (error_rate_limit "Too many requests. You have reached the rate
# limit", error_limit the daily cap: congminh1254/shopee-sdk@cb231e9b schemas/*.json
# common_error_list), its developer guide none (lazykern/ecommerce-api-docs@eba059e3:
# data/processed/shopee/guides, every page), and its Platform Partner Rules want a daily call
# success rate of at least 90% (guides/terms-of-use/platform-partner-rules.md, section 5), so
# bounced calls are worth avoiding, not just retrying. 50 is an assumption: half of the 100 a
# second one integrator reports sustaining (github.com/JimCurryWang/python-shopee/issues/54),
# for the shop as a whole since Shopee does not say whether its limit is per API.
QPS = 50
# Refresh refusals (v2.public.refresh_access_token error_list): the seller must authorise again.
REFRESH_REFUSED = {
    "error_auth",
    "refresh_token_expired",
    "error_shop_refresh_token",
    "shop_access_expired",
    "shop_no_linked",
    "partner_shop_no_link",
    "error_param",
}
CREDENTIALS = {
    "error_sign",
    "invalid_partner_id",
    "error_partner_key_expired",
    "shop_no_linked",
    "partner_shop_no_link",
    "shop_banned",
    "error_api_permission",
    "error_api_call_restricted",
    "error_permission",
    "source_ip_undeclared",
    "error_kyc_auth",
}
REFRESH_LIFETIME = timedelta(days=30)  # "Each refresh_token is valid for 30 days"


def error_name(code: str | None) -> str:
    """A Shopee error code without its module prefix (`common.error_auth` is `error_auth`)."""
    return (code or "").rpartition(".")[2]


def expiry(now: datetime, expire_in: Any) -> datetime | None:
    """When an access token expires. `expire_in` is documented as seconds (14400), but the
    token/get sample shows a Unix time (1767001812): a value past 10**9 is taken as one."""
    try:
        value = int(expire_in)
    except (TypeError, ValueError):
        return None
    if value <= 0:
        return None
    # An absurd value must not raise here: the answer holds a rotated refresh token that is
    # saved with this expiry, and a token lost to an exception locks the shop out.
    try:
        if value > 1_000_000_000:
            return datetime.fromtimestamp(value, now.tzinfo)
        return now + timedelta(seconds=value)
    except (OverflowError, OSError, ValueError):
        return None


class ShopeeClient:
    """One Shopee shop's signed calls for one run (or one `auth` / `check`)."""

    def __init__(
        self,
        name: str,
        settings: ShopeeSettings,
        context: ChannelContext,
        *,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        connections: int = DEFAULT_CONNECTIONS,
    ) -> None:
        self.name = name
        self.settings = settings
        self.context = context
        self.host = (base_url or signing.HOSTS[settings.region]).rstrip("/")
        # The HTTP layer waits out error_rate_limit (the body says so, whatever the status)
        # and stops at once on error_limit, which may come as a 429 too.
        self.http = ChannelHttp(
            name,
            budget=context.budget,
            credential_hint=HINT,
            client=context.http,
            policy=policy or RetryPolicy(),
            connections=connections,
        )
        self.tokens = StoredTokens(
            name,
            context.tokens,
            configured={
                "access_token": settings.access_token,
                "refresh_token": settings.refresh_token,
                "shop_id": str(settings.shop_id) if settings.shop_id else None,
            },
        )
        self.refreshed = False  # at most one refresh per run
        self._refresh_lock = asyncio.Lock()
        self.pacer = Pacer(
            context.budget, QPS, limit="pacing under 50 Shopee calls a second (an assumption)"
        )
        REDACTOR.add(settings.partner_key.reveal())

    @property
    def partner_id(self) -> int:
        return self.settings.partner_id

    def shop_id(self) -> int:
        value = self.settings.shop_id or self.tokens.get("shop_id")
        if not value or not str(value).isdigit():
            raise ChannelAuthError(
                self.name,
                f"no Shopee shop_id: run `omnisync auth {self.name}` to connect the shop "
                f"(or set shop_id in [channels.{self.name}])",
            )
        return int(value)

    def timestamp(self) -> int:
        return int(self.context.now().timestamp())

    def sign_public(self, path: str) -> dict[str, str | int]:
        ts = self.timestamp()
        key = self.settings.partner_key.reveal()
        return {
            "partner_id": self.partner_id,
            "timestamp": ts,
            "sign": signing.sign(key, self.partner_id, path, ts),
        }

    def _access_token(self) -> str:
        token = self.tokens.get("access_token")
        if not token:
            raise ChannelAuthError(
                self.name,
                f"no Shopee access token: run `omnisync auth {self.name}` to connect the shop "
                f"(or set access_token and refresh_token in [channels.{self.name}])",
            )
        return token

    # -- calls -----------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        context: str = "",
        tolerate: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """One shop API call, signed, with Shopee's signals handled; returns the whole body.

        Errors in `tolerate` come back as a body, whatever the HTTP status (update_stock's
        all-failed answer still lists each model's reason in `failure_list`)."""
        current = self.tokens.get("access_token")
        if self.tokens.expired("access_token", now=self.context.now()) or (
            not current and self.tokens.get("refresh_token")
        ):
            # `used`: requests side by side that all find it expired refresh it once.
            await self.refresh(reason="the access token has expired", used=current)
        retried_auth = False
        while True:
            token = self._access_token()
            url = self._shop_url(path, token, params)
            kept: dict[str, Any] = {}  # this request's tolerated error body, if any
            try:
                response = await self.http.send(
                    method,
                    url,
                    json_body=body,
                    classify=_classifier(tolerate, kept),
                    classify_failures=True,
                    before=self._pace,
                    context=context or path,
                )
            except ChannelError as exc:
                code = error_name(exc.code)
                if code in tolerate and kept:
                    return kept
                if _token_refused(code, exc.message) and not retried_auth:
                    retried_auth = True
                    await self.refresh(reason="Shopee refused the access token", used=token)
                    continue
                await self._translate(exc, path)
                raise
            return self._body(response)

    async def call_public(
        self, path: str, body: Mapping[str, Any], *, context: str
    ) -> dict[str, Any]:
        """A public API call (token endpoints): signed without token or shop."""
        url = f"{self.host}{path}?{urlencode(self.sign_public(path))}"
        try:
            response = await self.http.send(
                "POST",
                url,
                json_body=dict(body),
                classify=_classifier(frozenset(), {}),
                classify_failures=True,
                before=self._pace,
                context=context,
            )
        except ChannelError as exc:
            await self._translate(exc, path)
            raise
        return self._body(response)

    async def _pace(self) -> Left:
        # One quota for the shop (see QPS); every attempt, retries included, counts, from
        # the moment it leaves (the function returned, which the transport calls).
        return await self.pacer.wait("shop")

    def _shop_url(self, path: str, token: str, params: Mapping[str, Any] | None) -> str:
        ts = self.timestamp()
        shop_id = self.shop_id()
        key = self.settings.partner_key.reveal()
        query: list[tuple[str, Any]] = [
            ("partner_id", self.partner_id),
            ("timestamp", ts),
            ("access_token", token),
            ("shop_id", shop_id),
            ("sign", signing.sign(key, self.partner_id, path, ts, token, shop_id)),
        ]
        for name, value in (params or {}).items():
            if isinstance(value, list | tuple):
                query += [(name, item) for item in value]  # item_status=NORMAL&item_status=UNLIST
            elif isinstance(value, bool):
                query.append((name, "true" if value else "false"))
            elif value is not None:
                query.append((name, value))
        return f"{self.host}{path}?{urlencode(query)}"

    def _body(self, response: httpx.Response) -> dict[str, Any]:
        body = self.http.json(response, "a Shopee answer")
        if not isinstance(body, dict):
            raise self.http.malformed(response, "a JSON object", body)
        return body

    # -- tokens ----------------------------------------------------------------------------

    async def refresh(self, *, reason: str, used: str | None = None) -> None:
        """Trade the refresh token for new tokens, once per run; save them before use."""
        async with self._refresh_lock:
            if self.refreshed and self.tokens.get("access_token") != used:
                return  # another request refreshed while this one waited
            if self.refreshed:
                raise ChannelAuthError(
                    self.name,
                    f"{reason} again after this run refreshed it; run "
                    f"`omnisync auth {self.name}` to connect the shop again",
                )
            self.refreshed = True
            refresh_token = self.tokens.get("refresh_token")
            if not refresh_token:
                raise ChannelAuthError(
                    self.name,
                    f"{reason} and there is no refresh token: run `omnisync auth {self.name}`",
                )
            if self.tokens.expired("refresh_token", now=self.context.now(), margin=timedelta()):
                raise ChannelAuthError(
                    self.name,
                    f"the Shopee refresh token expired (30 days): run `omnisync auth {self.name}` "
                    f"to connect the shop again",
                )
            shop_id = self.shop_id()
            log.info("%s: %s; refreshing it", self.name, reason)
            path = signing.TOKEN_REFRESH_PATH
            try:
                answer = await self.call_public(
                    path,
                    # v2.public.refresh_access_token: all three in the body.
                    {
                        "refresh_token": refresh_token,
                        "partner_id": self.partner_id,
                        "shop_id": shop_id,
                    },
                    context="refreshing the access token",
                )
            except ChannelResponseError as exc:
                if error_name(exc.code) in REFRESH_REFUSED:
                    raise ChannelAuthError(
                        self.name,
                        f"Shopee refused the refresh token ({exc.code}): the authorisation has "
                        f"lapsed or was used elsewhere; run `omnisync auth {self.name}` to connect "
                        f"the shop again",
                        code=exc.code,
                    ) from None
                raise
            self.save(answer, shop_id=shop_id)

    def save(self, answer: Mapping[str, Any], *, shop_id: int) -> tuple[datetime | None, datetime]:
        """Store tokens from a token/get or refresh answer; returns their expiries."""
        access = answer.get("access_token")
        refresh = answer.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            raise ChannelResponseError(
                self.name, "Shopee's token answer has no access_token / refresh_token"
            )
        now = as_utc(self.context.now())
        access_expires = expiry(now, answer.get("expire_in"))
        refresh_expires = now + REFRESH_LIFETIME
        # Saved (committed to the ledger) before anything uses them: the old refresh token is
        # spent now, and a crash after this line must not lose the new one.
        self.tokens.save(
            {"access_token": access, "refresh_token": refresh, "shop_id": str(shop_id)},
            expires={"access_token": access_expires, "refresh_token": refresh_expires},
        )
        return access_expires, refresh_expires

    # -- errors ----------------------------------------------------------------------------

    async def _translate(self, exc: ChannelError, path: str) -> None:
        """Raise the error a Shopee code means, if it means more than its text; else return."""
        code = error_name(exc.code)
        text = exc.message.removesuffix(f" (check {HINT})").lower()
        if code in DAILY_CAP:
            raise ChannelUnavailableError(
                self.name,
                "Shopee's daily API call limit for this app is used up (error_limit); it resets "
                "at 00:00 UTC+8. The channel is skipped for this run.",
                http_status=exc.http_status,
                code=code,
            ) from None
        if code in THROTTLED:
            raise ChannelUnavailableError(
                self.name,
                "Shopee kept answering error_rate_limit (too many requests) after every wait; "
                "the channel is skipped for this run",
                http_status=exc.http_status,
                code=code,
            ) from None
        if "timestamp" in text and ("expired" in text or "invalid" in text):
            raise ChannelAuthError(
                self.name, await self._clock_message(path), http_status=exc.http_status, code=code
            ) from None
        if code in CREDENTIALS or (code == "error_auth" and _about_credentials(text)):
            self._fail_credentials(exc)
        if isinstance(exc, ChannelAuthError):
            # A 403 that refuses this one request (error_auth "Lack of location_id", "Total
            # stock must be more than reserved stock."), not the keys: the caller decides.
            raise ChannelResponseError(
                self.name,
                exc.message.removesuffix(f" (check {HINT})"),
                http_status=exc.http_status,
                code=code,
            ) from None

    def _fail_credentials(self, exc: ChannelError) -> NoReturn:
        what = exc.message.removesuffix(f" (check {HINT})")
        raise ChannelAuthError(
            self.name,
            f"{what} (check partner_id / partner_key in [channels.{self.name}], or run "
            f"`omnisync auth {self.name}` if the shop's authorisation was revoked)",
            http_status=exc.http_status,
            code=exc.code,
        ) from None

    async def _clock_message(self, path: str) -> str:
        """How far this machine's clock is from Shopee's, from the Date of a bare request."""
        local = self.context.now()
        offset: float | None = None
        try:
            response = await self.http.client.get(f"{self.host}{path}", timeout=10.0)
            offset = clock_offset(response.headers, now=as_utc(local))
        except httpx.HTTPError:
            offset = None
        if offset is None:
            return (
                "Shopee refused the request's timestamp (valid 5 minutes): this machine's clock "
                "is off; set it right (NTP) and run again"
            )
        side = "ahead of" if offset > 0 else "behind"
        return (
            f"this machine's clock is {abs(round(offset))} s off ({side} Shopee's); Shopee "
            f"accepts requests within 5 minutes of its time: set the clock right (NTP) and run "
            f"again"
        )


def _about_credentials(text: str) -> bool:
    """Whether an error_auth message is about the app or the shop link, not one request."""
    return any(word in text for word in ("partner", "shopid", "shop_id", "app ", "permission"))


def _token_refused(code: str, message: str) -> bool:
    if code in TOKEN_EXPIRED:
        return True
    text = message.lower()
    return code == "error_auth" and ("access_token" in text or "access token" in text)


def _classifier(tolerate: frozenset[str], kept: dict[str, Any]) -> Classifier:
    """What a Shopee answer means, by its `error` whatever its HTTP status.

    A body with an error in `tolerate` is kept in `kept` for the caller (a per-request dict,
    not shared state) and raised as a bad request, which the caller turns back into it."""

    def classify(response: httpx.Response) -> Verdict | None:
        ok = response.is_success
        try:
            body = response.json()
        except ValueError:
            # A 2xx that is not JSON is broken; a 5xx page from a proxy is the status's call.
            return (
                Verdict(Kind.MALFORMED, f"expected JSON, got {snippet(response.text)}")
                if ok
                else None
            )
        if not isinstance(body, dict):
            return None
        error = body.get("error")
        # "-" is the docs' placeholder for an empty field in their samples.
        if not error or error == "-" or not isinstance(error, str):
            return None
        name = error_name(error)
        message = f"{error}: {body.get('message') or ''}".strip()
        if name in tolerate:
            kept.update(body)
            return Verdict(Kind.BAD_REQUEST, message)
        if name in THROTTLED:
            return Verdict(Kind.THROTTLED, message)
        text = message.lower()
        # Shopee's own "try (again) later" (also under error_auth: "System error, please try
        # again later." in every common_error_list); never the daily cap's "try again after".
        if name in TRANSIENT or "try again later" in text or "try later" in text:
            return Verdict(Kind.TRANSIENT, message)
        # Everything else (the daily cap included: no retry) is decided by this module from
        # the code: see `ShopeeClient._translate`.
        return Verdict(Kind.BAD_REQUEST, message)

    return classify
