"""Wait for SIGINT or SIGTERM in a long-running subcommand (``gwsnb sandbox``), without a lock.

A Python signal handler runs in the main thread between two bytecodes, wherever that thread is: also
inside ``threading.Event.wait()`` at a moment it holds the Event's (non-reentrant) lock, the exit of its
``with`` block.  A handler that calls ``Event.set()`` then waits for that lock forever: the process never
stops (``gwsnb sandbox`` did not exit within 30 s of SIGTERM now and then, issue 26; a main thread looping
on ``Event.wait(0)`` hangs on about half the signals).  So the handler here only appends to a list (one
bytecode, no lock) and the main thread sleeps in short steps, which a signal interrupts.
"""

from __future__ import annotations

import signal
import time
from types import FrameType, TracebackType

__all__ = ["StopSignals"]

#: seconds between two looks at the received signals (the longest a stop waits to begin)
POLL_S = 0.2


class StopSignals:
    """Within ``with StopSignals() as stop:``, SIGINT and SIGTERM are recorded instead of acted on;
    ``stop.wait()`` returns once one came.  The previous handlers are restored on exit."""

    def __init__(self, signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = signals
        self.received: list[int] = []
        self._previous: dict[signal.Signals, object] = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)  # no lock taken: see the module's doc

    def __enter__(self) -> StopSignals:
        self._previous = {sig: signal.signal(sig, self._on_signal) for sig in self.signals}
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]  # what signal.signal returned

    def wait(self, poll_s: float = POLL_S) -> int:
        """Block until one of the signals came; the first one's number."""
        while not self.received:
            time.sleep(poll_s)
        return self.received[0]
