"""A private asyncio event loop on a daemon thread: the client's and the sandbox's home.

Blocking callers submit coroutines and wait on a ``concurrent.futures.Future``.  That works the same from a
script, from IPython and from a Jupyter kernel whose own loop is running (patched by ``nest_asyncio`` or
not), because this loop never shares a thread with the caller's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..errors import TransportError

__all__ = ["LoopThread", "LoopTimeout"]

T = TypeVar("T")


class LoopTimeout(Exception):
    """A blocking call got no answer from the loop thread in time.

    A distinct type, because since Python 3.11 ``concurrent.futures.TimeoutError`` is the builtin
    ``TimeoutError``, which a coroutine's own errors (``NotificationTimeout``) also are.
    """


class LoopThread:
    """An asyncio event loop running forever on a daemon thread named ``name``.

    :param workers: size of the loop's default executor (``run_in_executor(None, ...)``); ``0`` keeps
        asyncio's default.
    """

    def __init__(self, name: str = "gwsnb-loop", workers: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.executor: concurrent.futures.ThreadPoolExecutor | None = None
        if workers:
            self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                                  thread_name_prefix=f"{name}-worker")
            self.loop.set_default_executor(self.executor)
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())

    @property
    def running(self) -> bool:
        return self.thread.is_alive() and not self.loop.is_closed()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop.

        :raises TransportError: the loop is stopped (its owner was closed).
        """
        if not self.running:
            coro.close()
            raise TransportError("the client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run ``coro`` on the loop and wait for it (at most ``timeout`` s; then cancel it).

        :raises RuntimeError: called from the loop thread itself (it would deadlock).
        :raises LoopTimeout: no result in time (the coroutine is cancelled).
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("blocking gwsnb call made from the client's own event loop; use the *_async API")
        future = self.submit(coro)
        try:
            done, _ = concurrent.futures.wait([future], timeout)
        except BaseException:
            # KeyboardInterrupt in a notebook: do not leave the call running behind the user's back
            future.cancel()
            raise
        if not done:
            future.cancel()
            raise LoopTimeout(f"no answer from the event loop within {timeout} s")
        return future.result()

    def call(self, fn: Any, timeout: float | None = 30.0) -> Any:
        """Run the plain function ``fn`` on the loop thread (state owned by the loop) and return its value."""
        if self.in_loop_thread():
            return fn()

        async def wrapper() -> Any:
            return fn()

        return self.run(wrapper(), timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what is left on the loop, stop it and join the thread (bounded)."""
        if self.loop.is_closed():
            return
        if self.thread.is_alive() and not self.in_loop_thread():
            async def _cancel_all() -> None:
                current = asyncio.current_task()
                tasks = [t for t in asyncio.all_tasks() if t is not current]
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.wait(tasks, timeout=timeout)

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop).result(timeout + 1)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if not self.thread.is_alive():
            self.loop.close()
