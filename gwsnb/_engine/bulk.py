"""The batch engine behind :meth:`gwsnb.GwsClient.get_chained_records`: bounded workers on the client's
loop, retries of lost calls with jittered backoff, fail-fast, progress, and clean interruption.

The engine knows nothing of HTTP or CometD: it is handed :class:`ClientHooks` (the client's one-handle
coroutine, whether the client was closed, whether CometD is connected, and a probe of the server).  A
run's outcomes are written on the client's loop thread; the caller reads them (a dict assignment per
handle is atomic under the GIL) to build a partial batch after an interrupt.  A streamed run hands each
outcome to its sink (:class:`gwsnb.runs.RunWriter`) instead of keeping it.

Outages: when a call fails because the server cannot be reached (:func:`unreachable`), the run's
:class:`OutageGate` closes: every worker waits at it instead of spending the handle's retries, one task
probes the server with backoff, waits for CometD to be connected again, and reopens the gate; the
failed attempt is made again without being counted.  The gate also closes when CometD is down and the
server does not answer a probe, before any call failed: every worker may be waiting on a call whose
notifications went down with the server, and no call fails until its timeout.  Past ``max_outage`` seconds
the run stops: the handles not finished are skipped and :class:`~gwsnb.errors.ServerUnavailableError` is
raised (the gate lives in :mod:`.outage`).  Adaptive concurrency, server pushback (429/503 with
``Retry-After``) and the circuit breaker are the run's :class:`~.guard.RunGuard` (docs/production.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import random
import time
from collections.abc import Sequence
from typing import Any, Protocol

from .._wire.loop import LoopThread
from ..batch import ChainedRecordBatch, HandleFailure, ResultPacker, lean_outcome
from ..errors import (
    ChainedRecordError,
    InvalidParameterError,
    NotificationTimeout,
    ServerUnavailableError,
    TransportError,
)
from ..pace import MAX_CONCURRENCY, Pace
from ..params import ChainedRecordParams
from ..results import ChainedRecordResult, CoveredHandle
from .coverage import ChainCoverage
from .guard import RESEND, STOP, RunGuard
from .outage import UNAVAILABLE_HTTP, ClientHooks, OutageGate, unreachable
from .pace import CallKind, Pacer, server_ms

__all__ = ["BatchRun", "ClientHooks", "MAX_BATCH_HANDLES", "MAX_CONCURRENCY", "MAX_OUTAGE_S", "MAX_RETRIES",
           "MAX_STREAMED_HANDLES", "OutageGate", "UNAVAILABLE_HTTP", "run_async", "run_blocking", "unreachable"]

LOGGER = logging.getLogger("gwsnb.client")

MAX_RETRIES = 10
#: most handles of one run kept in memory (lean: well under 1 KiB each), and of one run streamed (``out=``)
MAX_BATCH_HANDLES = 1_000_000
MAX_STREAMED_HANDLES = 10_000_000
#: retry backoff (seconds) of the first retry, doubled per retry up to the cap
RETRY_BASE_S = 0.5
RETRY_CAP_S = 8.0
#: seconds an interrupted batch waits for its cancelled calls to unwind before returning anyway
#: seconds between two looks at a run's progress from the caller's thread or loop
PROGRESS_TICK_S = 0.1
#: seconds between two updates of the progress bar's load figures (rate, concurrency, latency)
POSTFIX_TICK_S = 1.0
INTERRUPT_GRACE_S = 10.0
#: errors meaning the notifications (or the answer) were lost, not a verdict: GetChainedRecord only reads
RETRIABLE = (NotificationTimeout, TransportError)
#: times one handle's failures may be excused because the circuit breaker opened around them; beyond, they
#: count as the handle's retries: a handle that fails whatever the server's state (its calls time out while
#: the others succeed) must not keep a run going by tripping the breaker again and again
MAX_EXCUSED = 3
#: default seconds a run waits for an unreachable server before it stops
MAX_OUTAGE_S = 600.0
PROGRESS_LABEL = "GetChainedRecord"

Outcome = ChainedRecordResult | HandleFailure


class _BudgetSpent:
    """What :meth:`BatchRun._call_with_retries` returns when the pace's ``max_calls`` allowed no further
    attempt: the handle has no outcome (it is not done; a streamed run calls it when resumed)."""


BUDGET_SPENT = _BudgetSpent()


class Sink(Protocol):
    """Where a streamed run's outcomes go: :meth:`add` is called on the client's loop thread (it must not
    block long) with each outcome, made lean (:func:`gwsnb.batch.lean_outcome`)."""

    packer: ResultPacker

    def add(self, outcome: ChainedRecordResult | HandleFailure | CoveredHandle) -> None: ...


def retry_delay(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based): "equal jitter" over a doubling step, so calls lost
    to the same reconnect spread out, yet each waits at least half the step."""
    ceiling = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0.0, ceiling / 2)


