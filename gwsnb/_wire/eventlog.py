"""The raw event log: every CometD message the client received, in arrival order, within a byte budget.

What is kept is what came off the wire: each long-poll answer's body as received (``bytes``), with its
arrival time and message count, decoded into :class:`~gwsnb.results.Event` objects only when the log is
read (:meth:`EventLog.snapshot`, iteration, ``events_frame()``).  A parsed message costs ten to twenty
times its JSON text in Python objects; the raw body costs its length, and keeping it costs the client no
CPU at all (the body was read anyway).  Entries the client makes itself (the record operations' "sent"
lines) are kept as events and counted at the length of their JSON text.

The budget (:data:`DEFAULT_EVENT_LOG_BYTES`, 32 MiB) counts each entry's bytes plus a fixed overhead per
entry; when a new entry would pass it, the oldest entries are dropped and their messages counted in
:attr:`EventLog.dropped` (never silently).  An answer larger than the whole budget is not kept (and
counted).  A budget of 0 turns the log off: every message is counted as dropped.  An optional message cap
(``max_messages``, the deprecated ``event_log_size`` of :func:`gwsnb.connect`) drops the oldest messages
beyond it as well.  See docs/engine.md ("Event log").

Appending is O(1) amortised and takes no lock: only the client's loop thread writes, and CPython copies a
``deque`` into a list (:meth:`EventLog.snapshot`) without letting another thread run in between.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from ..results import Event
from .hygiene import MalformedBody, parse_body

__all__ = ["DEFAULT_EVENT_LOG_BYTES", "DEFAULT_EVENT_LOG_SIZE", "ENTRY_OVERHEAD", "EventLog"]

#: the default byte budget of a client's event log: enough for a notebook's debugging, small beside pandas
DEFAULT_EVENT_LOG_BYTES = 32 * 2**20
#: the former default message count (``event_log_size``); kept for code that imports it
DEFAULT_EVENT_LOG_SIZE = 100_000
#: bytes counted per entry on top of its text: the tuple, the bytes object's header, the deque slot
ENTRY_OVERHEAD = 120


class _Entry(NamedTuple):
    received_at: float
    raw: bytes | None  # a received body; None for an event kept as it is
    event: Event | None
    messages: int  # messages in the entry
    size: int  # bytes counted against the budget


class EventLog:
    """Every CometD message received (``/meta`` included), in arrival order, within ``max_bytes``.

    When full, the oldest messages are dropped and counted in :attr:`dropped`; :attr:`total` counts every
    message ever added.  Written by the client's loop thread, read from any thread.

    :param max_bytes: the byte budget (0 turns the log off).
    :param max_messages: also keep at most this many messages (``None``: no cap).
    :raises ValueError: a negative or non-integer budget or cap.
    """

    def __init__(self, max_bytes: int = DEFAULT_EVENT_LOG_BYTES, *, max_messages: int | None = None) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError("the event log budget must be an integer >= 0 (bytes)")
        if max_messages is not None and (isinstance(max_messages, bool) or not isinstance(max_messages, int)
                                         or max_messages < 1):
            raise ValueError("the event log's message cap must be an integer >= 1")
        self._entries: deque[_Entry] = deque()
        self._max_bytes = max_bytes
        self._max_messages = max_messages
        #: messages of the oldest entry already dropped by the message cap (it is decoded without them)
        self._skip = 0
        self._bytes = 0
        self._count = 0
        self.dropped = 0
        self.total = 0

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def maxlen(self) -> int | None:
        """The message cap, if any (the byte budget is :attr:`max_bytes`)."""
        return self._max_messages

    @property
    def nbytes(self) -> int:
        """Bytes counted against the budget now."""
        return self._bytes

    @property
    def enabled(self) -> bool:
        return self._max_bytes > 0

    # --- writing (the loop thread) ------------------------------------------------------------------
    def add_raw(self, received_at: float, raw: bytes, count: int) -> None:
        """Keep one received body of ``count`` messages (already parsed once by the caller)."""
        if count <= 0:
            return
        self._add(_Entry(received_at, raw, None, count, len(raw) + ENTRY_OVERHEAD))

    def append(self, event: Event) -> None:
        """Keep one event made by the client itself (or a message received outside a long-poll body)."""
        size = len(json.dumps(event.message, default=str)) + ENTRY_OVERHEAD
        self._add(_Entry(event.received_at, None, event, 1, size))

    def extend(self, events: Iterable[Event]) -> None:
        """Keep each of ``events`` (same accounting as :meth:`append`)."""
        for event in events:
            self.append(event)

    def _add(self, entry: _Entry) -> None:
        self.total += entry.messages
        if entry.size > self._max_bytes:  # the log is off, or this one answer is larger than the budget
            self.dropped += entry.messages
            return
        # room is made before the entry goes in, so that a reader never sees more than the limits
        entries = self._entries
        while entries and self._bytes + entry.size > self._max_bytes:
            self._drop_oldest()
        cap = self._max_messages
        if cap is not None:
            self._make_room(entry.messages, cap)
        entries.append(entry)
        self._bytes += entry.size
        self._count += min(entry.messages, cap) if cap is not None else entry.messages

    def _make_room(self, incoming: int, cap: int) -> None:
        """Drop the oldest messages so that ``incoming`` more fit under ``cap`` (an entry longer than the
        cap is kept without its oldest messages)."""
        entries = self._entries
        while entries and self._count + incoming > cap:
            oldest = entries[0]
            excess = self._count + incoming - cap
            if oldest.messages - self._skip <= excess:
                self._drop_oldest()
            else:
                self._skip += excess
                self._count -= excess
                self.dropped += excess
        if not entries and incoming > cap:
            self._skip = incoming - cap
            self.dropped += incoming - cap

    def _drop_oldest(self) -> None:
        oldest = self._entries.popleft()
        kept = oldest.messages - self._skip
        self._skip = 0
        self._bytes -= oldest.size
        self._count -= kept
        self.dropped += kept

    # --- reading (any thread) --------------------------------------------------------------------------
    def _entries_now(self) -> tuple[list[_Entry], int]:
        for _ in range(100):
            skip = self._skip
            try:
                entries = list(self._entries)
            except RuntimeError:  # "deque mutated during iteration": the loop thread appended meanwhile
                continue
            if skip == self._skip:
                return entries, skip
        return list(tuple(self._entries)), self._skip

    def snapshot(self) -> list[Event]:
        """The messages kept, oldest first, decoded now (safe from any thread)."""
        entries, skip = self._entries_now()
        events: list[Event] = []
        for i, entry in enumerate(entries):
            if entry.event is not None:
                batch = [entry.event]
            else:
                assert entry.raw is not None
                try:
                    messages, _ = parse_body(entry.raw)
                except MalformedBody:  # not kept by the session; defensive only
                    continue
                batch = [Event(entry.received_at, m) for m in messages]
            events.extend(batch[skip:] if i == 0 and skip else batch)
        return events

    def clear(self) -> None:
        self._entries.clear()
        self._skip = self._bytes = self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Event]:
        return iter(self.snapshot())

    def __repr__(self) -> str:
        if not self.enabled:
            return f"<EventLog off, {self.dropped} message(s) not kept>"
        cap = f", at most {self._max_messages} messages" if self._max_messages is not None else ""
        return (f"<EventLog {self._count} messages, {self._bytes / 2**20:.1f}/{self._max_bytes / 2**20:.1f} MiB"
                f"{cap}, {self.dropped} dropped>")
