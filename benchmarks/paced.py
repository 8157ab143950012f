"""The rate-limit floor of a marketplace sync: an ideal client under a per-second quota.

A floor is the least time the work can take against the platform's documented limits (or,
where a platform publishes none, the assumption each bench names), whatever the client: the
requests that must wait for an answer wait one latency; the rest go at once, as far as the
quota lets them. The model:

- The work is chains of stages. A stage's calls may all be sent once the previous stage of
  its chain is answered (a page chain is one call a stage; a page's details are one stage).
  Chains run side by side: a client may read listings and orders at once. `then` stages run
  after every chain (the push, which needs both).
- Each call counts against a key (one API, or the whole shop) that allows `qps` calls in any
  one second; a call is sent as early as its stage and its key allow, in the order stages
  become ready (first come, first served), and answered `latency` later.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Calls:
    """`count` calls against the quota `key`."""

    key: str
    count: int


Stage = Sequence[Calls]


def floor(
    chains: Sequence[Sequence[Stage]],
    *,
    then: Sequence[Stage] = (),
    latency: float,
    qps: float,
) -> float:
    """Seconds from the first call to the last answer (see the module docstring)."""
    sent: dict[str, list[float]] = {}

    def send(key: str, ready: float) -> float:
        times = sent.setdefault(key, [])
        moment = max(ready, times[-1] if times else 0.0)
        if len(times) >= qps:
            # The call that many sends back must be a full second old.
            moment = max(moment, times[-int(qps)] + 1.0)
        times.append(moment)
        return moment

    def run(stage: Stage, ready: float) -> float:
        last = ready
        for calls in stage:
            for _ in range(calls.count):
                last = max(last, send(calls.key, ready) + latency)
        return last

    # (ready time, chain, stage): stages are sent in the order they become ready.
    queue = [(0.0, n, 0) for n, chain in enumerate(chains) if chain]
    heapq.heapify(queue)
    done = 0.0
    while queue:
        ready, n, step = heapq.heappop(queue)
        finished = run(chains[n][step], ready)
        if step + 1 < len(chains[n]):
            heapq.heappush(queue, (finished, n, step + 1))
        else:
            done = max(done, finished)
    for stage in then:
        done = run(stage, done)
    return done
