"""The shared HTTP layer: the failure table, retries inside the budget, real sockets."""

from __future__ import annotations

import inspect
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from omnisync import __version__
from omnisync.errors import (
    ChannelAuthError,
    ChannelResponseError,
    ChannelUnavailableError,
)
from omnisync.httpclient import (
    Budget,
    ChannelHttp,
    Kind,
    RetryPolicy,
    build_client,
    classify_exception,
    classify_status,
    clock_offset,
    retry_after,
)
from omnisync.payload import Id, Payload
from omnisync.redact import Secret
from tests.channels.conftest import FAST, run, shopify_channel
from tests.fakes.server import FakeApp, Fault, Request, Response, dead_url, serve
from tests.fakes.shopify_api import FakeShopify


class Echo(FakeApp):
    async def handle(self, request: Request) -> Response:
        return Response(200, {"ok": True, "ua": request.headers.get("user-agent")})


def channel_http(
    app: FakeApp | None = None,
    *,
    seconds: float = 10.0,
    policy: RetryPolicy = FAST,
    client: httpx.AsyncClient | None = None,
) -> ChannelHttp:
    if client is None:
        client = build_client(transport=httpx.ASGITransport(app=app) if app else None)
    return ChannelHttp(
        "shop",
        budget=Budget("shop", seconds),
        credential_hint="the token",
        client=client,
        policy=policy,
    )


