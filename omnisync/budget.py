"""A channel's time budget for one run, apart from the HTTP layer: file channels skip httpx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from omnisync.errors import ChannelUnavailableError
from omnisync.redact import REDACTOR

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Budget:
    """A channel's time budget for one run, on the monotonic clock."""

    channel: str
    seconds: float
    clock: Clock = time.monotonic
    sleep_fn: Sleep = asyncio.sleep
    deadline: float = field(init=False)
    # Called when `extend` moves the deadline (the engine's timeout for the channel follows).
    on_extend: Callable[[], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.seconds

    def extend(self, seconds: float) -> None:
        """Give the channel `seconds` more: the time one order too big for any run's budget
        needs on its own (Shopify's 10,000-line order), so it cannot starve the channel."""
        if seconds <= 0:
            return
        self.deadline += seconds
        if self.on_extend is not None:
            self.on_extend()

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def exhausted(self, why: str) -> ChannelUnavailableError:
        return ChannelUnavailableError(
            self.channel,
            REDACTOR.scrub(
                f"{why}; gave up within the channel's time budget of {self.seconds:g} s "
                f"(config key 'timeout')"
            ),
        )

    async def sleep(self, seconds: float, why: str) -> None:
        """Sleep, unless that would run past the budget: then fail the channel now."""
        if seconds <= 0:
            return
        if seconds >= self.remaining():
            raise self.exhausted(f"{why} (the next wait, {seconds:.1f} s, would not fit)")
        await self.sleep_fn(seconds)
