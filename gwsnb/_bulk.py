"""The batch engine behind :meth:`gwsnb.GwsClient.get_chained_records`: bounded workers on the client's
loop, retries of lost calls with jittered backoff, fail-fast, progress, and clean interruption.

The engine knows nothing of HTTP or CometD: it is handed ``call``, the client's one-handle coroutine, and
``closed``, which says whether the client was closed under the run.  A run's outcomes are written on the
client's loop thread; the caller reads them (a dict assignment per handle is atomic under the GIL) to
build a partial batch after an interrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import queue
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._loop import LoopThread
from .batch import ChainedRecordBatch, HandleFailure
from .errors import InvalidParameterError, NotificationTimeout, TransportError
from .params import ChainedRecordParams
from .results import ChainedRecordResult

__all__ = ["BatchRun", "MAX_CONCURRENCY", "MAX_RETRIES", "run_async", "run_blocking"]

LOGGER = logging.getLogger("gwsnb.client")

MAX_CONCURRENCY = 1024
MAX_RETRIES = 10
#: retry backoff (seconds) of the first retry, doubled per retry up to the cap
RETRY_BASE_S = 0.5
RETRY_CAP_S = 8.0
#: seconds an interrupted batch waits for its cancelled calls to unwind before returning anyway
INTERRUPT_GRACE_S = 10.0
#: errors meaning the notifications (or the answer) were lost, not a verdict: GetChainedRecord only reads
RETRIABLE = (NotificationTimeout, TransportError)

Outcome = ChainedRecordResult | HandleFailure
CallOne = Callable[[ChainedRecordParams, str], Awaitable[ChainedRecordResult]]


def retry_delay(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based): "equal jitter" over a doubling step, so calls lost
    to the same reconnect spread out, yet each waits at least half the step."""
    ceiling = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0.0, ceiling / 2)


def progress_bar(progress: Any, total: int) -> tuple[Any, bool]:
    """``(bar, owned)``: a new ``tqdm.auto`` bar for ``True``, none for ``False``/``None``, else the caller's.

    :raises InvalidParameterError: ``progress`` is none of those.
    """
    if progress is None or progress is False:
        return None, False
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc="GetChainedRecord", unit="call", dynamic_ncols=True), True
    if callable(getattr(progress, "update", None)):
        return progress, False
    raise InvalidParameterError("progress", progress, "expected True, False or a tqdm-like object with update()")


def failure(handle: int, error: BaseException, attempts: int) -> HandleFailure:
    """A :class:`HandleFailure`; the partial result the error carries (if any) gets the attempt count."""
    carried = getattr(error, "result", None)
    if isinstance(carried, ChainedRecordResult):
        carried.attempts = attempts
    return HandleFailure(handle, error, attempts)


