"""The HTTP machinery every HTTP channel shares: one client, one failure table, one budget.

What a failure means is decided in one place, `classify_status` / `classify_exception`, and
acted on in one loop, `ChannelHttp.send`:

    kind         caused by                            what happens
    -----------  -----------------------------------  -------------------------------------
    throttled    429; 503 with Retry-After; the       wait as the channel says (Retry-After,
                 channel's own body signal (Shopify   Shopify's throttleStatus), else back off
                 THROTTLED)
    transient    5xx, 408, timeouts, connection       exponential backoff with jitter, at most
                 errors                               `RetryPolicy.attempts` tries
    auth         401, 403, a channel's access-denied  fail the channel at once, naming the
                 signal                               credential to check
    bad_request  other 4xx, redirects, a channel's    fail with what the channel said
                 own errors
    malformed    a body that is not what the adapter  fail with what was expected and what came
                 expected

Every wait is checked against the channel's time budget (config `timeout`): a retry that
would sleep past it fails the channel now instead, and a request's own timeout never runs
past it either. Every message is scrubbed of secrets before it leaves this module, and the
`httpx` logger (which logs request URLs, where Woo's query-string credentials can sit) is
scrubbed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import json
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import TypeAdapter, ValidationError

from omnisync import __version__
from omnisync.budget import Budget as Budget  # re-exported: the adapters import it here
from omnisync.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelResponseError,
    ChannelUnavailableError,
)
from omnisync.netloc import is_secure_url
from omnisync.payload import parse, validation_message
from omnisync.redact import REDACTOR, RedactingFilter

T = TypeVar("T")

log = logging.getLogger("omnisync.http")

USER_AGENT = (
    f"omnisync/{__version__} (+https://pypi.org/project/omnisync/) httpx/{httpx.__version__}"
)

# Connect fast or not at all; a read may be slow (a big page), but never minutes.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# Connections of a client built for a channel that names no limit of its own. Each adapter
# passes its `concurrency` (the Channel protocol), so its pool matches the requests it keeps
# in flight: a smaller pool would queue them inside httpx, a larger one is never used.
DEFAULT_CONNECTIONS = 8

# httpx logs every request URL at INFO; Woo's query-string fallback puts the consumer
# secret there, so its records go through the same scrubber as ours.
logging.getLogger("httpx").addFilter(RedactingFilter())


@functools.cache
def _verified_tls() -> ssl.SSLContext:
    """One verified TLS context for every channel's client (CA bundle, or SSL_CERT_FILE /
    SSL_CERT_DIR as httpx reads them): loading the bundle costs 15-25 ms a client."""
    return httpx.create_ssl_context(verify=True, trust_env=True)


def build_client(
    *,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
    connections: int = DEFAULT_CONNECTIONS,
    pools: int = 1,
) -> httpx.AsyncClient:
    """The default client of one channel: verified TLS, sane timeouts, omnisync's User-Agent,
    and `connections` connections, the requests the channel keeps in flight at once, split
    over `pools` pools (`pacing.SplitPools`: many connections cost less that way)."""
    if pools > 1 and transport is None and not _proxied():
        from omnisync.channels.pacing import SplitPools  # the paced marketplaces only

        transport = SplitPools.of(connections, pools, verify=_verified_tls())
    return httpx.AsyncClient(
        verify=_verified_tls(),
        timeout=timeout,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        transport=transport,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,  # a redirect means a wrong URL or a login page: say so
        trust_env=True,
    )


def _proxied() -> bool:
    """Whether the environment names a proxy (HTTPS_PROXY, ALL_PROXY, ...).

    httpx routes through it only for a client without a transport of its own, so a client
    split over pools would go around a proxy the seller's network requires: it then keeps
    httpx's single pool.
    """
    import urllib.request

    return any(urllib.request.getproxies().get(scheme) for scheme in ("https", "http", "all"))


class Kind(StrEnum):
    """What a failed exchange means, and so what to do about it (see the module docstring)."""

    THROTTLED = "throttled"
    TRANSIENT = "transient"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A classified failure: its kind, a human message, and a wait the channel asked for."""

    kind: Kind
    message: str
    wait: float | None = None


