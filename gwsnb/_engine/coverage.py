"""Each chain once: the dispatch order and the bookkeeping that let a bulk run skip the handles whose
record already came back in another handle's chain (see ``docs/engine.md``, "Each chain once").

GetChainedRecord answers any handle of a chain with the whole chain, and each ChainedRecord notification
names its record's handle (``record.recordHandle``, or ``userData.GSW_RECORD_HANDLE``; see
``docs/notifications.md``).  So once a call for handle ``g`` succeeded, every other handle of the run
among its records is *covered* by ``g``: it is not called, and its records are those of ``g``'s chain.

Only a successful (complete) result covers: the records of a call that failed (an Error notification,
no DataEnd) may be partial.  A handle already finished (called, or failed) keeps its outcome.  A handle
that is in flight when another call covers it is marked covered at once; its own answer, when it
comes, is dropped, so the frames still hold each record once.

Handles that share a chain are usually neighbours (OCS, and the sandbox, number a chain's records one
after the other), so the run keeps the handles in flight apart: the sorted handles are cut into *lanes*
(contiguous slices, about four per call in flight) and the run takes the next handle of each lane in
turn, so a handle's lower neighbour was called a whole round of lanes earlier and has usually answered
(and covered it) by then; and a handle within :data:`WINDOW` of a handle in flight waits for that call
to end.  A chain is then called more than once only when its records are farther apart than that.  (A
stride over the whole list would do the same but leave the finished handles scattered: a streamed run's
state, which lists them as ranges, would grow to one range per handle; lanes keep it to one per lane.)

The state is a byte per handle, plus the sorted handles as runs of consecutive ones
(:class:`gwsnb.handles.SortedHandles`: 16 bytes a run), so a run of a million handles costs about 1 MiB.
Loop thread only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from ..handles import as_handle_list

__all__ = ["LANES_PER_CALL", "WINDOW", "ChainCoverage", "lane_count", "laned", "record_handles"]

#: lanes per call in flight: a lane's next handle is taken about this many answers after its last one
LANES_PER_CALL = 4
#: a handle waits while a call is in flight for a handle at most WINDOW below or above it
WINDOW = 8

_PENDING = 0
_IN_FLIGHT = 1
_FINISHED = 2  # called: succeeded or failed
_COVERED = 3


def lane_count(n: int, concurrency: int, window: int = WINDOW) -> int:
    """Lanes for ``n`` handles at ``concurrency``: :data:`LANES_PER_CALL` per call in flight, but lanes
    longer than ``2 * window`` so that the handles in flight are out of each other's window."""
    return max(1, min(LANES_PER_CALL * concurrency, n // (2 * window + 1)))


def laned(n: int, lanes: int) -> Iterator[int]:
    """Positions ``0..n-1`` cut into ``lanes`` contiguous lanes, taken one per lane in turn: with 3 lanes
    of 7 positions, ``0, 3, 5, 1, 4, 6, 2``."""
    lanes = max(1, min(lanes, n))
    size, extra = divmod(n, lanes)
    starts = [i * size + min(i, extra) for i in range(lanes + 1)]  # the first `extra` lanes are one longer
    for step in range(size + (extra > 0)):
        for lane in range(lanes):
            pos = starts[lane] + step
            if pos < starts[lane + 1]:
                yield pos


def _as_handle(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def record_handles(records: Sequence[Any]) -> Iterator[int]:
    """The handle of each record of a chain (``recordHandle``, else ``userData.GSW_RECORD_HANDLE``);
    a record naming none is passed over."""
    for record in records:
        if not isinstance(record, dict):
            continue
        handle = _as_handle(record.get("recordHandle"))
        if handle is None:
            user_data = record.get("userData")
            if isinstance(user_data, dict):
                handle = _as_handle(user_data.get("GSW_RECORD_HANDLE"))
        if handle is not None:
            yield handle


class ChainCoverage:
    """Which handles of a run to call, in which order, and which ones other calls covered.

    :meth:`take` hands out the next handle to call (waiting while the only ones left are next to calls in
    flight); :meth:`finished` takes a call's end and returns the handles its chain covered.
    """

    def __init__(self, handles: Sequence[int], *, concurrency: int, window: int = WINDOW) -> None:
        # the handles ascending, as runs of consecutive handles: a range costs a few bytes, not a list
        self._sorted = as_handle_list(handles).sorted()
        self._state = bytearray(len(self._sorted))
        self._order = laned(len(self._sorted), lane_count(len(self._sorted), concurrency, window))
        self._window = window
        self._ready: deque[int] = deque()  # positions released by a call that ended: taken first
        self._waiting: dict[int, list[int]] = {}  # position in flight -> positions waiting for it
        self._wake = asyncio.Event()
        self._exhausted = False
        self.in_flight = 0
        #: calls made whose handle another call covered while they were in flight (their answer dropped)
        self.redundant = 0

    def __len__(self) -> int:
        return len(self._sorted)

    def _position(self, handle: int) -> int | None:
        return self._sorted.position(handle)

    def covered(self, handle: int) -> bool:
        """Whether another call's chain already holds ``handle``'s record."""
        pos = self._position(handle)
        return pos is not None and self._state[pos] == _COVERED

    def _busy_neighbour(self, pos: int) -> int | None:
        """A position in flight whose handle is within :data:`WINDOW` of ``pos``'s handle, if any."""
        state, ordered, window = self._state, self._sorted, self._window
        handle = ordered[pos]
        for other in range(max(0, pos - window), min(len(state), pos + window + 1)):
            if other != pos and state[other] == _IN_FLIGHT and abs(ordered[other] - handle) <= window:
                return other
        return None

    def _next_position(self) -> int | None:
        """The next position to call now, or ``None`` when none can be called now."""
        state = self._state
        while True:
            if self._ready:
                pos = self._ready.popleft()
            elif self._exhausted:
                return None
            else:
                pos = next(self._order, -1)
                if pos < 0:
                    self._exhausted = True
                    return None
            if state[pos] != _PENDING:
                continue  # covered while it waited
            busy = self._busy_neighbour(pos)
            if busy is None:
                return pos
            self._waiting.setdefault(busy, []).append(pos)

    async def take(self) -> int | None:
        """The next handle to call (marked in flight), or ``None`` when every handle is called or covered
        (or waits for calls other workers have in flight, which will release it)."""
        while True:
            pos = self._next_position()
            if pos is not None:
                self._state[pos] = _IN_FLIGHT
                self.in_flight += 1
                return self._sorted[pos]
            if not self._waiting:
                return None
            self._wake.clear()
            await self._wake.wait()

    def finished(self, handle: int, records: Sequence[Any] | None) -> tuple[bool, list[int]]:
        """A call for ``handle`` ended, with the records of its chain when it succeeded (``None`` when it
        failed).  Returns ``(kept, covered)``: whether its outcome stands (``False``: another call covered
        it meanwhile, the answer is dropped), and the handles of the run its chain covers now."""
        pos = self._position(handle)
        assert pos is not None
        self.in_flight -= 1
        released = self._waiting.pop(pos, None)
        if released:
            self._ready.extend(released)
            self._wake.set()
        if self._state[pos] == _COVERED:
            self.redundant += 1
            return False, []
        self._state[pos] = _FINISHED
        if records is None:
            return True, []
        covered: list[int] = []
        state = self._state
        for other in record_handles(records):
            if other == handle:
                continue
            other_pos = self._position(other)
            if other_pos is not None and state[other_pos] in (_PENDING, _IN_FLIGHT):
                state[other_pos] = _COVERED
                covered.append(other)
        return True, covered

    def abandoned(self, handle: int) -> None:
        """A call for ``handle`` was given up without an outcome (the run stopped): it is pending again,
        and the handles waiting for it are released."""
        pos = self._position(handle)
        if pos is None:
            return
        self.in_flight -= 1
        if self._state[pos] == _IN_FLIGHT:
            self._state[pos] = _PENDING
        released = self._waiting.pop(pos, None)
        if released:
            self._ready.extend(released)
            self._wake.set()