#: ChainedRecordParams' fields after ``record_handle`` (its first), in order: :meth:`BatchRun._params_for`
_OTHER_PARAMS = tuple(f.name for f in dataclasses.fields(ChainedRecordParams) if f.name != "record_handle")
assert dataclasses.fields(ChainedRecordParams)[0].name == "record_handle"


def progress_bar(progress: Any, total: int) -> tuple[Any, bool]:
    """``(bar, owned)``: a new ``tqdm.auto`` bar for ``True``, none for ``False``/``None``, else the caller's.

    :raises InvalidParameterError: ``progress`` is none of those.
    """
    if progress is None or progress is False:
        return None, False
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=PROGRESS_LABEL, unit="call", dynamic_ncols=True), True
    if callable(getattr(progress, "update", None)):
        return progress, False
    raise InvalidParameterError("progress", progress, "expected True, False or a tqdm-like object with update()")


def call_kind(error: BaseException | None) -> CallKind:
    """What a call attempt's end says of the server's load, for :meth:`Pacer.done`: a handle's own OCS
    error says nothing of it, a timeout or a 429/503 does."""
    if error is None:
        return "ok"
    if isinstance(error, ChainedRecordError):
        return "ocs_error"
    if isinstance(error, NotificationTimeout):
        return "timeout"
    status = getattr(error, "http_status", None)
    if status == 429:
        return "http_429"
    if status == 503:
        return "http_503"
    if isinstance(error, TransportError):
        return "transport"
    return "other"


def failure(handle: int, error: BaseException, attempts: int) -> HandleFailure:
    """A :class:`HandleFailure`; the partial result the error carries (if any) gets the attempt count."""
    carried = getattr(error, "result", None)
    if isinstance(carried, ChainedRecordResult):
        carried.attempts = attempts
    return HandleFailure(handle, error, attempts)


