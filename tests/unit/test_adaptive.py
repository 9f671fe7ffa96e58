"""The adaptive concurrency controller (gwsnb/_engine/adaptive.py) on synthetic latencies.

Two kinds of feed: hand-made latency series (grow, shrink, floor, signals) and a small discrete-event
model of a server, a closed loop of ``limit`` callers around a station of ``capacity`` servers that
each take ``service_ms`` per call, behind a client overhead of ``overhead_ms`` (no waiting there).  The
model is a fake server on purpose: it is deterministic, runs a minute of simulated calls in well under a
second, and gives the true queue wait to compare with; the same claims are checked against the real
sandbox over sockets in tests/pace/.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

import pytest

from gwsnb._engine.adaptive import AdaptiveLimit, AdaptiveSettings


def feed(ctl: AdaptiveLimit, t: float, latency_ms: float, n: int, *, server_ms: float | None = None,
         kind: str = "ok", step: float | None = None) -> float:
    """``n`` calls of ``latency_ms`` finishing ``step`` s apart from ``t`` (by default as Little's law has
    them: ``limit`` calls per latency); the time after the last."""
    for _ in range(n):
        ctl.observe(kind, latency_ms / 1000.0, server_ms, now=t)
        t += step if step is not None else latency_ms / 1000.0 / ctl.limit
    return t


def span(ctl: AdaptiveLimit, t: float, seconds: float, latency_ms: float, **kw: float | None) -> float:
    """Calls of ``latency_ms`` for ``seconds`` from ``t``, at the pace Little's law gives the limit."""
    end = t + seconds
    while t < end:
        t = feed(ctl, t, latency_ms, 1, **kw)  # type: ignore[arg-type]
    return t


def settled(ctl: AdaptiveLimit, t: float, latency_ms: float, **kw: float) -> float:
    """Feed until the first floor probe is over (the probe's calls must be sent after it began)."""
    t += latency_ms / 1000.0
    while ctl.probing:
        t = feed(ctl, t, latency_ms, 1, **kw)
    return t


def test_the_floor_is_measured_first_at_the_probe_limit() -> None:
    ctl = AdaptiveLimit(AdaptiveSettings(probe_limit=3, probe_samples=12), now=0.0)
    assert ctl.probing and ctl.limit == 3
    # calls that finish before they could have been sent after the probe began are not the floor
    feed(ctl, 0.005, 50.0, 20, step=0.001)
    assert ctl.probing and ctl.floor_ms is None
    settled(ctl, 0.1, 8.0)
    assert not ctl.probing and ctl.floor_ms == pytest.approx(8.0)


def test_grows_to_the_ceiling_while_the_latency_stays_at_its_floor() -> None:
    ctl = AdaptiveLimit(AdaptiveSettings(max_limit=40, remeasure_s=1e9), now=0.0)
    t = settled(ctl, 0.0, 5.0)
    seen = [ctl.limit]
    for _ in range(100):
        t = span(ctl, t, 0.2, 5.0)
        seen.append(ctl.limit)
    assert seen == sorted(seen), "the limit only grows at a flat latency"
    assert ctl.limit == 40


def test_shrinks_when_the_latency_rises_above_its_floor() -> None:
    ctl = AdaptiveLimit(AdaptiveSettings(max_limit=64, remeasure_s=1e9), now=0.0)
    t = settled(ctl, 0.0, 5.0)
    t = span(ctl, t, 11, 5.0)
    high = ctl.limit
    assert high == 64
    t = span(ctl, t, 0.8, 15.0)  # latency x3: a queue of about 2/3 of the calls in flight
    assert ctl.limit < high / 2
    assert ctl.floor_ms == pytest.approx(5.0), "a higher latency does not move the floor between probes"


def test_overload_signals_back_off_once_per_interval_and_ocs_errors_do_nothing() -> None:
    s = AdaptiveSettings(max_limit=64, remeasure_s=1e9, backoff=0.5)
    ctl = AdaptiveLimit(s, now=0.0)
    t = settled(ctl, 0.0, 5.0)
    t = span(ctl, t, 11, 5.0)
    assert ctl.limit == 64
    t = feed(ctl, t, 5.0, 200, kind="ocs_error", step=0.01)  # 2 s of handles' own errors
    assert ctl.limit == 64
    ctl.observe("ok", 0.005, None, now=t)  # the interval of the OCS errors closes, the limit unmoved
    assert ctl.limit == 64
    t = feed(ctl, t + 0.001, 30_000.0, 50, kind="timeout", step=0.0001)  # 50 timeouts within one interval
    ctl.observe("ok", 0.005, None, now=t + 0.2)  # the interval closes
    assert ctl.limit == 32
    for kind in ("http_429", "http_503", "transport"):
        before = ctl.limit
        t = feed(ctl, t + 0.2, 5.0, 1, kind=kind)
        ctl.observe("ok", 0.005, None, now=t + 0.2)
        assert ctl.limit == int(before * 0.5 + 0.5) or ctl.limit == before // 2, kind


