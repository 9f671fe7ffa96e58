"""The circuit breaker of a bulk run: when most recent calls fail, stop sending, probe, resume.

It is an :class:`~gwsnb._engine.outage.OutageGate` (the same gate the workers wait at, the same
``max_outage`` and clean stop) with another trigger and another probe:

* **trigger**: every finished call attempt is counted (:meth:`CircuitBreaker.count`, a
  :class:`~gwsnb._engine.pace.Pacer` hook); when more than ``threshold`` of the last ``window`` calls
  failed (any kind but ``"ok"`` and a handle's own ``"ocs_error"``, which says nothing of the server),
  the gate closes.  Until ``window`` calls were seen, the share is of those seen, at least
  :data:`MIN_CALLS`: a run that starts against a failing server must not spend its first handles'
  retries before the window fills (8 workers, 3 attempts each, are 24 failures: fewer than 26 of 50);
* **probe**: one real GetChainedRecord call (the server may answer an anonymous ``GET /me`` and still
  fail every call), at a growing interval (0.5 s doubled up to 4 s, times 0.5-1.5 at random), so that many runs
  stopped by the same failure do not probe in step;
* **stop**: past ``max_outage`` the run stops with :class:`~gwsnb.errors.ServerFailingError`, whose
  ``failures`` counts what was seen by kind.

The engine sends again, without spending a retry, every call that failed while the breaker was open or
tripping (see :meth:`CircuitBreaker.excuses`): no handle is marked failed for that time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable

from ..errors import ServerFailingError, ServerUnavailableError
from .outage import ClientHooks, OutageGate

__all__ = ["CircuitBreaker", "COUNTED_OK", "MIN_CALLS", "PROBE_CALL_TIMEOUT_S"]

LOGGER = logging.getLogger("gwsnb.client")

#: outcome kinds that are not failures of the server
COUNTED_OK = frozenset({"ok", "ocs_error"})
#: the fewest recent calls the breaker judges on (a run's first calls, a window not full yet)
MIN_CALLS = 10
#: the longest one probe call may take before it counts as failed
PROBE_CALL_TIMEOUT_S = 60.0


class CircuitBreaker(OutageGate):
    """The breaker of one run (loop thread only).

    :param hooks: the client's hooks (whether it was closed).
    :param max_outage: seconds the breaker may stay open before the run stops.
    :param on_give_up: stops the run (``BatchRun.stop``).
    :param window: the recent calls looked at (``Pace.breaker_window``).
    :param threshold: the share of them that must have failed (``Pace.breaker_threshold``).
    :param probe: sends one call and returns its kind (``"ok"``, ``"timeout"``...).
    :param rng: the jitter's source.
    """

    probe_base_s = 0.5
    probe_cap_s = 4.0  # one call every 2-6 s costs a server nothing; the run resumes within 6 s of its return
    closing = "circuit breaker open"

    def __init__(self, hooks: ClientHooks, max_outage: float, on_give_up: Callable[[], None], *, window: int,
                 threshold: float, probe: Callable[[], Awaitable[str]],
                 rng: Callable[[], float] = random.random) -> None:
        super().__init__(hooks, max_outage, on_give_up)
        self.window = window
        self.threshold = threshold
        self._probe_call = probe
        self._random = rng
        self._recent: deque[bool] = deque(maxlen=window)  # True: failed
        self._failing = 0
        #: failures by kind since the breaker last closed (the ones that opened it included)
        self.failures: Counter[str] = Counter()
        #: times the breaker opened; a call that failed before a later opening is excused
        self.trips = 0
        self.probes = 0

    @property
    def enabled(self) -> bool:
        return True

    # --- counting --------------------------------------------------------------------------------------
    def count(self, kind: str) -> None:
        """One finished call attempt (or probe) of ``kind``; opens the breaker past the threshold."""
        failed = kind not in COUNTED_OK
        if failed:
            self.failures[kind] += 1
        if self.since is not None or self.error is not None:
            return  # open: the probes decide
        if len(self._recent) == self._recent.maxlen and self._recent[0]:
            self._failing -= 1
        self._recent.append(failed)
        self._failing += failed
        if not failed:
            if not self._failing:
                self.failures.clear()
            return
        seen = len(self._recent)
        if seen >= min(MIN_CALLS, self.window) and self._failing > self.threshold * seen:
            self.trips += 1
            self.close(RuntimeError(f"{self._failing} of the last {seen} calls failed "
                                    f"({self._summary()})"))

    def count_ok(self) -> None:
        """:meth:`count` of an ``"ok"`` attempt, without the bookkeeping it cannot change: while the breaker
        is closed, the window full and none of it failed, one more success leaves the window as it is."""
        recent = self._recent
        if not self._failing and self.since is None and self.error is None and len(recent) == recent.maxlen:
            if self.failures:
                self.failures.clear()
            return
        self.count("ok")

    def excuses(self, trips_before: int) -> bool:
        """Whether a call that failed when :attr:`trips` was ``trips_before`` is the breaker's, not its
        handle's: the breaker is open now, or opened since (the call was one of those that tripped it)."""
        return self.since is not None or self.trips > trips_before

    # --- the gate's probe, one real call ----------------------------------------------------------------
    def _spread(self, delay: float) -> float:
        return delay * (0.5 + self._random())  # "full" jitter around the step: [0.5, 1.5) x delay

    async def _answers(self, left: float) -> bool:
        if left <= 0 or self.hooks.closed():
            return False
        self.probes += 1
        try:
            kind = await asyncio.wait_for(self._probe_call(), min(left, PROBE_CALL_TIMEOUT_S))
        except Exception as exc:  # a probe must not end the run
            LOGGER.debug("breaker probe: %r", exc)
            kind = "timeout" if isinstance(exc, asyncio.TimeoutError) else "other"
        if kind not in COUNTED_OK:
            self.failures[kind] += 1
            return False
        return True

    def _reopen(self) -> None:
        super()._reopen()
        self._recent.clear()
        self._failing = 0
        self.failures.clear()

    def status(self) -> str | None:
        if self.since is None:
            return None
        waited = time.monotonic() - self.since
        return (f"most calls failing ({self._summary()}), probing for {waited:.0f} s "
                f"(max {self.max_outage:.0f} s)")

    def _summary(self) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in self.failures.most_common()) or "none"

    def _stop_error(self, waited: float) -> ServerUnavailableError:
        return ServerFailingError(
            f"most calls kept failing for {waited:.0f} s (max_outage={self.max_outage:g} s; failures seen: "
            f"{self._summary()}); the run stopped, unfinished handles are not done",
            waited_s=waited, failures=dict(self.failures))