class BatchRun:
    """One get_chained_records run: its settings, the outcomes so far, and its workers.

    ``handles`` are the handles this run calls (for a resumed streamed run, those not done yet).  With a
    ``sink`` the outcomes go there and only counts are kept; else they are kept for :meth:`batch`, lean
    and packed by a :class:`gwsnb.batch.ResultPacker` unless ``keep_events``.  Unless ``every_handle``,
    a handle whose record came back in another call's chain is not called (:mod:`.coverage`): its
    outcome is a :class:`~gwsnb.results.CoveredHandle`.
    """

    def __init__(self, handles: Sequence[int], params: ChainedRecordParams, device_path: str, *, concurrency: int,
                 retries: int, fail_fast: bool, hooks: ClientHooks, keep_events: bool = False,
                 max_outage: float = MAX_OUTAGE_S, sink: Sink | None = None, every_handle: bool = False,
                 pace: Pace | None = None) -> None:
        self.handles = handles
        self.params = params
        self._other_params = tuple(getattr(params, name) for name in _OTHER_PARAMS)  # _params_for
        self.device_path = device_path
        self.pacer = Pacer(pace if pace is not None else Pace(concurrency=concurrency))
        self.concurrency = self.pacer.pace.workers  # workers started; the pacer's slots bound the calls in flight
        self.retries = retries
        self.fail_fast = fail_fast
        self.hooks = hooks
        self.keep_events = keep_events
        self.sink = sink
        self.gate = OutageGate(hooks, max_outage, self.stop)
        #: adaptive concurrency, server pushback and the circuit breaker (docs/production.md)
        self.guard = RunGuard(self.pacer, hooks, max_outage, self.stop, probe=self._probe)
        self._answered: int | None = None  # the last handle whose call succeeded (the breaker probes with it)
        self._excused: dict[int, int] = {}  # handle -> failures excused by the breaker (MAX_EXCUSED)
        self.outcomes: dict[int, Any] = {}  # handle -> Outcome, or PackedResult in a lean run
        self.packer: ResultPacker | None = (sink.packer if sink is not None
                                            else None if keep_events else ResultPacker())
        self.finished = 0
        self.failed = 0
        self.covered = 0
        self.coverage: ChainCoverage | None = (None if every_handle
                                               else ChainCoverage(handles, concurrency=self.concurrency))
        self.interrupted = False
        self.started = time.monotonic()
        self.workers: list[asyncio.Task[None]] = []
        self.stopping = False
        self._shown: str | None = None
        self._postfix_at = 0.0
        self._postfix: dict[str, str] = {}

    def stop(self) -> None:
        """Cancel the workers (loop thread only); calls in flight unwind and their handles are skipped."""
        # the flag as well as cancel(): asyncio.wait_for (3.11) can swallow a cancellation that arrives
        # just as the awaited call finishes, and such a worker must still not take another handle
        self.stopping = True
        self.gate.cancel()
        self.guard.cancel()
        current = asyncio.current_task()
        for worker in self.workers:
            if worker is not current:
                worker.cancel()

    def record(self, handle: int, outcome: Outcome) -> None:
        if self.packer is None:
            self.outcomes[handle] = outcome
        elif self.sink is not None:  # the writer turns it into rows within seconds: packing would be lost work
            self.sink.add(lean_outcome(outcome, intern_keys=False))
        else:
            self.outcomes[handle] = self.packer.pack_outcome(outcome)
        self.finished += 1
        if isinstance(outcome, HandleFailure):
            self.failed += 1
        else:
            self.gate.succeeded()
            self.guard.succeeded()
            self._answered = handle

    def record_covered(self, handles: list[int], by: int) -> None:
        """``handles`` came back in the chain of ``by``'s call: finished without a call of their own."""
        for handle in handles:
            mark = CoveredHandle(handle, by)
            if self.sink is not None:
                self.sink.add(mark)
            else:
                self.outcomes[handle] = mark
        self.finished += len(handles)
        self.covered += len(handles)

    def settle(self, handle: int, outcome: Outcome) -> bool:
        """Record ``handle``'s outcome, and mark the handles its chain covers (covered ones first: a
        streamed run that stops between the two then calls ``handle`` again rather than losing them).
        ``False`` when the outcome was dropped: another call covered ``handle`` while it was in flight."""
        if self.coverage is None:
            self.record(handle, outcome)
            return True
        records = outcome.records if isinstance(outcome, ChainedRecordResult) and outcome.complete else None
        kept, covered = self.coverage.finished(handle, records)
        if covered:
            self.record_covered(covered, handle)
        if kept:
            self.record(handle, outcome)
        return kept

    @property
    def stopped_by(self) -> str | None:
        """Why the run stopped before every handle was done, when its pace stopped it (``"max_calls"``)."""
        return self.pacer.stopped_by

    def batch(self) -> ChainedRecordBatch:
        """The batch of the outcomes so far (a streamed run keeps none: its front-end reads the run back)."""
        if self.sink is not None:
            batch = ChainedRecordBatch([], interrupted=self.interrupted, elapsed_s=time.monotonic() - self.started)
        else:
            batch = ChainedRecordBatch.from_outcomes(self.handles, dict(self.outcomes), interrupted=self.interrupted,
                                                     elapsed_s=time.monotonic() - self.started, packer=self.packer)
        batch.stopped_by = self.stopped_by
        batch.calls_sent = self.pacer.sent
        batch.load = self.pacer.load
        return batch

    def catch_up(self, bar: Any, shown: int) -> int:
        """Move the caller's progress bar from ``shown`` to the handles finished now, and return that count.

        Called by the caller's thread or loop every :data:`PROGRESS_TICK_S`, never once per call: a
        cross-thread wake-up per finished handle costs the run a GIL hand-off each.
        """
        finished = self.finished
        if bar is None:
            return finished
        now = time.monotonic()
        if now - self._postfix_at >= POSTFIX_TICK_S:  # the load's figures once a second: they scan the log
            self._postfix_at = now
            self._postfix = self.pacer.postfix()
        failed = self.failed
        if self._postfix or failed:
            bar.set_postfix(refresh=False, **self._postfix, **({"failed": failed} if failed else {}))
        if finished > shown:
            bar.update(finished - shown)
        return finished

    def show_status(self, bar: Any) -> None:
        """Show the outage gate's or the pace's state in the progress bar's description (when it changed)."""
        text = self.gate.status() or self.pacer.status() or self.guard.status()
        if bar is None or text == self._shown or not callable(getattr(bar, "set_description", None)):
            return
        self._shown = text
        bar.set_description(PROGRESS_LABEL if text is None else f"{PROGRESS_LABEL} ({text})")

    # --- on the client's loop --------------------------------------------------------------------
    async def _next_handle(self, pending: Any) -> int | None:
        """The next handle to call: from the coverage's order, else the given order; ``None`` when done."""
        if self.coverage is not None:
            return await self.coverage.take()
        return next(pending, None)

    def _conclude(self, handle: int, outcome: Outcome | _BudgetSpent) -> bool:
        """Settle a handle's outcome; whether its worker goes on to another handle."""
        if isinstance(outcome, _BudgetSpent) or (self.stopping and self.stop_error is not None):
            # the budget is spent (the calls in flight finish, no worker takes another handle), or the
            # run gave up on the server: the handle is not done
            if self.coverage is not None:
                self.coverage.abandoned(handle)
            return False
        kept = self.settle(handle, outcome)
        if self.fail_fast and kept and isinstance(outcome, HandleFailure):
            self.stop()
            return False
        return True

    async def execute(self) -> ChainedRecordBatch:
        pending = iter(self.handles)  # shared by the workers: each next() hands out one handle

        async def worker() -> None:
            while not self.stopping:
                handle = await self._next_handle(pending)
                if handle is None:
                    return
                outcome = await self._call_with_retries(self._params_for(handle))
                if not self._conclude(handle, outcome):
                    return

        loop = asyncio.get_running_loop()
        self.workers = [loop.create_task(worker()) for _ in range(min(self.concurrency, len(self.handles)))]
        if not self.workers:  # nothing left to call (a resumed run that was complete)
            return self.batch()
        self.gate.watch()
        try:
            await asyncio.wait(self.workers)
        except asyncio.CancelledError:
            self.stop()
            await asyncio.wait(self.workers, timeout=INTERRUPT_GRACE_S)
            raise
        finally:  # the gate's watch and probes and the guard's tasks end with the run, cancelled or not
            self.gate.cancel()
            self.guard.cancel()
        for task in self.workers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # a bug, not a call failure
        error = self.stop_error
        if error is not None:
            error.batch = self.batch()
            raise error
        return self.batch()

    @property
    def stop_error(self) -> ServerUnavailableError | None:
        """Why the run gave up on the server: an outage past ``max_outage``, the breaker open as long, or a
        ``Retry-After`` beyond it."""
        return self.gate.error or self.guard.error

    async def _probe(self) -> str:
        """The breaker's probe: one call, of the handle answered last (a handle the server can answer), else
        of a handle drawn at random (the first one may be one the server never answers, and a breaker opened
        by such handles would probe with it until ``max_outage``); its outcome is not kept, its kind is
        returned."""
        handle = (self._answered if self._answered is not None
                  else self.handles[random.randrange(len(self.handles))])
        try:
            await self.hooks.call(self._params_for(handle), self.device_path)
        except Exception as exc:
            return call_kind(exc)
        return "ok"

    def _params_for(self, handle: int) -> ChainedRecordParams:
        """The run's parameters for ``handle`` (what ``dataclasses.replace`` makes, in a third of its time:
        it is made once per handle); the other fields are read by name, so a field added later is kept."""
        return ChainedRecordParams(handle, *self._other_params)

    async def _paced_call(self, params: ChainedRecordParams) -> ChainedRecordResult | _BudgetSpent:
        """One attempt, through the pacer: admitted (or refused by the budget), sent, reported."""
        pacer = self.pacer
        ticket = pacer.admit_now()  # a plain call when nothing needs waiting for (fixed concurrency)
        if ticket is None:
            ticket = await pacer.admit()
            if ticket is None:
                return BUDGET_SPENT
        try:
            result = await self.hooks.call(params, self.device_path)
        except asyncio.CancelledError:
            pacer.release(ticket)
            raise
        except BaseException as exc:
            kind = call_kind(exc)
            # the server's own time matters to the adaptive controller only (a hook): scanning the
            # result's user events for it is skipped when no hook listens
            pacer.done(ticket, kind, time.monotonic() - ticket.sent,
                       server_ms(getattr(exc, "result", None)) if pacer.hooks else None)
            self.guard.count(exc, kind)
            raise
        pacer.done(ticket, "ok", time.monotonic() - ticket.sent, server_ms(result) if pacer.hooks else None)
        self.guard.count_ok()
        return result

    async def _call_with_retries(self, params: ChainedRecordParams) -> Outcome | _BudgetSpent:
        handle = params.record_handle
        attempt = 0
        gate, guard = self.gate, self.guard
        while True:
            if not (gate.passable and guard.passable):  # a coroutine each only when one of them is closed
                await gate.passage()
                await guard.passage()
            trips = guard.trips
            attempt += 1
            try:
                result = await self._paced_call(params)
            except Exception as exc:
                failed, attempt = await self._after_failure(handle, exc, attempt, trips)
                if failed is not None:
                    return failed
                continue
            if not isinstance(result, _BudgetSpent):
                result.attempts = attempt
            return result

    def _excuse(self, handle: int) -> bool:
        """Whether a failure of ``handle`` the breaker would excuse is excused (at most MAX_EXCUSED times)."""
        excused = self._excused.get(handle, 0)
        if excused >= MAX_EXCUSED:
            return False
        self._excused[handle] = excused + 1
        return True

    async def _after_failure(self, handle: int, exc: Exception, attempt: int,
                             trips: int) -> tuple[HandleFailure | None, int]:
        """What a failed attempt means: the handle's failure, or ``None`` (after the backoff, if any) and the
        attempts charged so far when it is to be sent again."""
        kind = call_kind(exc)
        verdict = self.guard.judge(exc, kind, trips)
        if verdict == RESEND and (self.guard.pushed_back(exc, kind) or self._excuse(handle)):
            return None, attempt - 1  # the server's pushback or the breaker's time, not this handle's
        if verdict == STOP:
            return failure(handle, exc, max(attempt, 1)), attempt
        if self.gate.enabled and not self.hooks.closed() and unreachable(exc, self.hooks.connected()):
            attempt -= 1  # the server's outage, not this handle's: the attempt is made again
            self.gate.close(exc)
            return (failure(handle, exc, max(attempt, 1)) if self.gate.error is not None else None), attempt
        if not isinstance(exc, RETRIABLE) and not self.guard.retriable(exc):  # a server verdict
            return failure(handle, exc, attempt), attempt
        if attempt > self.retries or self.hooks.closed():
            return failure(handle, exc, attempt), attempt
        delay = retry_delay(attempt)
        LOGGER.debug("handle %s attempt %d: %s; retrying in %.2f s", handle, attempt, exc, delay)
        await asyncio.sleep(delay)
        if self.guard.excuses(trips) and self._excuse(handle):
            attempt -= 1  # one of the calls that opened the breaker: not the handle's retry
        if self.coverage is not None and self.coverage.covered(handle):
            return failure(handle, exc, attempt), attempt  # dropped by settle(): another call covered it
        return None, attempt