class BatchRun:
    """One get_chained_records run: its settings, the outcomes so far, and its workers."""

    def __init__(self, handles: list[int], params: ChainedRecordParams, device_path: str, *, concurrency: int,
                 retries: int, fail_fast: bool, call: CallOne, closed: Callable[[], bool]) -> None:
        self.handles = handles
        self.params = params
        self.device_path = device_path
        self.concurrency = concurrency
        self.retries = retries
        self.fail_fast = fail_fast
        self.call = call
        self.closed = closed
        self.outcomes: dict[int, Outcome] = {}
        self.failed = 0
        self.interrupted = False
        self.started = time.monotonic()
        self.notify: Callable[[Outcome], None] = lambda outcome: None
        self.workers: list[asyncio.Task[None]] = []
        self.stopping = False

    def stop(self) -> None:
        """Cancel the workers (loop thread only); calls in flight unwind and their handles are skipped."""
        # the flag as well as cancel(): asyncio.wait_for (3.11) can swallow a cancellation that arrives
        # just as the awaited call finishes, and such a worker must still not take another handle
        self.stopping = True
        current = asyncio.current_task()
        for worker in self.workers:
            if worker is not current:
                worker.cancel()

    def record(self, handle: int, outcome: Outcome) -> None:
        self.outcomes[handle] = outcome
        if isinstance(outcome, HandleFailure):
            self.failed += 1
        self.notify(outcome)

    def batch(self) -> ChainedRecordBatch:
        return ChainedRecordBatch.from_outcomes(self.handles, dict(self.outcomes), interrupted=self.interrupted,
                                                elapsed_s=time.monotonic() - self.started)

    def advance(self, bar: Any, outcome: Outcome) -> None:
        """Move the caller's progress bar by one outcome (called in the caller's thread or loop)."""
        if bar is None:
            return
        if isinstance(outcome, HandleFailure):
            bar.set_postfix(failed=self.failed, refresh=False)
        bar.update(1)

    # --- on the client's loop --------------------------------------------------------------------
    async def execute(self) -> ChainedRecordBatch:
        pending = iter(self.handles)  # shared by the workers: each next() hands out one handle

        async def worker() -> None:
            for handle in pending:
                if self.stopping:
                    return
                outcome = await self._call_with_retries(dataclasses.replace(self.params, record_handle=handle))
                self.record(handle, outcome)
                if self.fail_fast and isinstance(outcome, HandleFailure):
                    self.stop()
                    return

        loop = asyncio.get_running_loop()
        self.workers = [loop.create_task(worker()) for _ in range(min(self.concurrency, len(self.handles)))]
        try:
            await asyncio.wait(self.workers)
        except asyncio.CancelledError:
            self.stop()
            await asyncio.wait(self.workers, timeout=INTERRUPT_GRACE_S)
            raise
        for task in self.workers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # a bug, not a call failure
        return self.batch()

    async def _call_with_retries(self, params: ChainedRecordParams) -> Outcome:
        handle = params.record_handle
        attempt = 0
        while True:
            attempt += 1
            try:
                result = await self.call(params, self.device_path)
            except RETRIABLE as exc:
                if attempt > self.retries or self.closed():
                    return failure(handle, exc, attempt)
                delay = retry_delay(attempt)
                LOGGER.debug("handle %s attempt %d: %s; retrying in %.2f s", handle, attempt, exc, delay)
                await asyncio.sleep(delay)
            except Exception as exc:  # a server verdict (Error notification, statusCode): retrying cannot help
                return failure(handle, exc, attempt)
            else:
                result.attempts = attempt
                return result


def run_blocking(loop: LoopThread, run: BatchRun, progress: Any) -> ChainedRecordBatch:
    """Run ``run`` on ``loop`` and wait; Ctrl-C returns the partial batch with ``interrupted=True``."""
    if loop.in_loop_thread():
        raise RuntimeError("blocking gwsnb call made from the client's own event loop; use the *_async API")
    done: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
    run.notify = done.put
    bar, owned = progress_bar(progress, len(run.handles))
    try:
        future = loop.submit(run.execute())
        try:
            # the progress bar is advanced here, in the caller's thread, so a Ctrl-C lands in this loop
            while True:
                try:
                    run.advance(bar, done.get(timeout=0.1))
                except queue.Empty:
                    if future.done():
                        break
            while not done.empty():
                run.advance(bar, done.get_nowait())
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
    caller = asyncio.get_running_loop()
    bar, owned = progress_bar(progress, len(run.handles))

    def notify(outcome: Outcome) -> None:
        # RuntimeError: the caller's loop is gone (it stopped waiting), there is no bar to advance
        with contextlib.suppress(RuntimeError):
            caller.call_soon_threadsafe(run.advance, bar, outcome)

    run.notify = notify
    try:
        future: asyncio.Future[ChainedRecordBatch] = (
            asyncio.ensure_future(run.execute()) if loop.in_loop_thread()
            else asyncio.wrap_future(loop.submit(run.execute())))
        try:
            batch = await asyncio.shield(future)
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
