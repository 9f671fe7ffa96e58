"""What keeps a bulk run safe for the server it reads, beside its fixed pace (docs/production.md):

* **adaptive concurrency** (``Pace(concurrency="auto")``): an :class:`~.adaptive.AdaptiveLimit` fed by
  every finished call through a :class:`~.pace.Pacer` hook, setting :attr:`~.pace.Pacer.limit`;
* **server pushback**: an HTTP 429 or 503 answer with ``Retry-After`` pauses every new call of the run
  for that long (:meth:`~.pace.Pacer.pause_until`) and the refused call is sent again without spending a
  retry; a ``Retry-After`` beyond ``max_outage`` stops the run cleanly, as an outage does.  A 429 without
  one pauses :data:`DEFAULT_429_PAUSE_S`; a 503 without one is an outage (:func:`.outage.unreachable`);
* **the circuit breaker** (:class:`~.breaker.CircuitBreaker`).

:class:`RunGuard` is the one object :mod:`.bulk` talks to for all three, so that the engine's retry loop
reads as before plus three calls.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from ..errors import GwsStatusError, ServerUnavailableError
from .adaptive import AdaptiveLimit, AdaptiveSettings
from .breaker import COUNTED_OK, CircuitBreaker
from .outage import ClientHooks
from .pace import CallKind, Pacer, Ticket

__all__ = ["DEFAULT_429_PAUSE_S", "RESEND", "RunGuard", "STOP"]

#: the pause after an HTTP 429 that named no ``Retry-After``
DEFAULT_429_PAUSE_S = 1.0
#: :meth:`RunGuard.judge`'s verdicts: send the call again without spending a retry; stop the run
RESEND = "resend"
STOP = "stop"


def _pushback(error: BaseException, kind: str) -> float | None:
    """Seconds the server asked the run to pause, or ``None`` when ``error`` is no pushback."""
    retry_after = getattr(error, "retry_after", None)
    if kind == "http_429":
        return retry_after if retry_after is not None else DEFAULT_429_PAUSE_S
    if kind == "http_503":
        return retry_after  # without it: an outage (the gate), as before
    return None


class RunGuard:
    """Adaptive concurrency, pushback and the breaker of one run (loop thread only).

    :param pacer: the run's pacer.
    :param hooks: the client's hooks.
    :param max_outage: seconds the run may be held by the server (breaker open, a pushback) before it stops.
    :param on_stop: stops the run (``BatchRun.stop``).
    :param probe: sends one call and returns its kind (the breaker's probe).
    """

    def __init__(self, pacer: Pacer, hooks: ClientHooks, max_outage: float, on_stop: Callable[[], None], *,
                 probe: Callable[[], Awaitable[str]]) -> None:
        self.pacer = pacer
        self.max_outage = max_outage
        self._on_stop = on_stop
        pace = pacer.pace
        self.breaker = CircuitBreaker(hooks, max_outage, on_stop, window=pace.breaker_window,
                                      threshold=pace.breaker_threshold, probe=probe)
        self.adaptive: AdaptiveLimit | None = None
        if pace.concurrency == "auto":
            self.adaptive = AdaptiveLimit(AdaptiveSettings(max_limit=pace.max_concurrency), now=time.monotonic())
            pacer.limit = self.adaptive.limit
            pacer.hooks.append(self._steer)
        #: pushback pauses of the run and their total seconds
        self.pauses = 0
        self.paused_s = 0.0
        self._paused_until = 0.0
        self._error: ServerUnavailableError | None = None

    # --- adaptive concurrency --------------------------------------------------------------------------
    def _steer(self, ticket: Ticket, kind: CallKind, latency_s: float, server: float | None) -> None:
        assert self.adaptive is not None
        limit = self.adaptive.observe(kind, latency_s, server, now=time.monotonic(),
                                      inflight=self.pacer.in_flight + 1)
        if limit != self.pacer.limit:
            self.pacer.limit = limit

    # --- around each attempt ------------------------------------------------------------------------------
    @property
    def trips(self) -> int:
        """The breaker's openings so far (an attempt notes it when it is sent: see :meth:`excuses`)."""
        return self.breaker.trips

    @property
    def passable(self) -> bool:
        """Whether the breaker lets calls through now (:meth:`passage` would return at once)."""
        return self.breaker.passable

    async def passage(self) -> None:
        """Return when the breaker lets calls through."""
        await self.breaker.passage()

    def count_ok(self) -> None:
        """:meth:`count` of an attempt that succeeded (the engine's path for most calls)."""
        self.breaker.count_ok()

    def count(self, error: BaseException | None, kind: CallKind) -> None:
        """One attempt ended (``error`` ``None`` when it succeeded): the breaker counts it, unless it is a
        refusal with ``Retry-After`` (the server is up and said what to do: the pause is the answer)."""
        if error is not None and _pushback(error, kind) is not None:
            return
        self.breaker.count(kind)

    def judge(self, error: BaseException, kind: CallKind, trips: int) -> str | None:
        """What to do with an attempt that failed with ``error``: :data:`RESEND` (a pushback paused the
        run, or the breaker is open or opened since the attempt was sent), :data:`STOP` (the run stops:
        :attr:`error` says why), or ``None``: the engine's own rules apply."""
        pause = _pushback(error, kind)
        if pause is not None:
            return self._pause(pause, error)
        if self.breaker.error is not None:
            return STOP
        if kind not in COUNTED_OK and self.breaker.excuses(trips):
            return RESEND
        return None

    @staticmethod
    def pushed_back(error: BaseException, kind: CallKind) -> bool:
        """Whether ``error`` is the server's pushback (429, or 503 with ``Retry-After``)."""
        return _pushback(error, kind) is not None

    def excuses(self, trips: int) -> bool:
        """Whether the breaker opened since an attempt noted ``trips`` (its failure is then not charged)."""
        return self.breaker.excuses(trips)

    @staticmethod
    def retriable(error: BaseException) -> bool:
        """A server error answer (HTTP 5xx with a statusCode, e.g. statusCode 4) is a fault of the
        moment, not a verdict on the handle: GetChainedRecord only reads, so it is retried."""
        return isinstance(error, GwsStatusError) and (error.http_status or 0) >= 500

    def _pause(self, seconds: float, error: BaseException) -> str:
        status = getattr(error, "http_status", None)
        if seconds > self.max_outage:
            self._error = ServerUnavailableError(
                f"the server asked the run to wait {seconds:g} s (HTTP {status} Retry-After), more than "
                f"max_outage={self.max_outage:g} s; the run stopped, unfinished handles are not done "
                f"(resume it later)", waited_s=0.0)
            self._on_stop()
            return STOP
        now = time.monotonic()
        if now + seconds > self._paused_until:  # a new pause, or a longer one: not each refused call
            self.pauses += 1
            self.paused_s += now + seconds - max(now, self._paused_until)
            self._paused_until = now + seconds
        self.pacer.pause_until(now + seconds, f"HTTP {status}: the server asked to retry after {seconds:g} s")
        return RESEND

    # --- the run's end and its display -----------------------------------------------------------------
    @property
    def error(self) -> ServerUnavailableError | None:
        """Why the guard stopped the run (a pushback beyond ``max_outage``, or the breaker gave up)."""
        return self._error or self.breaker.error

    def succeeded(self) -> None:
        self.breaker.succeeded()

    def cancel(self) -> None:
        self.breaker.cancel()

    def status(self) -> str | None:
        """The breaker's line for the progress bar while it is open (the pacer's postfix shows the limit)."""
        return self.breaker.status()
