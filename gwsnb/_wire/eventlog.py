"""The raw event log: every CometD message the client received, in arrival order, within a byte budget.

What is kept is what came off the wire: each long-poll answer's body as received (its JSON text), with its
arrival time and message count, decoded into :class:`~gwsnb.results.Event` objects only when the log is
read (:meth:`EventLog.snapshot`, iteration, ``events_frame()``).  A parsed message costs about three
times its JSON text in Python objects; the text costs its length, and keeping it costs the client no
parsing (the body was parsed once, for the correlator).  Entries the client makes itself (the record
operations' "sent" lines) are kept the same way, as the JSON text of a one-message array.

Bodies are gathered in blocks; a block that reaches :data:`BLOCK_BYTES` of text is compressed at once
(zlib level 1: the sandbox's notifications shrink about 18 times), so the memory a full log holds is a
small fraction of its budget (figures: docs/engine.md, "Event log").

The budget (``max_bytes``, :data:`DEFAULT_EVENT_LOG_BYTES` = 32 MiB) counts the JSON text kept (what
reading the log will decode) plus :data:`ENTRY_OVERHEAD` per body; when it would be passed, the oldest
blocks are dropped and their messages counted in :attr:`EventLog.dropped` (never silently).  A body larger
than the whole budget is not kept (and counted).  A budget of 0 turns the log off: every message is counted
as dropped.  An optional message cap (``max_messages``, the deprecated ``event_log_size`` of
:func:`gwsnb.connect`) drops the oldest messages beyond it as well.  See docs/engine.md ("Event log").

Only the client's loop thread writes, without a lock; readers on any thread copy what they need first
(appends to a list and the swap of a block's text for its compressed form are atomic under the GIL, and
the writer never changes a list a reader may hold).
"""

from __future__ import annotations

import json
import zlib
from collections import deque
from collections.abc import Iterable, Iterator

from ..results import Event
from .hygiene import MalformedBody, parse_body

__all__ = ["BLOCK_BYTES", "DEFAULT_EVENT_LOG_BYTES", "DEFAULT_EVENT_LOG_SIZE", "ENTRY_OVERHEAD", "EventLog"]

#: the default byte budget of a client's event log (JSON text kept): enough for a notebook's debugging
DEFAULT_EVENT_LOG_BYTES = 32 * 2**20
#: the former default message count (``event_log_size``); kept for code that imports it
DEFAULT_EVENT_LOG_SIZE = 100_000
#: bytes counted per kept body on top of its text (its time, length and count in the block's lists)
ENTRY_OVERHEAD = 64
#: text gathered in a block before it is compressed (at most a quarter of the budget)
BLOCK_BYTES = 256 * 1024
_LEVEL = 1


class _Block:
    """Bodies in arrival order: their text while the block is open, one zlib blob once sealed."""

    __slots__ = ("times", "lengths", "counts", "bodies", "blob", "messages", "size")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.lengths: list[int] = []
        self.counts: list[int] = []
        self.bodies: list[bytes] | None = []
        self.blob: bytes | None = None
        self.messages = 0
        self.size = 0  # bytes counted against the budget

    @property
    def text_bytes(self) -> int:
        return sum(self.lengths)

    def add(self, received_at: float, raw: bytes, count: int, size: int) -> None:
        assert self.bodies is not None
        self.times.append(received_at)
        self.lengths.append(len(raw))
        self.counts.append(count)
        self.bodies.append(raw)  # last: a reader takes as many bodies as it sees, and their metadata
        self.messages += count
        self.size += size

    def seal(self) -> None:
        bodies = self.bodies
        if bodies is None:
            return
        self.blob = zlib.compress(b"".join(bodies), _LEVEL)
        self.bodies = None  # after the blob is set: a reader finds one or the other

    def held_bytes(self) -> int:
        """What the block's text really occupies now (compressed once sealed)."""
        blob = self.blob
        return len(blob) if blob is not None else self.text_bytes

    def decode(self, skip: int) -> list[Event]:
        bodies = self.bodies
        if bodies is not None:
            bodies = list(bodies)
        else:
            assert self.blob is not None
            data = zlib.decompress(self.blob)
            bodies, start = [], 0
            for length in self.lengths:
                bodies.append(data[start:start + length])
                start += length
        events: list[Event] = []
        for received_at, raw in zip(self.times, bodies, strict=False):  # times may run ahead of bodies
            try:
                messages, _ = parse_body(raw)
            except MalformedBody:  # not kept by the session; defensive only
                continue
            events.extend(Event(received_at, m) for m in messages)
        return events[skip:] if skip else events