def test_the_server_metric_alone_can_shrink_the_limit() -> None:
    """The client's latency flat (a GWS queue before its own timer would not show there), the server's
    processing time up: that is load too."""
    ctl = AdaptiveLimit(AdaptiveSettings(max_limit=64, remeasure_s=1e9), now=0.0)
    t = settled(ctl, 0.0, 20.0, server_ms=5.0)
    t = span(ctl, t, 11, 20.0, server_ms=5.0)
    assert ctl.limit == 64 and ctl.server_floor_ms == pytest.approx(5.0)
    t = span(ctl, t, 2.2, 20.0, server_ms=35.0)
    assert ctl.limit < 40


def test_the_floor_is_re_measured_when_the_server_becomes_slower_for_good() -> None:
    """Between probes only a lower latency moves the floor; a probe measures it afresh, so a server that is
    now slower at any load (its service time doubled) is not mistaken for a queue forever."""
    s = AdaptiveSettings(max_limit=64, remeasure_s=5.0, remeasure_jitter=0.0)
    ctl = AdaptiveLimit(s, now=0.0)
    t = settled(ctl, 0.0, 5.0)
    assert ctl.floor_ms == pytest.approx(5.0)
    end = t + 12.0
    while t < end:  # the same load, every call now 10 ms
        t = feed(ctl, t, 10.0, 10, step=0.011)
    assert ctl.probes >= 2
    assert ctl.floor_ms == pytest.approx(10.0)
    t = span(ctl, t, 33, 10.0)
    assert ctl.limit == 64, "at its new floor the latency lets the limit grow again"


def test_a_lower_latency_lowers_the_floor_at_once() -> None:
    ctl = AdaptiveLimit(AdaptiveSettings(remeasure_s=1e9), now=0.0)
    t = settled(ctl, 0.0, 9.0)
    t = feed(ctl, t, 6.0, 11, step=0.011)
    assert ctl.floor_ms == pytest.approx(6.0)


def test_does_not_grow_when_the_run_keeps_few_calls_in_flight() -> None:
    ctl = AdaptiveLimit(AdaptiveSettings(max_limit=64, remeasure_s=1e9), now=0.0)
    t = settled(ctl, 0.0, 5.0)
    start = ctl.limit
    for _ in range(100):
        for _ in range(10):
            ctl.observe("ok", 0.005, None, now=t, inflight=1)
            t += 0.011
    assert ctl.limit == start


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="min_limit"):
        AdaptiveSettings(min_limit=5, max_limit=4)
    with pytest.raises(ValueError, match="alpha"):
        AdaptiveSettings(alpha=6, beta=3)
    with pytest.raises(ValueError, match="backoff"):
        AdaptiveSettings(backoff=1.0)


