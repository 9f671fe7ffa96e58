"""Stalls on purpose, for the tests of what a starved event loop does to timers.

The tests reach the loops through private attributes (``Sandbox._loop``, ``GwsClient._loop``) on purpose:
nothing public should block them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
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

