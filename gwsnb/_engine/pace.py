"""The pace of a bulk run at run time: every call attempt of :mod:`.bulk` passes :meth:`Pacer.admit` before
it is sent and reports to :meth:`Pacer.done` after (see ``docs/production.md``).  :meth:`Pacer.admit_now`
is its plain-call shortcut for the common case (a fixed concurrency with a free slot, no window, rate or
pause): the engine tries it first and awaits :meth:`Pacer.admit` only when it says no, so that a run
without those settings pays a few comparisons per call for them (``benchmarks/bench_hot_path.py``).

:meth:`Pacer.admit` waits, in this order, for the working window (:attr:`gwsnb.Pace.window`), a pause
(:meth:`Pacer.pause_until`, which server pushback sets), a concurrency slot (:attr:`Pacer.limit`, which can
change during the run: the run starts as many workers as the limit can ever reach and the slots bound
the calls in flight), the rate limiter (``aiolimiter``, across all workers) and the budget
(:attr:`gwsnb.Pace.max_calls`): it returns a :class:`Ticket`, or ``None`` once the budget is spent.
:meth:`Pacer.done` frees the slot and hands the call's kind and latency to the :attr:`Pacer.hooks`
(the adaptive concurrency and the circuit breaker attach there).

Loop thread only, except the read-only properties the progress bar reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from .. import protocol
from ..pace import Load, Pace

__all__ = ["CallKind", "Pacer", "Ticket", "DoneHook", "WINDOW_RECHECK_S", "server_ms"]

#: what became of a call attempt, as :meth:`Pacer.done` is told
CallKind = Literal["ok", "ocs_error", "timeout", "http_429", "http_503", "transport", "other"]
#: the longest a closed window is slept at once (the wall clock may jump, the zone may change offset)
WINDOW_RECHECK_S = 30.0
#: a rate limiter's bucket holds this many seconds of calls (at least one call): bursts stay small
RATE_BURST_S = 0.1


@dataclasses.dataclass(slots=True)
class Ticket:
    """One admitted call attempt: when it was sent (monotonic), the concurrency limit in force and the
    calls in flight at that moment (this one included)."""

    sent: float
    concurrency: int
    in_flight: int


#: ``hook(ticket, kind, latency_s, server_ms)``, called by :meth:`Pacer.done` on the loop thread
DoneHook = Callable[[Ticket, CallKind, float, "float | None"], None]


class _Slots:
    """A counting semaphore whose limit can be changed while it is held (asyncio's cannot)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot just as it was cancelled: give it on
            else:
                self._waiters.remove(future)
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self.wake()

    def wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            future = self._waiters.popleft()
            if not future.done():
                self.in_flight += 1
                future.set_result(None)


class Pacer:
    """The pace of one run (see the module).  ``wall`` returns the current time in the pace's zone (tests
    give a clock of their own); ``monotonic`` is the clock of :meth:`pause_until` deadlines."""

    def __init__(self, pace: Pace, *, wall: Callable[[], dt.datetime] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.pace = pace
        self._wall = wall or pace.now
        self._monotonic = monotonic
        # fixed concurrency: the limit is the number of workers. auto: pace-adaptive's controller sets
        # `limit` from the latencies it sees through `hooks`; until one is attached, auto runs at the
        # ceiling (a placeholder, replaced when the adaptive controller lands)
        self._slots = _Slots(pace.workers)
        self._limiter = None
        if pace.rate is not None:
            from aiolimiter import AsyncLimiter

            period = max(RATE_BURST_S, 1.0 / pace.rate)
            self._limiter = AsyncLimiter(pace.rate * period, period)
        self.hooks: list[DoneHook] = []
        self.sent = 0
        self._sending = 0
        #: why the run stopped sending, when the pacer stopped it ("max_calls")
        self.stopped_by: str | None = None
        self._paused_until = 0.0
        self._pause_reason: str | None = None
        self._waiting_window: dt.datetime | None = None  # next opening while the window is closed
        self._open_until = 0.0  # monotonic deadline until which the window is known to be open
        self.window_waits = 0  # times the run waited for a window (at the start or in the middle)
        self.load = Load()
        #: no window and no rate: :meth:`admit_now` may admit a call without a coroutine
        self._plain = pace.window is None and self._limiter is None
        self._epoch_offset = time.time() - monotonic()  # monotonic -> epoch seconds, for the load log

    # --- the settings a controller may change -------------------------------------------------------
    @property
    def limit(self) -> int:
        """The calls allowed in flight now (the adaptive controller sets it; 1..``pace.workers``)."""
        return self._slots.limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._slots.limit = max(1, min(int(value), self.pace.workers))
        self._slots.wake()

    @property
    def in_flight(self) -> int:
        """Calls sent and not done yet (a worker that holds a slot while it waits for the rate limiter is
        not counted)."""
        return self._sending

    def pause_until(self, deadline: float, reason: str) -> None:
        """Admit nothing before ``deadline`` (monotonic seconds), e.g. a server's ``Retry-After``; a later
        deadline extends the pause, an earlier one does not shorten it."""
        if deadline > self._paused_until:
            self._paused_until = deadline
            self._pause_reason = reason

    @property
    def budget_left(self) -> int | None:
        return None if self.pace.max_calls is None else max(0, self.pace.max_calls - self.sent)

    # --- around every call attempt --------------------------------------------------------------------
    def admit_now(self) -> Ticket | None:
        """The :class:`Ticket` of a call that may be sent at once without waiting for anything, else ``None``
        (then :meth:`admit` decides, waiting if need be).  The per-call cost of a fixed-concurrency run: no
        window, rate or pause applies, a slot is free and the budget allows it; a plain call, not a
        coroutine (measured: ``benchmarks/bench_hot_path.py``)."""
        if not self._plain or self._paused_until != 0.0:
            return None
        slots = self._slots
        if slots.in_flight >= slots.limit or slots._waiters:
            return None
        max_calls = self.pace.max_calls
        if max_calls is not None and self.sent >= max_calls:
            return None
        slots.in_flight += 1
        self.sent += 1
        self._sending += 1
        return Ticket(self._monotonic(), slots.limit, self._sending)

    async def admit(self) -> Ticket | None:
        """Wait until a call may be sent; its :class:`Ticket`, or ``None`` when the budget is spent (the
        caller then sends nothing and stops taking handles)."""
        if self._plain and self._paused_until == 0.0:
            return await self._admit_fast()
        while True:
            if self._spent():
                return None
            await self._window_open()
            await self._pause_over()
            await self._slots.acquire()
            if self._limiter is not None:
                try:
                    await self._limiter.acquire()
                except BaseException:
                    self._slots.release()
                    raise
            # the window may have closed or a pause begun while this call waited for its slot or rate
            if self._spent() or not self._sendable():
                self._slots.release()
                continue
            return self._issue()

    async def _admit_fast(self) -> Ticket | None:
        """No window, no rate, no pause so far: a slot and the budget only (the default's cost)."""
        if self._spent():
            return None
        await self._slots.acquire()
        if self._spent() or self._paused_until != 0.0:  # a pause began while this call waited for its slot
            self._slots.release()
            return None if self.stopped_by else await self.admit()
        return self._issue()

    def _issue(self) -> Ticket:
        self.sent += 1
        self._sending += 1
        return Ticket(self._monotonic(), self._slots.limit, self._sending)

    def done(self, ticket: Ticket, kind: CallKind, latency_s: float, server_ms: float | None = None) -> None:
        """A call admitted with ``ticket`` ended: free its slot and tell the hooks."""
        slots = self._slots
        slots.in_flight -= 1
        if slots._waiters:
            slots.wake()
        self._sending -= 1
        self.load.add(ticket.sent + self._epoch_offset, latency_s, ticket.concurrency, ticket.in_flight, kind)
        for hook in self.hooks:
            hook(ticket, kind, latency_s, server_ms)

    def release(self, ticket: Ticket) -> None:
        """A call admitted with ``ticket`` was cancelled (the run stops): free its slot, tell no hook."""
        self._slots.release()
        self._sending -= 1

    def _spent(self) -> bool:
        if self.pace.max_calls is not None and self.sent >= self.pace.max_calls:
            self.stopped_by = "max_calls"
            return True
        return False

    def _sendable(self) -> bool:
        if self._monotonic() < self._paused_until:
            return False
        return self._in_window()

    def _in_window(self) -> bool:
        """Whether a window is open now.  The window's end is kept as a monotonic deadline (looked up again
        at least every :data:`WINDOW_RECHECK_S`, should the wall clock jump), so that a call's admission
        costs a comparison, not the zone arithmetic (measured: benchmarks/bench_pace.py)."""
        if self.pace.window is None:
            return True
        mono = self._monotonic()
        if mono < self._open_until:
            return True
        now = self._wall()
        end = self.pace.open_until(now)
        if end is None:
            return False
        self._open_until = mono + min((end - now).total_seconds(), WINDOW_RECHECK_S)
        return True

    async def _pause_over(self) -> None:
        while (left := self._paused_until - self._monotonic()) > 0:
            await asyncio.sleep(left)
        self._pause_reason = None
        self._paused_until = 0.0  # over: the fast paths (admit_now, _admit_fast) apply again

    async def _window_open(self) -> None:
        if self.pace.window is None:
            return
        while True:
            if self._in_window():
                self._waiting_window = None
                return
            now = self._wall()
            opening = self.pace.next_opening(now)
            if self._waiting_window is None:
                self.window_waits += 1
            self._waiting_window = opening
            await asyncio.sleep(max(0.001, min((opening - now).total_seconds(), WINDOW_RECHECK_S)))

    # --- for the progress bar ---------------------------------------------------------------------------
    def postfix(self) -> dict[str, str]:
        """The progress bar's figures: the rate over the last seconds, the concurrency in force and the
        latency against its floor (empty before the first call ended)."""
        rate, latency = self.load.recent(time.time())
        if latency is None:
            return {}
        floor = self.load.floor_s
        shown = {"rate": f"{rate:.0f}/s", "conc": str(self.limit), "lat": f"{latency * 1000:.0f}ms"}
        if floor is not None:
            shown["floor"] = f"{floor * 1000:.0f}ms"
        return shown

    def status(self) -> str | None:
        """A short line while the run waits for its window or a pause, else ``None``."""
        opening = self._waiting_window
        if opening is not None:
            left = (opening - self._wall()).total_seconds()
            windows = ", ".join(map(str, self.pace.windows))
            return f"waiting for the window {windows}, opens in {_duration(left)}"
        left = self._paused_until - self._monotonic()
        if left > 0 and self._pause_reason:
            return f"{self._pause_reason}, paused for {_duration(left)}"
        return None


def server_ms(result: Any) -> float | None:
    """The server's own processing time of a call (``serverProcessingTimeTotalMs`` of the user event paired
    with its ChainedRecordsDataEnd; docs/notifications.md), ``None`` when the call has none."""
    for event in reversed(getattr(result, "user_events", ())):
        data = event.data
        user_data = data.get("userData")
        if isinstance(user_data, dict) and user_data.get("GSW_USER_EVENT") == protocol.CHAINED_RECORDS_DATA_END:
            metrics = data.get("metrics")
            processing = metrics.get("eventProcessing") if isinstance(metrics, dict) else None
            value = processing.get("serverProcessingTimeTotalMs") if isinstance(processing, dict) else None
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return None


def _duration(seconds: float) -> str:
    """``"3 h 12 min"``, ``"4 min 5 s"``, ``"12 s"``."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