def run_blocking(loop: LoopThread, run: BatchRun, progress: Any) -> ChainedRecordBatch:
    """Run ``run`` on ``loop`` and wait; Ctrl-C returns the partial batch with ``interrupted=True``."""
    if loop.in_loop_thread():
        raise RuntimeError("blocking gwsnb call made from the client's own event loop; use the *_async API")
    bar, owned = progress_bar(progress, len(run.handles))
    try:
        future = loop.submit(run.execute())
        try:
            # the progress bar is advanced here, in the caller's thread, so a Ctrl-C lands in this loop
            shown = 0
            while not future.done():
                concurrent.futures.wait([future], PROGRESS_TICK_S)
                shown = run.catch_up(bar, shown)
                run.show_status(bar)
            run.catch_up(bar, shown)
            if future.cancelled():  # the client was closed under the run
                run.interrupted = True
                return run.batch()
            return future.result()
        except KeyboardInterrupt:
            run.interrupted = True
            loop.loop.call_soon_threadsafe(run.stop)
            try:
                future.result(INTERRUPT_GRACE_S)
            except BaseException as exc:  # a second Ctrl-C, or calls slow to unwind: stop waiting
                LOGGER.debug("interrupted batch: %r", exc)
                future.cancel()
            batch = run.batch()
            LOGGER.warning("GetChainedRecord batch interrupted: %s", batch.summary())
            return batch
    finally:
        if owned:
            bar.close()