# The status table. Codes not listed fall back by class in `classify_status`.
STATUS_TABLE: Mapping[int, Kind] = {
    400: Kind.BAD_REQUEST,
    401: Kind.AUTH,
    402: Kind.AUTH,  # Shopify: the shop is frozen (unpaid); a person must act
    403: Kind.AUTH,
    404: Kind.BAD_REQUEST,
    408: Kind.TRANSIENT,
    409: Kind.TRANSIENT,
    413: Kind.BAD_REQUEST,
    422: Kind.BAD_REQUEST,
    423: Kind.TRANSIENT,  # Shopify: the shop is locked for a moment
    425: Kind.TRANSIENT,
    429: Kind.THROTTLED,
    500: Kind.TRANSIENT,
    501: Kind.BAD_REQUEST,  # ModSecurity in front of Woo refusing the request
    502: Kind.TRANSIENT,
    503: Kind.TRANSIENT,  # THROTTLED when it carries Retry-After, see classify_status
    504: Kind.TRANSIENT,
}


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (`Date`, `Retry-After`) as an aware UTC datetime, or None."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def retry_after(headers: httpx.Headers, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), or None."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    moment = http_date(value)
    if moment is None:
        return None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def clock_offset(headers: httpx.Headers, *, now: datetime) -> float | None:
    """Seconds this machine's clock (`now`) is ahead of the server's (negative: behind), from
    the answer's `Date` header; None without a readable one. The marketplaces refuse a request
    whose timestamp is off, and a seller must be told by how much, not "bad signature"."""
    server = http_date(headers.get("Date"))
    if server is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return (now - server).total_seconds()


