"""Stalls on purpose, for the tests of what a starved event loop does to timers.

The tests reach the loops through private attributes (``Sandbox._loop``, ``GwsClient._loop``) on purpose:
nothing public should block them."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def held_loop(loop: asyncio.AbstractEventLoop, limit: float = 60.0) -> Iterator[None]:
    """Block that loop's thread while the block runs (its next callback waits, at most ``limit`` seconds):
    a server that stops answering, or a client whose loop thread the machine starves."""
    released = threading.Event()
    loop.call_soon_threadsafe(released.wait, limit)
    try:
        yield
    finally:
        released.set()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.01)