class EventLog:
    """Every CometD message received (``/meta`` included), in arrival order, within ``max_bytes``.

    When full, the oldest messages are dropped and counted in :attr:`dropped`; :attr:`total` counts every
    message ever added.  Written by the client's loop thread, read from any thread.

    :param max_bytes: the byte budget, in JSON text kept (0 turns the log off).
    :param max_messages: also keep at most this many messages (``None``: no cap).
    :raises ValueError: a negative or non-integer budget or cap.
    """

    def __init__(self, max_bytes: int = DEFAULT_EVENT_LOG_BYTES, *, max_messages: int | None = None) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError("the event log budget must be an integer >= 0 (bytes)")
        if max_messages is not None and (isinstance(max_messages, bool) or not isinstance(max_messages, int)
                                         or max_messages < 1):
            raise ValueError("the event log's message cap must be an integer >= 1")
        self._blocks: deque[_Block] = deque()
        self._max_bytes = max_bytes
        self._max_messages = max_messages
        self._block_limit = max(1, min(BLOCK_BYTES, max_bytes // 4))
        #: messages a block gathers at most: under a cap, blocks of skipped messages must not pile up
        self._block_messages = max(1, max_messages // 4) if max_messages is not None else 2**62
        #: messages of the oldest block already dropped by the message cap (it is decoded without them)
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
        """Bytes counted against the budget now (the JSON text kept, plus the per-body overhead)."""
        return self._bytes

    def held_bytes(self) -> int:
        """Bytes the kept text really occupies (compressed blocks, the open block's text)."""
        return sum(block.held_bytes() for block in list(self._blocks))

    @property
    def enabled(self) -> bool:
        return self._max_bytes > 0

    # --- writing (the loop thread) ------------------------------------------------------------------
    def add_raw(self, received_at: float, raw: bytes, count: int) -> None:
        """Keep one received body of ``count`` messages (already parsed once by the caller)."""
        if count <= 0:
            return
        self.total += count
        size = len(raw) + ENTRY_OVERHEAD
        if size > self._max_bytes:  # the log is off, or this one answer is larger than the budget
            self.dropped += count
            return
        block = self._room_for(size, count)
        block.add(received_at, raw, count, size)
        self._bytes += size
        self._count += count
        cap = self._max_messages
        if cap is not None and self._count > cap:  # only when one body holds more than the cap
            self._skip += self._count - cap
            self.dropped += self._count - cap
            self._count = cap

    def append(self, event: Event) -> None:
        """Keep one event made by the client itself (or a message received outside a long-poll body)."""
        raw = json.dumps([event.message], separators=(",", ":"), default=str).encode()
        self.add_raw(event.received_at, raw, 1)

    def extend(self, events: Iterable[Event]) -> None:
        """Keep each of ``events`` (same accounting as :meth:`append`)."""
        for event in events:
            self.append(event)

    def _room_for(self, size: int, count: int) -> _Block:
        """Drop the oldest blocks (or messages, under the cap) so that a body fits; the open block."""
        blocks = self._blocks
        if blocks and (blocks[-1].size + size > self._block_limit
                       or blocks[-1].messages + count > self._block_messages):
            blocks[-1].seal()
        while blocks and self._bytes + size > self._max_bytes:
            self._drop_oldest()
        cap = self._max_messages
        while cap is not None and blocks and self._count + count > cap:
            oldest = blocks[0]
            excess = self._count + count - cap
            if oldest.messages - self._skip <= excess:
                self._drop_oldest()
            else:
                self._skip += excess
                self._count -= excess
                self.dropped += excess
        if not blocks or blocks[-1].bodies is None:
            blocks.append(_Block())
        return blocks[-1]

    def _drop_oldest(self) -> None:
        oldest = self._blocks.popleft()
        kept = oldest.messages - self._skip
        self._skip = 0
        self._bytes -= oldest.size
        self._count -= kept
        self.dropped += kept

    # --- reading (any thread) --------------------------------------------------------------------------
    def _blocks_now(self) -> tuple[list[_Block], int]:
        for _ in range(100):
            skip = self._skip
            try:
                blocks = list(self._blocks)
            except RuntimeError:  # "deque mutated during iteration": the loop thread appended meanwhile
                continue
            if skip == self._skip:
                return blocks, skip
        return list(tuple(self._blocks)), self._skip

    def snapshot(self) -> list[Event]:
        """The messages kept, oldest first, decoded now (safe from any thread)."""
        blocks, skip = self._blocks_now()
        events: list[Event] = []
        for i, block in enumerate(blocks):
            events.extend(block.decode(skip if i == 0 else 0))
        cap = self._max_messages
        if cap is not None and len(events) > cap:  # the writer went on while this was read: the newest
            del events[:len(events) - cap]
        return events

    def clear(self) -> None:
        self._blocks.clear()
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