def all_subclasses(cls: type[httpx.HTTPError]) -> set[type[httpx.HTTPError]]:
    found: set[type[httpx.HTTPError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


# What each httpx exception means, written out one by one (not derived from the code under
# test): the request itself is wrong → bad_request; a body that cannot be decoded →
# malformed; the network, a timeout or the far end misbehaving → transient, worth a retry.
EXCEPTION_KINDS: dict[type[httpx.HTTPError], Kind] = {
    httpx.CloseError: Kind.TRANSIENT,
    httpx.ConnectError: Kind.TRANSIENT,
    httpx.ConnectTimeout: Kind.TRANSIENT,
    httpx.DecodingError: Kind.MALFORMED,
    httpx.LocalProtocolError: Kind.BAD_REQUEST,  # a header httpx refuses to send
    httpx.NetworkError: Kind.TRANSIENT,
    httpx.PoolTimeout: Kind.TRANSIENT,
    httpx.ProtocolError: Kind.TRANSIENT,
    httpx.ProxyError: Kind.TRANSIENT,
    httpx.ReadError: Kind.TRANSIENT,
    httpx.ReadTimeout: Kind.TRANSIENT,
    httpx.RemoteProtocolError: Kind.TRANSIENT,  # the server broke HTTP mid-answer
    httpx.RequestError: Kind.TRANSIENT,
    httpx.TimeoutException: Kind.TRANSIENT,
    httpx.TooManyRedirects: Kind.BAD_REQUEST,
    httpx.TransportError: Kind.TRANSIENT,
    httpx.UnsupportedProtocol: Kind.BAD_REQUEST,  # a URL that is not http(s)
    httpx.WriteError: Kind.TRANSIENT,
    httpx.WriteTimeout: Kind.TRANSIENT,
}


def test_the_table_names_every_httpx_error() -> None:
    # A new httpx exception fails here until someone decides what it means.
    assert all_subclasses(httpx.HTTPError) - {httpx.HTTPStatusError} == set(EXCEPTION_KINDS)


@pytest.mark.parametrize(
    ("exc_type", "kind"),
    [(exc_type, EXCEPTION_KINDS[exc_type]) for exc_type in sorted(EXCEPTION_KINDS, key=str)],
    ids=lambda value: value.__name__ if isinstance(value, type) else str(value),
)
def test_every_httpx_error_is_mapped(exc_type: type[httpx.HTTPError], kind: Kind) -> None:
    request = httpx.Request("GET", "https://x")
    if "request" in inspect.signature(exc_type).parameters:
        exc: httpx.HTTPError = exc_type("boom", request=request)  # type: ignore[call-arg]
    else:
        exc = exc_type("boom")
    assert classify_exception(exc).kind is kind


@pytest.mark.parametrize(("status", "kind"), [(401, Kind.AUTH), (503, Kind.TRANSIENT)])
def test_a_raised_status_error_is_judged_by_its_status(status: int, kind: Kind) -> None:
    request = httpx.Request("GET", "https://x")
    exc = httpx.HTTPStatusError(
        "boom", request=request, response=httpx.Response(status, request=request)
    )
    assert classify_exception(exc).kind is kind


@pytest.mark.parametrize(
    ("status", "headers", "kind"),
    [
        (401, {}, Kind.AUTH),
        (403, {}, Kind.AUTH),
        (404, {}, Kind.BAD_REQUEST),
        (422, {}, Kind.BAD_REQUEST),
        (429, {}, Kind.THROTTLED),
        (500, {}, Kind.TRANSIENT),
        (503, {}, Kind.TRANSIENT),
        (503, {"Retry-After": "3"}, Kind.THROTTLED),
        (520, {}, Kind.TRANSIENT),
        (302, {"Location": "https://x/login"}, Kind.BAD_REQUEST),
    ],
)
def test_status_table(status: int, headers: dict[str, str], kind: Kind) -> None:
    verdict = classify_status(httpx.Response(status, headers=headers, text="nope"))
    assert verdict is not None and verdict.kind is kind


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert retry_after(httpx.Headers({"Retry-After": "2.5"})) == 2.5
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after(httpx.Headers({"Retry-After": date}), now=now) == 30
    assert retry_after(httpx.Headers({"Retry-After": "soon"})) is None


def test_backoff_grows_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base=1.0, cap=8.0)
    rng = random.Random(7)
    waits = [policy.backoff(n, rng) for n in range(1, 7)]
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    assert all(4.0 <= w <= 8.0 for w in waits[3:])
    assert len({round(w, 6) for w in waits}) == len(waits)


def test_requests_name_omnisync_and_its_version() -> None:
    async def go() -> str:
        http = channel_http(Echo())
        response = await http.send("GET", "https://shop.example/x")
        await http.client.aclose()
        return str(response.json()["ua"])

    assert run(go()).startswith(f"omnisync/{__version__} ")


def test_auth_failure_is_not_retried_and_names_the_credential() -> None:
    app = Echo()
    app.fail_next(Fault(status=401, body={"errors": "Invalid token"}))

    async def go() -> None:
        http = channel_http(app)
        try:
            await http.send("GET", "https://shop.example/x")
        finally:
            await http.client.aclose()

    with pytest.raises(ChannelAuthError, match=r"HTTP 401.*\(check the token\)"):
        run(go())
    assert len(app.requests) == 1


def test_transient_failures_give_up_after_the_policy_s_tries() -> None:
    app = Echo()
    app.fail_next(*[Fault(status=500) for _ in range(10)])

    async def go() -> None:
        http = channel_http(app)
        try:
            await http.send("GET", "https://shop.example/x")
        finally:
            await http.client.aclose()

    with pytest.raises(ChannelUnavailableError, match="gave up after 4 tries"):
        run(go())
    assert len(app.requests) == FAST.attempts


def test_a_bad_request_fails_with_what_the_channel_said() -> None:
    app = Echo()
    app.fail_next(Fault(status=400, body={"message": "per_page must be at most 100"}))

    async def go() -> None:
        http = channel_http(app)
        try:
            await http.send("GET", "https://shop.example/x")
        finally:
            await http.client.aclose()

    with pytest.raises(ChannelResponseError, match="per_page must be at most 100"):
        run(go())


def test_a_budget_never_sleeps_past_its_deadline() -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    clock = iter([0.0, 0.0, 1.0, 1.0]).__next__
    budget = Budget("shop", 5.0, clock=clock, sleep_fn=fake_sleep)

    async def go() -> None:
        await budget.sleep(2.0, "throttled")  # at t=0: fits
        await budget.sleep(4.5, "throttled")  # at t=1: 4 s left, does not

    with pytest.raises(ChannelUnavailableError, match="time budget of 5 s"):
        run(go())
    assert slept == [2.0]


def test_secrets_in_a_channel_s_answer_are_scrubbed() -> None:
    secret = Secret("sk_live_never_print_me_123")
    app = Echo()
    app.fail_next(Fault(status=400, body={"error": f"bad key {secret.reveal()}"}))

    async def go() -> None:
        http = channel_http(app)
        try:
            await http.send("GET", f"https://shop.example/x?key={secret.reveal()}")
        finally:
            await http.client.aclose()

    with pytest.raises(ChannelResponseError) as caught:
        run(go())
    assert secret.reveal() not in str(caught.value)
    assert "bad key ***" in str(caught.value)


def test_credentials_never_go_over_plain_http_to_another_host() -> None:
    app = Echo()

    async def go() -> None:
        http = channel_http(app)
        try:
            await http.send("GET", "http://shop.example/x")
        finally:
            await http.client.aclose()

    with pytest.raises(ChannelResponseError, match="refusing plain http:// to shop.example"):
        run(go())
    assert app.requests == []


# -- real sockets ---------------------------------------------------------------------------


def test_a_request_that_times_out_is_retried_on_a_real_socket() -> None:
    shopify = FakeShopify()
    shopify.add_variant("TEE-M", 4)
    shopify.fail_next(Fault(hang=1.0))  # the first request hangs past the read timeout

    async def go(url: str) -> list[int]:
        client = build_client(timeout=httpx.Timeout(0.3))
        async with shopify_channel(None, base_url=url, transport=None) as channel:
            channel.http.client = client
            try:
                return [listing.quantity for listing in await channel.list_listings()]
            finally:
                await client.aclose()

    with serve(shopify) as url:
        assert run(go(url)) == [4]
    assert len(shopify.requests) == 2


def test_a_dead_host_fails_the_channel_within_its_budget() -> None:
    async def go() -> None:
        policy = RetryPolicy(attempts=50, base=0.2, cap=0.4)
        async with shopify_channel(None, base_url=dead_url(), timeout=1.5, policy=policy) as ch:
            await ch.list_listings()

    started = time.monotonic()
    with pytest.raises(ChannelUnavailableError) as caught:
        run(go())
    assert time.monotonic() - started < 3.0  # the policy alone would retry for ~15 s
    # Refused at once, as a rule; a port taken again between the probe and the connect (a
    # server started meanwhile by another test) may let the connect time out instead.
    assert "ConnectError" in str(caught.value) or "ConnectTimeout" in str(caught.value)
    assert "time budget of 1.5 s" in str(caught.value)


# -- payloads -------------------------------------------------------------------------------


class Item(Payload):
    id: Id
    quantity: int


class Page(Payload):
    items: list[Item]


def test_a_payload_that_does_not_fit_is_named_by_path_and_scrubbed() -> None:
    secret = Secret("sk_live_in_a_body_456")
    http = channel_http(Echo())
    response = httpx.Response(200, request=httpx.Request("GET", "https://shop.example/p?k=1"))
    body = {"items": [{"id": 7, "quantity": 1}, {"id": "8", "quantity": secret.reveal()}]}

    with pytest.raises(ChannelResponseError) as caught:
        http.validate(response, Page, body, root="page")
    assert caught.value.message == '/p: page.items[1].quantity: expected an integer, got "***"'
    assert http.validate(response, Page, {"items": [{"id": 7, "quantity": 1}]}) == Page(
        items=[Item(id="7", quantity=1)]
    )


def test_several_misfits_are_counted_after_the_first() -> None:
    http = channel_http(Echo())
    response = httpx.Response(200, request=httpx.Request("GET", "https://shop.example/p"))

    with pytest.raises(ChannelResponseError) as caught:
        http.validate(response, list[Item], [{"id": 1}, {"quantity": True}])
    assert caught.value.message == "/p: [0].quantity: missing (and 2 more)"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Fri, 20 Nov 2026 09:00:00 GMT", 0.0),
        ("Fri, 20 Nov 2026 08:50:00 GMT", 600.0),  # the server is 10 min behind us
        ("Fri, 20 Nov 2026 12:00:00 GMT", -10800.0),
        ("not a date", None),
        (None, None),
    ],
)
def test_clock_offset_reads_the_servers_date(date: str | None, expected: float | None) -> None:
    headers = httpx.Headers({"Date": date} if date else {})
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert clock_offset(headers, now=now) == expected