# --- a closed-loop server model ---------------------------------------------------------------------
@dataclass
class Model:
    """``limit`` callers (read from the controller when a call ends) around ``capacity`` servers."""

    ctl: AdaptiveLimit
    capacity: int
    service_ms: float
    overhead_ms: float = 3.0
    jitter: float = 0.2
    seed: int = 1
    now: float = 0.0
    waits: list[tuple[float, float]] = field(default_factory=list)  # (start of service, wait ms)
    limits: list[tuple[float, int]] = field(default_factory=list)
    done: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.events: list[tuple[float, int, str, float]] = []  # (time, seq, what, sent)
        self.seq = 0
        self.queue: list[tuple[float, float]] = []  # (arrived, sent)
        self.busy = 0
        self.inflight = 0

    def _push(self, at: float, what: str, sent: float) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, what, sent))

    def _spread(self, ms: float) -> float:
        return ms * (1 + self.jitter * (self.rng.random() * 2 - 1)) / 1000.0

    def _send(self) -> None:
        self.inflight += 1
        self._push(self.now + self._spread(self.overhead_ms / 2), "arrive", self.now)

    def _serve(self, arrived: float, sent: float) -> None:
        self.busy += 1
        self.waits.append((self.now, (self.now - arrived) * 1000.0))
        self._push(self.now + self._spread(self.service_ms), "served", sent)

    def run(self, until: float, capacity_at: dict[float, int] | None = None) -> None:
        changes = sorted((capacity_at or {}).items())
        while self.inflight < self.ctl.limit:
            self._send()
        while self.events and self.now < until:
            while changes and changes[0][0] <= self.events[0][0]:
                self.capacity = changes.pop(0)[1]
            self.now, _, what, sent = heapq.heappop(self.events)
            if what == "arrive":
                self.queue.append((self.now, sent))
            elif what == "served":
                self.busy -= 1
                self._push(self.now + self._spread(self.overhead_ms / 2), "answered", sent)
            else:  # answered: the call is done at the client
                self.inflight -= 1
                self.done += 1
                latency = self.now - sent
                server = latency * 1000.0 - self.overhead_ms
                self.ctl.observe("ok", latency, server, now=self.now, inflight=self.inflight)
                if not self.ctl.probing:  # the band is the limit's, not the floor probe's pin
                    self.limits.append((self.now, self.ctl.limit))
                while self.inflight < self.ctl.limit:
                    self._send()
            while self.queue and self.busy < self.capacity:
                self._serve(*self.queue.pop(0))

    def wait_p95(self, start: float, end: float) -> float:
        waits = sorted(w for at, w in self.waits if start <= at < end)
        return waits[int(0.95 * (len(waits) - 1))]

    def limit_range(self, start: float, end: float) -> tuple[int, int]:
        seen = [n for at, n in self.limits if start <= at < end]
        return min(seen), max(seen)


def auto(max_limit: int = 64, seed: int = 1) -> AdaptiveLimit:
    """The controller as a run makes it, its re-measurement jitter drawn from a seeded source: the model
    is deterministic only if both its own spread and the controller's jitter are."""
    return AdaptiveLimit(AdaptiveSettings(max_limit=max_limit), now=0.0, rng=random.Random(seed).random)


def fixed(limit: int, capacity: int, service_ms: float, seconds: float) -> Model:
    """The same model at a fixed limit (a controller whose band never moves it)."""
    s = AdaptiveSettings(min_limit=limit, max_limit=limit, probe_limit=limit, remeasure_s=1e9)
    model = Model(AdaptiveLimit(s, now=0.0), capacity, service_ms)
    model.run(seconds)
    return model


def test_model_fixed_64_queues_about_seven_service_times() -> None:
    """The baseline the issue names: 64 in flight at capacity 8 wait about 7 service times."""
    model = fixed(64, capacity=8, service_ms=5.0, seconds=5.0)
    assert 5 * 5.0 < model.wait_p95(1.0, 5.0) < 9 * 5.0


def test_model_capacity_8_keeps_the_wait_under_one_service_time_at_full_throughput() -> None:
    model = Model(auto(), capacity=8, service_ms=5.0)
    model.run(30.0)
    assert model.wait_p95(5.0, 30.0) <= 5.0
    best = max(fixed(n, 8, 5.0, 10.0).done / 10.0 for n in (8, 16, 32))
    assert model.done / 30.0 >= 0.9 * best
    # the stated band: after the climb, the limit stays within [capacity, capacity + 12] calls
    low, high = model.limit_range(5.0, 30.0)
    assert low >= 8 and high <= 8 + 12, (low, high)


def test_model_unlimited_server_costs_at_most_ten_percent_of_fixed_16() -> None:
    """No capacity limit in the server: what is left is the overhead; auto keeps up with a fixed 16."""
    model = Model(auto(), capacity=10_000, service_ms=1.0,
                  overhead_ms=2.0)
    model.run(10.0)
    assert model.done / 10.0 >= 0.9 * fixed(16, 10_000, 1.0, 10.0).done / 10.0


def test_model_capacity_drop_recovers_within_five_seconds_and_climbs_again() -> None:
    model = Model(auto(), capacity=32, service_ms=5.0)
    model.run(60.0, capacity_at={20.0: 8, 40.0: 32})
    _, high_before = model.limit_range(10.0, 20.0)
    assert high_before > 20
    for second in range(25, 40):  # from 5 s after the drop, every second is under the bound
        assert model.wait_p95(second, second + 1) <= 5.0, second
    _, during = model.limit_range(30.0, 40.0)
    _, after = model.limit_range(50.0, 60.0)
    assert after > during + 8, (during, after)
