"""The sandbox's capacity: how many GetChainedRecord requests it serves at once, its queue, its throttle, and
the request log that shows the server's side of a run (docs/guides/sandbox.md#capacity-and-pushback,
docs/choices.md#sandbox-capacity).

:class:`Capacity` decides, in the REST handler and before the HTTP answer, what happens to each valid
GetChainedRecord request (in this order):

1. ``throttle_429``: a token bucket of that many tokens per second (holding at most one second's worth,
   at least one token); a request that finds it empty is answered HTTP 429 with ``Retry-After``;
2. ``Faults.fail_calls``: ``"http500"`` answers HTTP 500, ``"timeout"`` acknowledges and drops the call;
3. the capacity: at most ``capacity`` requests in service, the others wait in a FIFO queue; with
   ``queue_limit`` waiting already, the request is answered HTTP 503 with ``Retry-After`` and not queued.

The OCS task of an admitted request waits its turn (:meth:`Capacity.enter`), is served ``service_ms``
(an ``asyncio.sleep``: no CPU) and queues its notifications, then gives its slot to the next in line
(:meth:`Capacity.leave`).  With ``capacity=None`` nothing waits: the hot path is two counters and one
log entry per request.

Every request that passed validation gets a :class:`RequestEntry` in a bounded log (``log_limit``, the
oldest dropped first and counted); :meth:`Capacity.stats` reads the queue wait's percentiles from it.
Everything here runs on the sandbox's event-loop thread.
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import math
import re
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

__all__ = [
    "CANCELLED",
    "DROPPED",
    "DEFAULT_LOG_LIMIT",
    "Capacity",
    "RequestEntry",
    "check_capacity",
    "parse_schedule",
    "percentile",
    "retry_after_header",
]

#: request log entries kept by default (about 26 MB at most: 256 bytes an entry, measured with tracemalloc)
DEFAULT_LOG_LIMIT = 100_000
#: capacity changes kept (``stats()["capacity_changes"]``)
KEPT_CAPACITY_CHANGES = 1000

# outcomes of a request (RequestEntry.outcome)
QUEUED = "queued"
IN_SERVICE = "in_service"
SERVED = "served"
REFUSED_503 = "refused_503"
REFUSED_429 = "refused_429"
FAILED_500 = "http500"
DROPPED = "dropped"  # acknowledged, never served (fail_calls="timeout")
LOST = "lost"  # acknowledged just before an outage (Faults.outage_after_ack_s)
CANCELLED = "cancelled"  # the server stopped before it was served

_STEP_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*:\s*([0-9]+)\s*$")


class RequestEntry:
    """One GetChainedRecord request as the server saw it (perf_counter_ns times; dict via :meth:`as_dict`)."""

    __slots__ = ("admitted_ns", "end_ns", "handle", "http_status", "outcome", "start_ns", "t", "t_mono", "waiter")

    def __init__(self, handle: int) -> None:
        self.t = time.time()
        self.t_mono = time.monotonic()
        self.admitted_ns = time.perf_counter_ns()
        self.handle = handle
        self.http_status = 200
        self.outcome = IN_SERVICE
        self.start_ns = 0
        self.end_ns = 0
        self.waiter: asyncio.Future[None] | None = None

    @property
    def queue_wait_ms(self) -> float | None:
        """From admission to the start of service (0 when a slot was free); None if never served."""
        if not self.start_ns:
            return None
        return (self.start_ns - self.admitted_ns) / 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "t_mono": self.t_mono,
            "handle": self.handle,
            "http_status": self.http_status,
            "outcome": self.outcome,
            "queue_wait_ms": self.queue_wait_ms,
            "service_ms": (self.end_ns - self.start_ns) / 1e6 if self.end_ns else None,
        }


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def check_capacity(value: Any, name: str = "capacity") -> int | None:
    """``value`` as a capacity: None (unlimited) or an integer >= 1.

    :raises ValueError: anything else, naming ``name`` and the value.
    """
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return value


def _check_number(value: Any, name: str, *, positive: bool = False, none_ok: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 \
            or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}{none_ok}, got {value!r}")
    return float(value)


def parse_schedule(value: str | Sequence[tuple[float, int]] | None) -> tuple[tuple[float, int], ...]:
    """``"0:32,20:8,40:32"`` (or ``[(0, 32), (20, 8), (40, 32)]``): seconds since the start -> capacity.

    :raises ValueError: a malformed step, a time not finite and >= 0, times not increasing, a capacity
        that is not an integer >= 1 (the message names ``capacity_schedule`` and the value).
    """
    if value is None:
        return ()
    steps: list[tuple[float, int]] = []
    try:
        if isinstance(value, str):
            for part in value.split(","):
                match = _STEP_RE.match(part)
                if match is None:
                    raise ValueError(f"step {part.strip()!r} is not SECONDS:CAPACITY")
                steps.append((float(match.group(1)), int(match.group(2))))
        else:
            for step in value:
                at, cap = step
                steps.append((_check_number(at, "time"), int(check_capacity(cap, "capacity") or 0)))
        if not steps:
            raise ValueError("no step")
        for at, cap in steps:
            _check_number(at, "time")
            check_capacity(cap)
        if any(b[0] <= a[0] for a, b in itertools.pairwise(steps)):
            raise ValueError("times must increase")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"capacity_schedule must be 'SECONDS:CAPACITY,...' with increasing times and "
                         f"capacities >= 1 (e.g. '0:32,20:8,40:32'), got {value!r}: {exc}") from None
    return tuple(steps)


def retry_after_header(seconds: float, as_date: bool = False, now_ms: int | None = None) -> str:
    """``Retry-After``: delta-seconds, an integer when whole, else the decimal (a sandbox liberty, for short
    tests; docs/choices.md#sandbox-capacity); or with ``as_date`` the HTTP date ``seconds`` after ``now_ms``
    (the server's clock, epoch ms), rounded up to the second so that it is never earlier."""
    if as_date:
        base_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        return email.utils.formatdate(math.ceil((base_ms + seconds * 1000) / 1000), usegmt=True)
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class Capacity:
    """Admission, queue, throttle, request log and statistics of GetChainedRecord (one per sandbox).

    :param capacity: requests served at once (None: unlimited).
    :param service_ms: simulated service time of each request (asyncio sleep).
    :param queue_limit: requests allowed to wait; one more is answered 503 (None: unbounded).
    :param capacity_schedule: see :func:`parse_schedule`; applied by :meth:`run_schedule`.
    :param throttle_429: requests per second above which 429 is answered (None: no throttle).
    :param retry_after_s: the ``Retry-After`` of the 503 and 429 answers.
    :param retry_after_date: send it as an HTTP date instead of seconds.
    :param log_limit: request log entries kept (the oldest dropped and counted).
    :raises ValueError: a bad value, naming the parameter.
    """

    def __init__(self, capacity: int | None = None, service_ms: float = 0.0, queue_limit: int | None = None,
                 capacity_schedule: str | Sequence[tuple[float, int]] | None = None,
                 throttle_429: float | None = None, retry_after_s: float = 1.0,
                 log_limit: int = DEFAULT_LOG_LIMIT, retry_after_date: bool = False) -> None:
        self.capacity = check_capacity(capacity)
        self.service_s = _check_number(service_ms, "service_ms") / 1000.0
        if queue_limit is not None and (not isinstance(queue_limit, int) or isinstance(queue_limit, bool)
                                        or queue_limit < 0):
            raise ValueError(f"queue_limit must be an integer >= 0 or None, got {queue_limit!r}")
        self.queue_limit = queue_limit
        self.schedule = parse_schedule(capacity_schedule)
        self.throttle_429 = None if throttle_429 is None else _check_number(
            throttle_429, "throttle_429", positive=True, none_ok=" or None")
        self.retry_after_s = _check_number(retry_after_s, "retry_after_s")
        if not isinstance(retry_after_date, bool):
            raise ValueError(f"retry_after_date must be True or False, got {retry_after_date!r}")
        self.retry_after_date = retry_after_date
        if not isinstance(log_limit, int) or isinstance(log_limit, bool) or log_limit < 1:
            raise ValueError(f"request_log_limit must be a positive integer, got {log_limit!r}")
        self.log: deque[RequestEntry] = deque(maxlen=log_limit)
        self.in_service = 0
        self.waiting: deque[RequestEntry] = deque()
        #: (epoch s, monotonic s, capacity) of each change since the start, oldest first
        self.changes: deque[tuple[float, float, int | None]] = deque(maxlen=KEPT_CAPACITY_CHANGES)
        self._tokens = self._burst
        self._tokens_at = time.monotonic()
        self._reset_counters()

    @property
    def _burst(self) -> float:
        return max(1.0, self.throttle_429) if self.throttle_429 is not None else 0.0

    def _reset_counters(self) -> None:
        self.requests = 0
        self.processed = 0
        self.rejected_503 = 0
        self.rejected_429 = 0
        self.failed_500 = 0
        self.dropped = 0
        self.log_dropped = 0
        self.max_queued = len(self.waiting)
        self.max_in_service = self.in_service
        self.since = time.time()
        self._since_mono = time.monotonic()

    def __repr__(self) -> str:
        return (f"Capacity(capacity={self.capacity}, in_service={self.in_service}, queued={len(self.waiting)}, "
                f"service_ms={self.service_s * 1000:g})")

    # ----- admission (in the REST handler, before the answer) -------------------------------------

    def _record(self, handle: int) -> RequestEntry:
        entry = RequestEntry(handle)
        log = self.log
        if len(log) == log.maxlen:
            self.log_dropped += 1
        log.append(entry)
        self.requests += 1
        return entry

    def admit(self, handle: int, fail_calls: str | None) -> RequestEntry:
        """Decide what happens to a valid GetChainedRecord request; the entry's ``http_status`` and
        ``outcome`` say it (200 ``in_service`` or ``queued``: submit it to OCS; 200 ``dropped``: answer,
        never serve; 429, 500, 503: answer that)."""
        entry = self._record(handle)
        if self.throttle_429 is not None and not self._take_token():
            entry.http_status, entry.outcome = 429, REFUSED_429
            self.rejected_429 += 1
        elif fail_calls is not None:
            if fail_calls == "timeout":
                entry.outcome = DROPPED
                self.dropped += 1
            else:
                entry.http_status, entry.outcome = 500, FAILED_500
                self.failed_500 += 1
        elif self.capacity is None or (self.in_service < self.capacity and not self.waiting):
            self._start(entry, entry.admitted_ns)
        elif self.queue_limit is not None and len(self.waiting) >= self.queue_limit:
            entry.http_status, entry.outcome = 503, REFUSED_503
            self.rejected_503 += 1
        else:
            entry.outcome = QUEUED
            entry.waiter = asyncio.get_running_loop().create_future()
            self.waiting.append(entry)
            if len(self.waiting) > self.max_queued:
                self.max_queued = len(self.waiting)
        return entry

    def lost(self, handle: int) -> None:
        """Log a request acknowledged just before an outage (never served)."""
        self._record(handle).outcome = LOST

    def _start(self, entry: RequestEntry, now_ns: int) -> None:
        entry.start_ns = now_ns
        entry.outcome = IN_SERVICE
        self.in_service += 1
        if self.in_service > self.max_in_service:
            self.max_in_service = self.in_service

    def _take_token(self) -> bool:
        rate = self.throttle_429
        assert rate is not None
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    # ----- service (in the OCS task) ----------------------------------------------------------------

    async def enter(self, entry: RequestEntry) -> None:
        """Wait for the entry's turn (at once when it was admitted straight into service)."""
        waiter = entry.waiter
        if waiter is not None:
            try:
                await waiter
            except asyncio.CancelledError:
                entry.outcome = CANCELLED
                if not waiter.done():
                    waiter.cancel()
                raise
            finally:
                entry.waiter = None

    def leave(self, entry: RequestEntry) -> None:
        """The entry's service is over: free its slot for the next in line."""
        entry.end_ns = time.perf_counter_ns()
        if entry.outcome == IN_SERVICE:
            entry.outcome = SERVED
            self.processed += 1
        self.in_service = max(0, self.in_service - 1)
        if self.waiting:
            self._pump()

    def _pump(self) -> None:
        """Hand free slots to the waiting requests, oldest first."""
        waiting = self.waiting
        now_ns = time.perf_counter_ns()
        while waiting and (self.capacity is None or self.in_service < self.capacity):
            entry = waiting.popleft()
            waiter = entry.waiter
            if waiter is None or waiter.done():  # cancelled with the server's stop
                continue
            self._start(entry, now_ns)
            waiter.set_result(None)

    def set_capacity(self, capacity: int | None) -> None:
        """Change the capacity now (a drop lets the requests in service finish; a rise starts waiting ones)."""
        self.capacity = check_capacity(capacity)
        self.changes.append((time.time(), time.monotonic(), self.capacity))
        self._pump()

    async def run_schedule(self, anchor: float) -> None:
        """Apply ``capacity_schedule`` step by step, ``anchor`` being the monotonic time of second 0."""
        for at, capacity in self.schedule:
            delay = anchor + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.set_capacity(capacity)

    def restart(self) -> None:
        """The server (re)starts: nothing is in service or waiting any more (the old loop's tasks are gone)."""
        for entry in self.waiting:
            if entry.outcome == QUEUED:
                entry.outcome = CANCELLED
        self.waiting.clear()
        self.in_service = 0

    # ----- what tests and benchmarks read ---------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters since the last reset, the live queue, and the queue wait's percentiles over the log."""
        waits = sorted((e.start_ns - e.admitted_ns) / 1e6 for e in self.log if e.start_ns)
        services = sorted((e.end_ns - e.start_ns) / 1e6 for e in self.log if e.end_ns and e.start_ns)
        return {
            "requests": self.requests,
            "processed": self.processed,
            "in_service": self.in_service,
            "queued": len(self.waiting),
            "max_queued": self.max_queued,
            "max_in_service": self.max_in_service,
            "rejected_503": self.rejected_503,
            "rejected_429": self.rejected_429,
            "failed_500": self.failed_500,
            "dropped": self.dropped,
            "capacity": self.capacity,
            "service_ms": self.service_s * 1000.0,
            "queue_limit": self.queue_limit,
            "throttle_429": self.throttle_429,
            "retry_after_s": self.retry_after_s,
            "retry_after_date": self.retry_after_date,
            "queue_wait_ms": _summary(waits),
            "service_time_ms": _summary(services),
            "since": self.since,
            "elapsed_s": time.monotonic() - self._since_mono,
            "log_size": len(self.log),
            "log_limit": self.log.maxlen,
            "log_dropped": self.log_dropped,
            "capacity_changes": [{"t": t, "t_mono": m, "capacity": c} for t, m, c in self.changes],
        }

    def request_log(self, last: int | None = None) -> list[dict[str, Any]]:
        entries = list(self.log)
        if last is not None:
            entries = entries[-last:] if last > 0 else []
        return [e.as_dict() for e in entries]

    def reset_stats(self) -> None:
        """Forget the counters and the log (the live queue and the requests in service stay)."""
        self.log.clear()
        self._reset_counters()


def _summary(values: list[float]) -> dict[str, float | int | None]:
    return {"count": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "p99": percentile(values, 99), "max": values[-1] if values else None}