async def run_async(loop: LoopThread, run: BatchRun, progress: Any) -> ChainedRecordBatch:
    """Await ``run`` (on ``loop``) from any event loop; the progress bar advances on the caller's loop.

    Cancelling the awaiting task cancels the calls in flight, waits for them to unwind and re-raises
    :class:`asyncio.CancelledError` with the partial batch attached as its ``batch`` attribute.
    """
    bar, owned = progress_bar(progress, len(run.handles))
    try:
        future: asyncio.Future[ChainedRecordBatch] = (
            asyncio.ensure_future(run.execute()) if loop.in_loop_thread()
            else asyncio.wrap_future(loop.submit(run.execute())))
        try:
            shown = 0
            while not future.done():  # asyncio.wait never cancels the run's future itself
                await asyncio.wait({future}, timeout=PROGRESS_TICK_S)
                shown = run.catch_up(bar, shown)
                run.show_status(bar)
            run.catch_up(bar, shown)
            batch = future.result() if not future.cancelled() else run.batch()
        except asyncio.CancelledError as exc:
            run.interrupted = True
            loop.loop.call_soon_threadsafe(run.stop)
            await asyncio.wait({future}, timeout=INTERRUPT_GRACE_S)
            exc.batch = run.batch()  # type: ignore[attr-defined]
            raise
        if future.cancelled():
            run.interrupted = True
            return run.batch()
        return batch
    finally:
        if owned:
            bar.close()
