"""The adaptive concurrency controller behind ``concurrency="auto"``: pure logic, no I/O, no clock of its own.

The number of calls a bulk run keeps in flight follows the server.  The controller is fed every finished
call (:meth:`AdaptiveLimit.observe`: its kind, its latency from the POST to ChainedRecordsDataEnd, and the
server's own ``serverProcessingTimeTotalMs`` when the notifications carried it) and, once per sampling
interval, moves :attr:`AdaptiveLimit.limit`.  The pacer (:mod:`gwsnb._engine.pace`) applies the limit.

The algorithm (docs/production.md, "Adaptive concurrency", says why this one):

* **a latency floor, measured and re-measured** as Envoy's adaptive concurrency filter measures its
  minRTT: at the start and then every :attr:`AdaptiveSettings.remeasure_s` seconds (with jitter, so that
  two runs do not probe together), the limit is pinned to :attr:`~AdaptiveSettings.probe_limit` and the
  median latency of calls sent during the pin becomes the floor.  Between probes a lower interval median
  lowers the floor at once.  There is one floor for the client's latency and one for the server's own
  processing time;
* **a queue estimate, as TCP Vegas makes it**: by Little's law, the calls waiting somewhere are the
  completion rate times the latency above the floor (the larger of the client's and the server's
  excess), in calls.  The client's latency counts only above twice its floor
  (:attr:`~AdaptiveSettings.client_tolerance`): on a loaded machine the client's own CPU makes it rise
  with any concurrency, and the server's processing time shows the server's queue from its floor;
* **a band**: below :attr:`~AdaptiveSettings.alpha` queued calls the limit grows (by ``sqrt(limit)/2``, at
  least 1, Envoy's headroom halved), above :attr:`~AdaptiveSettings.beta` it shrinks by half the excess queue (at least 1), or by the factor
  ``max_ratio × floor / latency`` (at most halved, Gradient2's clamp) when that is more and the latency is
  over :attr:`~AdaptiveSettings.max_ratio` times its floor, and in between it holds.  A latency far above
  its floor with no queue by Little's law (a few calls, each slow: the client's own machine starved of
  CPU, say) does not shrink the limit: fewer calls would not make them faster.  The hold band is what keeps the
  limit from oscillating;
* **overload signals**: a timeout, an HTTP 429 or 503, or a transport failure in an interval multiplies
  the limit by :attr:`~AdaptiveSettings.backoff` (AIMD's decrease, as the AWS SDKs' adaptive retry
  does), once per interval however many calls failed together.  A handle's own OCS error (an ``Error``
  notification) says nothing about load: it is neither a sample nor a signal.
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
from collections.abc import Callable

__all__ = ["AdaptiveLimit", "AdaptiveSettings", "OVERLOAD_KINDS", "SAMPLE_KINDS"]

#: outcome kinds whose latency is a sample of the server's load
SAMPLE_KINDS = frozenset({"ok"})
#: outcome kinds that mean the server (or the way to it) is overloaded
OVERLOAD_KINDS = frozenset({"timeout", "http_429", "http_503", "transport"})


@dataclasses.dataclass(frozen=True)
class AdaptiveSettings:
    """The controller's constants (defaults measured in benchmarks/bench_pace.py, docs/production.md).

    :param max_limit: the ceiling (``Pace.max_concurrency``).
    :param min_limit: the limit never goes below this.
    :param probe_limit: calls in flight while the floor is measured.
    :param probe_samples: calls sent during a probe whose median latency becomes the floor.
    :param remeasure_s: seconds between two measurements of the floor (the jitter is added to it).
    :param remeasure_jitter: the fraction of ``remeasure_s`` drawn at random and added to each wait.
    :param interval_s: the shortest sampling interval; an interval ends once it is this old and holds
        ``min_samples`` samples, or is ``max_interval_s`` old with at least one.
    :param alpha: below this many queued calls (estimated) the limit grows.
    :param beta: above this many it shrinks.
    :param max_ratio: a latency above this multiple of its floor, with a queue, shrinks the limit faster.
    :param backoff: the factor applied to the limit on an overload signal.
    :param client_tolerance: the client's latency counts as queueing only above ``(1 + client_tolerance) ×
        floor``: a client starved of CPU (another process, its own parsing) is slow at any concurrency, and
        a wait of one floor is the issue's bound; the server's own processing time counts from its floor.
    """

    max_limit: int = 64
    min_limit: int = 1
    probe_limit: int = 3
    probe_samples: int = 12
    remeasure_s: float = 20.0
    remeasure_jitter: float = 0.25
    interval_s: float = 0.1
    min_samples: int = 8
    max_interval_s: float = 1.0
    alpha: float = 3.0
    beta: float = 5.0
    max_ratio: float = 2.0
    backoff: float = 0.7
    client_tolerance: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_limit <= self.max_limit:
            raise ValueError(f"need 1 <= min_limit <= max_limit, got {self.min_limit}, {self.max_limit}")
        if not 0 < self.alpha < self.beta:
            raise ValueError(f"need 0 < alpha < beta, got {self.alpha}, {self.beta}")
        if not 0 < self.backoff < 1:
            raise ValueError(f"need 0 < backoff < 1, got {self.backoff}")


@dataclasses.dataclass
class _Interval:
    """The samples of one sampling interval."""

    started: float
    client_ms: list[float] = dataclasses.field(default_factory=list)
    server_ms: list[float] = dataclasses.field(default_factory=list)
    overloaded: int = 0


class AdaptiveLimit:
    """The limit on calls in flight of one run, moved by what the finished calls say.

    Not thread-safe: used on the client's loop only.  ``now`` in every method is the caller's monotonic
    clock in seconds (the pacer passes ``time.monotonic()``; the tests a synthetic clock).

    :param settings: the constants.
    :param now: the time the run starts (the first floor measurement starts then).
    :param rng: the jitter's source (a seeded ``random.Random`` in tests).
    """

    def __init__(self, settings: AdaptiveSettings | None = None, *, now: float,
                 rng: Callable[[], float] | None = None) -> None:
        self.settings = s = settings or AdaptiveSettings()
        self._random = rng or random.random
        self._estimate = float(min(max(s.probe_limit, s.min_limit), s.max_limit))
        #: (monotonic start, limit to restore) while the floor is measured, else None
        self._probing: tuple[float, float] | None = None
        self._probe_client: list[float] = []
        self._probe_server: list[float] = []
        self.floor_ms: float | None = None
        self.server_floor_ms: float | None = None
        #: the last interval's median latency and estimated queue (what the calls frame shows)
        self.latency_ms: float | None = None
        self.queue: float = 0.0
        self.probes = 0
        self._interval = _Interval(now)
        self._at_min = 0
        self._next_probe = now
        self._start_probe(now)

    # --- what the pacer reads --------------------------------------------------------------------
    @property
    def limit(self) -> int:
        """The calls allowed in flight now."""
        if self._probing is not None:
            return min(self.settings.probe_limit, self.settings.max_limit)
        return int(self._estimate)

    @property
    def probing(self) -> bool:
        """Whether the floor is being measured (the limit is pinned low meanwhile)."""
        return self._probing is not None

    # --- what the pacer feeds --------------------------------------------------------------------
    def observe(self, kind: str, latency_s: float | None, server_ms: float | None, *, now: float,
                inflight: int | None = None) -> int:
        """Take one finished call into account and return the limit now in force.

        :param kind: ``"ok"``, ``"ocs_error"``, ``"timeout"``, ``"http_429"``, ``"http_503"``,
            ``"transport"`` or ``"other"``.
        :param latency_s: seconds from the POST to ChainedRecordsDataEnd (``None`` when unknown).
        :param server_ms: the server's own processing time of the call (``None`` when not reported).
        :param now: the caller's monotonic clock.
        :param inflight: calls in flight now, if known: a run that keeps fewer than half its limit busy
            (its end, a rate cap) does not grow the limit, as Netflix's Gradient2 does not.
        """
        if kind in OVERLOAD_KINDS:
            self._interval.overloaded += 1
        elif kind in SAMPLE_KINDS and latency_s is not None and latency_s >= 0:
            client_ms = latency_s * 1000.0
            if self._probing is not None:
                self._probe_sample(client_ms, server_ms, now)
            else:
                self._interval.client_ms.append(client_ms)
                if server_ms is not None and server_ms >= 0:
                    self._interval.server_ms.append(float(server_ms))
        if self._probing is None:
            self._maybe_update(now, inflight)
        return self.limit

    # --- the floor ---------------------------------------------------------------------------------
    def _start_probe(self, now: float) -> None:
        self._probing = (now, self._estimate)
        self._probe_client, self._probe_server = [], []
        self.probes += 1

    def _probe_sample(self, client_ms: float, server_ms: float | None, now: float) -> None:
        assert self._probing is not None
        started, restore = self._probing
        if now - client_ms / 1000.0 < started:
            return  # sent before the pin: its latency still carries the old queue
        self._probe_client.append(client_ms)
        if server_ms is not None and server_ms >= 0:
            self._probe_server.append(float(server_ms))
        if len(self._probe_client) < self.settings.probe_samples:
            return
        self.floor_ms = statistics.median(self._probe_client)
        self.server_floor_ms = statistics.median(self._probe_server) if self._probe_server else None
        self._probing = None
        self._estimate = restore
        self._interval = _Interval(now)
        s = self.settings
        self._next_probe = now + s.remeasure_s * (1.0 + s.remeasure_jitter * self._random())

    # --- the limit -------------------------------------------------------------------------------
    def _maybe_update(self, now: float, inflight: int | None) -> None:
        interval = self._interval
        age = now - interval.started
        samples = len(interval.client_ms)
        s = self.settings
        if not ((age >= s.interval_s and (samples >= s.min_samples or interval.overloaded))
                or (age >= s.max_interval_s and (samples or interval.overloaded))):
            return
        self._interval = _Interval(now)
        if interval.overloaded:
            self._set(self._estimate * s.backoff)
        elif samples:
            self._adjust(interval, samples / age if age > 0 else 0.0, inflight)
        if now >= self._next_probe:
            self._start_probe(now)

    def _adjust(self, interval: _Interval, rate_per_s: float, inflight: int | None) -> None:
        s = self.settings
        client = statistics.median(interval.client_ms)
        server = statistics.median(interval.server_ms) if interval.server_ms else None
        assert self.floor_ms is not None
        self.floor_ms = min(self.floor_ms, client)
        excess_ms = max(0.0, client - self.floor_ms * (1.0 + s.client_tolerance))
        if server is not None:
            self.server_floor_ms = server if self.server_floor_ms is None else min(self.server_floor_ms, server)
            excess_ms = max(excess_ms, server - self.server_floor_ms)
        # the server's excess counts against the client's floor: its own floor can be 0 (whole ms)
        ratio = (self.floor_ms + excess_ms) / self.floor_ms if self.floor_ms > 0 else 1.0
        self.latency_ms = client
        # Little's law: the calls waiting are the completion rate times the time spent above the floor
        self.queue = queue = rate_per_s * excess_ms / 1000.0
        if queue > s.beta:
            target = self._estimate - max(1.0, (queue - s.beta) / 2)
            if ratio > s.max_ratio:  # a queue and a latency far above its floor: Gradient2's gradient,
                target = min(target, self._estimate * max(0.5, s.max_ratio / ratio))  # clamped to [0.5, 1]
            self._set(target)
        elif queue < s.alpha and (inflight is None or inflight >= self._estimate / 2):
            self._set(self._estimate + max(1.0, math.sqrt(self._estimate) / 2))

    def _set(self, estimate: float) -> None:
        s = self.settings
        self._estimate = min(float(s.max_limit), max(float(s.min_limit), estimate))
        # pinned at the bottom for several intervals: the floor may be stale (Envoy re-measures then too)
        self._at_min = self._at_min + 1 if self._estimate <= s.min_limit else 0
        if self._at_min >= 5:
            self._at_min = 0
            self._next_probe = 0.0
