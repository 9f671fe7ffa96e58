"""Stalls on purpose, for the tests of what a starved event loop does to timers."""

from __future__ import annotations

import asyncio
import time


def hold_loop(loop: asyncio.AbstractEventLoop, seconds: float) -> None:
    """Block that loop's thread for a while (its next callback sleeps): a server that stops answering, or a
    client whose loop thread the machine starves.  The tests reach the loops through private attributes
    (``Sandbox._loop``, ``GwsClient._loop``) on purpose: nothing public should block them."""
    loop.call_soon_threadsafe(time.sleep, seconds)
