"""The outage gate of a bulk run: every worker waits at it while the server cannot be reached.

Moved out of :mod:`.bulk` so that the circuit breaker (:mod:`.breaker`, a gate with another trigger and
another probe) can build on it without an import circle; :mod:`.bulk` re-exports these names.

When a call fails because the server cannot be reached (:func:`unreachable`), the run's
:class:`OutageGate` closes: every worker waits at it instead of spending the handle's retries, one task
probes the server with backoff, waits for CometD to be connected again, and reopens the gate; the
failed attempt is made again without being counted.  The gate also closes when CometD is down and the
server does not answer a probe, before any call failed (:meth:`OutageGate.watch`): every worker may be
waiting on a call whose notifications went down with the server, and no call fails until its timeout.
Past ``max_outage`` seconds the run stops: the handles not finished are skipped and
:class:`~gwsnb.errors.ServerUnavailableError` is raised.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from ..errors import GwsStatusError, NotificationTimeout, ServerUnavailableError, TransportError
from ..params import ChainedRecordParams
from ..results import ChainedRecordResult

__all__ = ["CallOne", "ClientHooks", "OutageGate", "PROBE_BASE_S", "PROBE_CAP_S", "PROBE_TIMEOUT_S", "UNAVAILABLE_HTTP",
           "WATCH_S", "unreachable"]

LOGGER = logging.getLogger("gwsnb.client")

#: seconds between probes of an unreachable server: doubled from the base up to the cap
PROBE_BASE_S = 0.5
PROBE_CAP_S = 1.0  # an anonymous GET a second costs a server nothing; the run resumes within 1 s of its return
#: seconds one probe may take
PROBE_TIMEOUT_S = 10.0
#: seconds between two looks at CometD's state while a run's gate is open (a probe only when disconnected)
WATCH_S = 0.5
#: HTTP statuses of a gateway or server that is down or restarting
UNAVAILABLE_HTTP = frozenset({502, 503, 504})
CallOne = Callable[[ChainedRecordParams, str], Awaitable[ChainedRecordResult]]


@dataclasses.dataclass(frozen=True)
class ClientHooks:
    """What the engine needs of the client: its one-handle coroutine, whether it was closed, whether its
    CometD session is connected, and a probe that says whether the server answers (never raises)."""

    call: CallOne
    closed: Callable[[], bool]
    connected: Callable[[], bool] = lambda: True
    probe: Callable[[], Awaitable[bool]] | None = None


def unreachable(error: BaseException, cometd_connected: bool) -> bool:
    """Whether ``error`` means the server cannot be reached (rather than a lost call on a healthy server).

    The one place that decides it: a :class:`TransportError` flagged ``unreachable`` (connection refused
    or reset), an HTTP 502/503/504 answer (a gateway or server that is down or restarting), or a call
    that timed out while CometD was disconnected (the notifications had nowhere to go).
    """
    if isinstance(error, (TransportError, GwsStatusError)):
        if getattr(error, "unreachable", False):
            return True
        if getattr(error, "http_status", None) in UNAVAILABLE_HTTP:
            return True
    return isinstance(error, NotificationTimeout) and not cometd_connected


class OutageGate:
    """Holds every worker of a run while the server is unreachable (loop thread only).

    :meth:`close` starts one probing task; it reopens the gate once the server answers and CometD is
    connected, or gives up after ``max_outage`` seconds (then ``error`` is set and ``on_give_up`` runs).
    A gate closed again before any call succeeded since it reopened continues the same outage, so a
    server that answers the probe but fails every call still ends within ``max_outage``.
    """

    #: seconds before the first probe, doubled per probe up to the cap
    probe_base_s = PROBE_BASE_S
    probe_cap_s = PROBE_CAP_S
    #: what the log says when the gate closes
    closing = "server unreachable"

    def __init__(self, hooks: ClientHooks, max_outage: float, on_give_up: Callable[[], None]) -> None:
        self.hooks = hooks
        self.max_outage = max_outage
        self.on_give_up = on_give_up
        self.since: float | None = None  # monotonic start of the current outage; None when open
        self.last_since: float | None = None  # start of the last outage, while no call succeeded since
        self.cause: BaseException | None = None
        self.error: ServerUnavailableError | None = None
        self.outages = 0
        self._open = asyncio.Event()
        self._open.set()
        self._prober: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.hooks.probe is not None

    def status(self) -> str | None:
        """``None`` when open, else a short line for the progress bar."""
        if self.since is None:
            return None
        waited = time.monotonic() - self.since
        return f"server unreachable, waiting {waited:.0f} s (max {self.max_outage:.0f} s)"

    @property
    def passable(self) -> bool:
        """Whether :meth:`passage` would return at once (the engine then does not await it)."""
        return self._open.is_set()

    async def passage(self) -> None:
        """Return when the gate is open (at once when it is)."""
        while not self._open.is_set():
            await self._open.wait()

    def succeeded(self) -> None:
        """A call succeeded: a later closing is a new outage."""
        self.last_since = None

    def close(self, cause: BaseException) -> None:
        if self.since is not None or self.error is not None:
            return
        self.since = self.last_since if self.last_since is not None else time.monotonic()
        self.cause = cause
        self.outages += 1
        self._open.clear()
        LOGGER.warning("%s (%s): pausing the run, waiting up to %.0f s", self.closing, cause, self.max_outage)
        self._prober = asyncio.get_running_loop().create_task(self._probe_until_back())

    def cancel(self) -> None:
        for task in (self._prober, self._watcher):
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    def watch(self) -> None:
        """Start watching CometD for the run's duration (until :meth:`cancel`): see :meth:`_watch`."""
        if self.enabled and self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """Close the gate when CometD is disconnected and the server does not answer a probe.

        A failing call closes it too, but only a call that fails: when the server goes down while every
        worker waits on a call in flight, their notifications are lost and none fails before its timeout,
        so an outage shorter than the timeout would never be seen and ``max_outage`` never applied (a
        flake of issue 26 on a loaded machine, where that is the usual moment for a server to stop).
        """
        assert self.hooks.probe is not None
        while True:
            await asyncio.sleep(WATCH_S)
            if self.since is not None or self.error is not None or self.hooks.connected() or self.hooks.closed():
                continue
            try:
                answered = await asyncio.wait_for(self.hooks.probe(), PROBE_TIMEOUT_S)
            except Exception as exc:  # a probe must not end the watch (a timeout included)
                LOGGER.debug("probe: %r", exc)
                answered = False
            if not answered and not self.hooks.connected() and self.since is None and self.error is None:
                self.close(TransportError("CometD is disconnected and the server does not answer",
                                          unreachable=True))

    async def _probe_until_back(self) -> None:
        assert self.since is not None and self.hooks.probe is not None
        delay = self.probe_base_s
        while True:
            left = self.since + self.max_outage - time.monotonic()
            if left <= 0:
                self._give_up()
                return
            await asyncio.sleep(min(self._spread(delay), left))
            delay = min(delay * 2, self.probe_cap_s)
            if await self._answers(self.since + self.max_outage - time.monotonic()):
                self._reopen()
                return

    def _spread(self, delay: float) -> float:
        """The wait before the next probe (a subclass adds jitter)."""
        return delay

    async def _answers(self, left: float) -> bool:
        """The server answers the probe and CometD is connected again, within ``left`` seconds."""
        if left <= 0 or self.hooks.closed():
            return False
        assert self.hooks.probe is not None
        try:
            if not await asyncio.wait_for(self.hooks.probe(), min(left, PROBE_TIMEOUT_S)):
                return False
        except Exception as exc:  # a probe must not end the run (a timeout included)
            LOGGER.debug("probe: %r", exc)
            return False
        deadline = time.monotonic() + left
        while not self.hooks.connected():  # CometD reconnects (and re-handshakes) by itself
            if time.monotonic() >= deadline or self.hooks.closed():
                return False
            await asyncio.sleep(0.05)
        return True

    def _reopen(self) -> None:
        assert self.since is not None
        LOGGER.warning("server back after %.1f s: resuming the run", time.monotonic() - self.since)
        self.last_since, self.since = self.since, None
        self._open.set()

    def _stop_error(self, waited: float) -> ServerUnavailableError:
        return ServerUnavailableError(
            f"the server stayed unreachable for {waited:.0f} s (max_outage={self.max_outage:g} s); the run "
            f"stopped, unfinished handles are not done (last error: {self.cause})", waited_s=waited)

    def _give_up(self) -> None:
        waited = time.monotonic() - (self.since or time.monotonic())
        self.error = self._stop_error(waited)
        self.since = None
        self._open.set()
        self.on_give_up()