def classify_status(response: httpx.Response) -> Verdict | None:
    """The verdict on a response by its HTTP status alone; None when it succeeded."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    wait = retry_after(response.headers)
    kind = STATUS_TABLE.get(status)
    if kind is None:
        if 300 <= status < 400:
            where = response.headers.get("Location", "?")
            return Verdict(Kind.BAD_REQUEST, f"HTTP {status}: unexpected redirect to {where}")
        kind = Kind.TRANSIENT if status >= 500 else Kind.BAD_REQUEST
    if status == 503 and wait is not None:
        kind = Kind.THROTTLED
    return Verdict(kind, f"HTTP {status}: {snippet(response.text)}", wait)


def classify_exception(exc: httpx.HTTPError) -> Verdict:
    """The verdict on a request that raised instead of answering."""
    name = type(exc).__name__
    detail = str(exc) or name
    if isinstance(exc, httpx.TimeoutException):
        return Verdict(Kind.TRANSIENT, f"timed out ({name})")
    if isinstance(exc, httpx.HTTPStatusError):
        return classify_status(exc.response) or Verdict(Kind.BAD_REQUEST, detail)
    # The request itself is wrong (a bad URL scheme, a header httpx refuses to send).
    if isinstance(
        exc, httpx.UnsupportedProtocol | httpx.TooManyRedirects | httpx.LocalProtocolError
    ):
        return Verdict(Kind.BAD_REQUEST, f"{name}: {detail}")
    if isinstance(exc, httpx.DecodingError):
        return Verdict(Kind.MALFORMED, f"could not decode the response: {detail}")
    # ConnectError, ReadError, WriteError, CloseError, RemoteProtocolError, ProxyError, and
    # StreamError: the network or the far end misbehaved; worth another try.
    return Verdict(Kind.TRANSIENT, f"{name}: {detail}")


def snippet(text: str, limit: int = 200) -> str:
    """A short, one-line, scrubbed excerpt of a body for an error message."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[:limit] + "…"
    return REDACTOR.scrub(flat) or "(empty body)"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry; the budget caps all of it."""

    attempts: int = 5  # tries of one request for transient failures
    throttle_attempts: int = 30  # waits for one request while throttled
    base: float = 0.5  # first backoff, seconds
    cap: float = 20.0  # longest single backoff, seconds

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so retries of
        several channels spread out but a wait is never near zero."""
        ceiling = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class CostBucket:
    """Paces a leaky-bucket API (Shopify GraphQL) from the figures every response carries.

    The channel charges a query's requested cost up front and refunds the unused part after;
    it restores `rate` points a second up to `maximum`. We keep the last `available` it
    reported and when, and before each query wait until the bucket has refilled enough, so
    requests are never bounced with THROTTLED while a run stays as fast as the bucket allows.

    Queries side by side: an answer's figure counts the queries that reached the channel
    before it ended, which (arriving in the order sent) are those sent before it; the ones
    booked after it and still out are taken off again (`answered`), or a read beside another
    would spend points the figure shows but a query in flight already took.
    """

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.maximum: float | None = None
        self.rate: float | None = None
        self.available: float | None = None
        self.stamp = 0.0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()  # new figures, or a query's headroom let go (nudge)
        self._out: dict[int, float] = {}  # bookings not answered yet: number -> points
        self._booked = 0  # bookings so far, in the order they were made

    def estimate(self) -> float | None:
        if self.available is None or self.rate is None or self.maximum is None:
            return None
        refilled = self.available + (self.budget.clock() - self.stamp) * self.rate
        return min(self.maximum, refilled)

    async def reserve(self, cost: float, *, leave: Callable[[], float] | None = None) -> int:
        """Wait until `cost` points are (by our estimate) in the bucket, and book them; return
        the booking's number (for `update(answered=)` and `release`).

        `leave`: points a query off the critical path leaves in the bucket for the queries on
        it (asked again as it changes); it waits for them without holding up the others.
        """
        if leave is not None:
            await self._room(cost, leave)
        # One query at a time through here, so queries sent side by side queue for points
        # instead of all counting the same ones.
        async with self._lock:
            estimate = self.estimate()
            if estimate is not None and self.rate is not None and estimate < cost:
                needed = min(cost, self.maximum or cost) - estimate
                await self.budget.sleep(needed / self.rate, "throttled by the channel's cost limit")
            # Booked in our estimate now; the response's own figures replace it.
            refilled = self.estimate()
            if refilled is not None:
                self.available = refilled - cost
                self.stamp = self.budget.clock()
            self._booked += 1
            self._out[self._booked] = cost
            return self._booked

    def release(self, booking: int) -> None:
        """The query of `booking` is over without figures (it failed, or is sent again)."""
        self._out.pop(booking, None)

    async def _room(self, cost: float, leave: Callable[[], float]) -> None:
        """Wait until the bucket holds `cost` and what `leave()` keeps for other queries."""
        while True:
            estimate = self.estimate()
            if estimate is None or not self.rate or self.maximum is None:
                if leave() <= 0:
                    return
                # No figures yet: the first answer (or the headroom let go) says more.
                self._changed.clear()
                await self._changed.wait()
                continue
            # A full bucket serves anyone: what it cannot hold besides `cost` is not waited for.
            short = min(cost + max(0.0, leave()), self.maximum) - estimate
            if short <= 0:
                return
            # Only the query's own points count against the budget: the headroom is let go
            # as soon as the queries it is kept for are done.
            own = (cost - estimate) / self.rate
            if own >= self.budget.remaining():
                raise self.budget.exhausted(
                    f"throttled by the channel's cost limit (the next wait, {own:.1f} s, "
                    f"would not fit)"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=short / self.rate)

    def nudge(self) -> None:
        """Wake the queries waiting for headroom: what they leave for others changed."""
        self._changed.set()

    def update(
        self, *, maximum: float, available: float, rate: float, answered: int | None = None
    ) -> None:
        """The figures of an answer to booking `answered` (None: to a query not booked here,
        so every booking still out is taken off: a wait too long rather than THROTTLED)."""
        if answered is not None:
            self._out.pop(answered, None)
        later = sum(
            points
            for booking, points in self._out.items()
            if answered is None or booking > answered
        )
        self.maximum, self.rate = maximum, rate
        self.available = available - later
        self.stamp = self.budget.clock()
        self._changed.set()

    def wait_for(self, cost: float) -> float | None:
        """Seconds until `cost` points will be there, from the last figures; None if unknown."""
        estimate = self.estimate()
        if estimate is None or not self.rate:
            return None
        return max(0.0, (cost - estimate) / self.rate)


