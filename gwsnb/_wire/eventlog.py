"""The raw event log: every CometD message the client received, in arrival order, bounded.

Appending is O(1) and takes no lock: only the client's loop thread writes, and CPython copies a
``deque`` into a list (:meth:`EventLog.snapshot`) without letting another thread run in between.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from ..results import Event

__all__ = ["DEFAULT_EVENT_LOG_SIZE", "EventLog"]

DEFAULT_EVENT_LOG_SIZE = 100_000


class EventLog:
    """Every CometD message received (``/meta`` included), in arrival order, in a bounded ring buffer.

    When full, the oldest message is dropped and counted in :attr:`dropped` (never silently); :attr:`total`
    counts every message ever appended.  Written by the client's loop thread, read from any thread.
    """

    def __init__(self, maxlen: int = DEFAULT_EVENT_LOG_SIZE) -> None:
        if isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1:
            raise ValueError("event log size must be an integer >= 1")
        self._events: deque[Event] = deque(maxlen=maxlen)
        self._maxlen = maxlen
        self.dropped = 0
        self.total = 0

    @property
    def maxlen(self) -> int:
        return self._maxlen

    def append(self, event: Event) -> None:
        if len(self._events) == self._maxlen:
            self.dropped += 1
        self._events.append(event)
        self.total += 1

    def extend(self, events: Iterable[Event]) -> None:
        """Append a received batch (same accounting as :meth:`append`, one call per batch)."""
        batch = list(events)
        overflow = len(self._events) + len(batch) - self._maxlen
        if overflow > 0:
            self.dropped += overflow
        self._events.extend(batch)
        self.total += len(batch)

    def snapshot(self) -> list[Event]:
        """A copy of the messages kept, oldest first (safe from any thread)."""
        for _ in range(100):
            try:
                return list(self._events)
            except RuntimeError:  # "deque mutated during iteration": the loop thread appended meanwhile
                continue
        return list(tuple(self._events))

    def clear(self) -> None:
        self._events.clear()

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        return f"<EventLog {len(self)}/{self.maxlen} messages, {self.dropped} dropped>"
