"""The marketplaces' pacer: calls counted when they leave, refusals waited out briefly, and
the burst of a window carried by split connection pools."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from omnisync.channels.base import ChannelContext
from omnisync.channels.lazada import LazadaChannel
from omnisync.channels.pacing import SLACK, STEP, Pacer, SplitPools
from omnisync.httpclient import Budget, ChannelHttp, build_client
from tests.channels.conftest import FAST, run
from tests.fakes.lazada_api import FakeLazada
from tests.fakes.lazada_client import BASE, settings
from tests.fakes.server import FakeApp, Fault, Request, Response, serve


class Clock:
    """Time that passes only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def paced(qps: int) -> tuple[Pacer, Clock]:
    clock = Clock()
    budget = Budget("shop", 600.0, clock=clock, sleep_fn=clock.sleep)
    return Pacer(budget, qps, limit="a test's quota"), clock


def test_a_call_counts_from_when_it_left_not_from_when_its_wait_returned() -> None:
    pacer, clock = paced(2)

    async def go() -> float:
        first = await pacer.wait("api")
        second = await pacer.wait("api")
        clock.now = 0.4  # both waited that long for a connection, then left
        first()
        second()
        await pacer.wait("api")  # the third call of the window
        return clock.now

    # The platform saw the two arrive at 0.4: a third arrives a window after them, not after
    # the moment they were cleared (1.05, a burst of three in 0.65 s, the third refused).
    assert run(go()) == 0.4 + SLACK


def test_a_caller_that_never_says_when_its_call_left_is_counted_from_its_wait() -> None:
    pacer, clock = paced(2)

    async def go() -> float:
        for _ in range(3):
            await pacer.wait("api")
        return clock.now

    assert run(go()) == SLACK


def test_each_api_has_its_own_window() -> None:
    pacer, clock = paced(1)

    async def go() -> float:
        await pacer.wait("products")
        await pacer.wait("orders")
        return clock.now

    assert run(go()) == 0.0


def test_a_refusal_lengthens_the_windows_once_and_the_call_goes_again_a_step_later() -> None:
    pacer, clock = paced(3)

    async def go() -> tuple[float, float, float]:
        for _ in range(3):
            await pacer.wait("api")
        clock.now = 0.2
        # Two calls of one burst refused at once: one lesson, not two.
        waits = pacer.bounced("api"), pacer.bounced("api")
        assert pacer.period == SLACK + STEP
        clock.now += waits[0]
        await pacer.wait("api")  # the window is full: it waits for the oldest to age out
        return waits[0], waits[1], clock.now

    first, second, sent = run(go())
    # A full window (the refused call still counted in it) waits until the oldest call is
    # the longer window old; an emptier one waits a step.
    assert first == second == SLACK + STEP - 0.2
    assert sent == SLACK + STEP


def test_a_refused_call_in_a_window_with_room_waits_only_a_step() -> None:
    pacer, clock = paced(50)

    async def go() -> float:
        await pacer.wait("api")
        clock.now = 0.5
        return pacer.bounced("api")

    assert run(go()) == STEP


def test_a_call_refused_again_waits_a_whole_window_as_the_platform_asks() -> None:
    pacer, _ = paced(50)

    async def go() -> float:
        await pacer.wait("api")
        pacer.bounced("api")
        return pacer.bounced("api", again=True)

    assert run(go()) == SLACK + STEP


class Counting(FakeApp):
    """Answers after its latency, counting requests in flight at once."""

    def __init__(self) -> None:
        super().__init__(latency=0.2)
        self.inside = self.most = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.inside -= 1

    async def handle(self, request: Request) -> Response:
        return Response(200, {"n": request.query.get("n")})


PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_split_pools_carry_a_whole_burst_at_once_and_free_their_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    no_proxy(monkeypatch)
    app = Counting()

    async def go(url: str) -> list[Any]:
        client = build_client(connections=20, pools=4)
        try:
            answers = await asyncio.gather(
                *(client.get(f"{url}/x", params={"n": str(n)}) for n in range(20))
            )
            assert isinstance(client._transport, SplitPools)
            assert client._transport.busy == [0, 0, 0, 0]  # every answer gave its slot back
            return [answer.json()["n"] for answer in answers]
        finally:
            await client.aclose()

    with serve(app) as url:
        got = run(go(url))
    assert got == [str(n) for n in range(20)]
    assert app.most == 20  # four pools of five: the 20 went out together


def test_a_proxy_the_environment_names_is_used_even_where_pools_would_be_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A seller's network may allow the internet only through a proxy: httpx honours
    # HTTPS_PROXY and the like only for a client without a transport of its own.
    no_proxy(monkeypatch)
    proxy = Counting()

    async def go(url: str) -> Any:
        monkeypatch.setenv("HTTP_PROXY", url)
        client = build_client(connections=20, pools=4)
        try:
            # Only the proxy can answer for a host that does not exist.
            answer = await client.get("http://shop.invalid/x", params={"n": "1"})
            return answer.json()
        finally:
            await client.aclose()

    with serve(proxy) as url:
        assert run(go(url)) == {"n": "1"}
    assert proxy.most == 1


def test_the_moment_a_request_leaves_is_reported_over_a_real_socket() -> None:
    app = Counting()
    seen: list[str] = []

    async def go(url: str) -> None:
        http = ChannelHttp("shop", budget=Budget("shop", 10.0), credential_hint="-", policy=FAST)

        async def before() -> Any:
            seen.append("cleared")
            return lambda: seen.append("left")

        try:
            await http.send("GET", f"{url}/x", before=before)
            seen.append("answered")
        finally:
            await http.aclose()

    with serve(app) as url:
        run(go(url))
    assert seen == ["cleared", "left", "answered"]


THROTTLED = {"type": "ISP", "code": "901", "message": "Limit service request speed"}


def lazada_sleeps(faults: int) -> list[float]:
    """The waits of one product read that Lazada refuses `faults` times over its quota."""
    fake = FakeLazada()
    fake.add_product([("TEE-M", 10)])
    fake.fail_next(
        *(Fault(status=200, body=THROTTLED, match="/products/get") for _ in range(faults))
    )
    clock = Clock()

    async def go() -> None:
        context = ChannelContext(
            budget=Budget("lzd", 60.0, clock=clock, sleep_fn=clock.sleep),
            http=httpx.AsyncClient(transport=httpx.ASGITransport(app=fake)),
            now=lambda: datetime.now(UTC),
        )
        lazada = LazadaChannel("lzd", settings(), context=context, base_url=BASE, policy=FAST)
        try:
            assert len(await lazada.list_listings()) == 1
        finally:
            await lazada.aclose()

    run(go())
    return clock.sleeps


def test_lazada_sends_a_call_refused_over_its_quota_again_a_step_later() -> None:
    # "please retry in the next second" (901): a refusal from jitter at the window's edge
    # costs a step, not the second the run would otherwise lose.
    assert lazada_sleeps(1) == [STEP]


def test_lazada_waits_a_whole_window_when_the_same_call_is_refused_again() -> None:
    assert lazada_sleeps(2) == [STEP, SLACK + STEP]