Classifier = Callable[[httpx.Response], Verdict | None]


class ChannelHttp:
    """One channel's HTTP session: retries by the failure table, inside the time budget.

    `credential_hint` names what to check when the channel refuses the credentials (e.g.
    "the token in [channels.shop] token"), since the message must say which one.
    """

    def __init__(
        self,
        channel: str,
        *,
        budget: Budget,
        credential_hint: str,
        client: httpx.AsyncClient | None = None,
        policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        rng: random.Random | None = None,
        connections: int = DEFAULT_CONNECTIONS,
        pools: int = 1,
    ) -> None:
        self.channel = channel
        self.budget = budget
        self.credential_hint = credential_hint
        self._own_client = client is None
        self.client = (
            client if client is not None else build_client(connections=connections, pools=pools)
        )
        self.policy = policy or RetryPolicy()
        self.headers = dict(headers or {})
        self.headers.setdefault("User-Agent", USER_AGENT)
        self.auth = auth
        self.rng = rng or random.Random()
        self.requests = 0  # every request sent, retries included (the benchmark counts them)

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    def fail(
        self, verdict: Verdict, context: str = "", response: httpx.Response | None = None
    ) -> NoReturn:
        """Raise the ChannelError a final verdict means, scrubbed.

        The error carries the response's HTTP status and the channel's own error code, so an
        adapter deciding what to do next (Woo's auth fallback, a token refresh) reads them
        from the error it caught, not from shared state that concurrent requests overwrite.
        """
        where = f"{context}: " if context else ""
        message = REDACTOR.scrub(where + verdict.message)
        status = response.status_code if response is not None else None
        code = error_code(response) if response is not None else None
        if verdict.kind is Kind.AUTH:
            raise ChannelAuthError(
                self.channel,
                f"{message} (check {self.credential_hint})",
                http_status=status,
                code=code,
            )
        if verdict.kind in (Kind.THROTTLED, Kind.TRANSIENT):
            raise ChannelUnavailableError(
                self.channel, message, http_status=status, code=code, retry_after=verdict.wait
            )
        raise ChannelResponseError(self.channel, message, http_status=status, code=code)

    def _timeout(self, last_failure: str | None) -> httpx.Timeout:
        """The client's timeouts, shortened so no request outlives the budget."""
        remaining = self.budget.remaining()
        if remaining <= 0:
            raise self.budget.exhausted(last_failure or "out of time")
        base = self.client.timeout

        def cap(value: float | None) -> float:
            return remaining if value is None else min(value, remaining)

        return httpx.Timeout(
            connect=cap(base.connect),
            read=cap(base.read),
            write=cap(base.write),
            pool=cap(base.pool),
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        classify: Classifier | None = None,
        classify_failures: bool = False,
        before: Callable[[], Awaitable[Callable[[], None] | None]] | None = None,
        context: str = "",
    ) -> httpx.Response:
        """Send one request until it succeeds, retrying what the table says is worth it.

        `classify` may look at a 2xx body for a channel's own signals (Shopify answers a
        throttled query with HTTP 200); it returns None to accept the response. `before`
        runs before every attempt (pacing); a function it returns is called the moment
        that attempt's request has left (see `_on_left`). The same body is re-sent on every
        retry, so an idempotency key in it is reused, as Shopify requires. With
        `classify_failures`, the classifier also sees non-2xx answers (Shopee puts its error
        code in the body whatever the status); there None means "no opinion": the status
        table decides.
        """
        if not is_secure_url(url):
            raise ChannelResponseError(
                self.channel,
                f"refusing plain http:// to {httpx.URL(url).host}: only a loopback base_url "
                f"may use http",
            )
        transient_tries = 0
        throttled_tries = 0
        last_failure: str | None = None
        content = None if json_body is None else json.dumps(json_body).encode()
        headers = dict(self.headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
        elif form is not None:  # Lazada takes business parameters as a form body on POST
            content = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded;charset=utf-8"
        while True:
            left = await before() if before is not None else None
            self.requests += 1
            response: httpx.Response | None = None
            try:
                response = await self.client.request(
                    method,
                    url,
                    content=content,
                    params=params,
                    headers=headers,
                    auth=self.auth if self.auth is not None else httpx.USE_CLIENT_DEFAULT,
                    timeout=self._timeout(last_failure),
                    extensions=_on_left(left),
                )
                verdict = classify_status(response)
                if verdict is None and classify is not None:
                    verdict = classify(response)
                elif verdict is not None and classify is not None and classify_failures:
                    verdict = classify(response) or verdict
            except httpx.HTTPError as exc:
                verdict = classify_exception(exc)
            if verdict is None:
                assert response is not None  # no verdict only on an answer that succeeded
                return response
            last_failure = REDACTOR.scrub(f"{context or _path(url)}: {verdict.message}")
            if verdict.kind is Kind.THROTTLED:
                throttled_tries += 1
                if throttled_tries > self.policy.throttle_attempts:
                    self.fail(verdict, context or f"{method} {_path(url)}", response)
                wait = verdict.wait
                if wait is None:
                    wait = self.policy.backoff(throttled_tries, self.rng)
                log.info("%s: throttled, waiting %.2f s", self.channel, wait)
                await self.budget.sleep(wait, REDACTOR.scrub(f"throttled ({verdict.message})"))
            elif verdict.kind is Kind.TRANSIENT:
                transient_tries += 1
                label = context or f"{method} {_path(url)}"
                if transient_tries >= self.policy.attempts:
                    self.fail(
                        Verdict(
                            verdict.kind,
                            f"{verdict.message} (gave up after {transient_tries} tries)",
                        ),
                        label,
                        response,
                    )
                wait = self.policy.backoff(transient_tries, self.rng)
                log.info(
                    "%s: %s, retrying in %.2f s",
                    self.channel,
                    REDACTOR.scrub(f"{label}: {verdict.message}"),
                    wait,
                )
                await self.budget.sleep(wait, REDACTOR.scrub(f"{label}: {verdict.message}"))
            else:
                self.fail(verdict, context or f"{method} {_path(url)}", response)

    def json(self, response: httpx.Response, expected: str) -> Any:
        """The response's JSON, or a ChannelResponseError saying what was expected."""
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ChannelResponseError(
                self.channel,
                f"{_path(str(response.url))}: expected {expected}, got {snippet(response.text)}",
            ) from None

    def validate(
        self,
        response: httpx.Response,
        model: type[T] | TypeAdapter[T],
        data: Any,
        *,
        root: str = "",
    ) -> T:
        """`data` (read from `response`) as `model`, or a ChannelResponseError naming the
        path in the payload that does not fit (`root` names the payload itself)."""
        try:
            return parse(model, data)
        except ValidationError as exc:
            where = _path(str(response.url))
            raise ChannelResponseError(
                self.channel, REDACTOR.scrub(f"{where}: {validation_message(exc, root=root)}")
            ) from None

    def parse(
        self,
        response: httpx.Response,
        model: type[T] | TypeAdapter[T],
        *,
        root: str = "",
    ) -> T:
        """The response's JSON body as `model` (see `validate`)."""
        return self.validate(response, model, self.json(response, "a JSON body"), root=root)

    def malformed(self, response: httpx.Response, expected: str, got: Any) -> ChannelError:
        """The error for a body whose shape is not what the adapter needs."""
        shown = got if isinstance(got, str) else json.dumps(got, default=str)
        return ChannelResponseError(
            self.channel,
            f"{_path(str(response.url))}: expected {expected}, got {snippet(shown)}",
        )


def _on_left(left: Callable[[], None] | None) -> dict[str, Any] | None:
    """httpcore's `trace` extension calling `left` once the request is all written: a quota
    counts arrivals, and a new connection or a full pool can hold a request well past its
    pacing. Transports that do not trace (the tests' in-process ones) never call it."""
    if left is None:
        return None

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            left()

    return {"trace": trace}


def error_code(response: httpx.Response) -> str | None:
    """The channel's own error code in a JSON error body (`code` or `error`), if any."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    for key in ("code", "error"):
        value = body.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    return None


def _path(url: str) -> str:
    """A URL without its query string (which may hold credentials) for messages."""
    return REDACTOR.scrub(httpx.URL(url).copy_with(query=None).path)
