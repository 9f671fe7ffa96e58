"""Record handles held compactly: :class:`HandleList`, what :func:`gwsnb.parse_handles` returns.

A calling list's handles are mostly consecutive (``"1-1000000"``), so a run keeps them as *runs* of
consecutive handles, in the order given: two ``array('q')`` (each run's first handle, and how many
handles come before it), 16 bytes per run however long the run is.  ``parse_handles("1-1000000")`` costs
a few hundred bytes where a list of ints cost 38 MiB; a list of scattered handles costs 16 bytes each
(a list of ints: 36).  The bulk engine keeps this form from parsing to the each-chain-once bookkeeping
(:class:`SortedHandles`, the same runs sorted) to a resumed run's remaining handles
(:meth:`HandleList.without`).  See ``docs/engine.md`` ("Handles kept compact") and ``docs/changelog.md``.

The module imports only the standard library; numpy (a core dependency) is loaded only to drop the
duplicates of handles given out of order.
"""

from __future__ import annotations

import bisect
import operator
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

__all__ = ["HandleBuilder", "HandleList", "SortedHandles", "as_handle_list"]

#: handles hashed per chunk by :meth:`SortedHandles.fingerprint_into` (bounds its memory to about 1 MiB)
_CHUNK = 1 << 16


class HandleBuilder:
    """Collects handles and ranges in order, merging consecutive ones into runs; :meth:`build` drops the
    duplicates (first occurrence kept).  ``count`` is the handles added so far, duplicates included until
    :meth:`compact` drops them (exact as long as every handle came after the ones before it)."""

    def __init__(self) -> None:
        self.starts = array("q")
        self.lengths = array("q")
        self.count = 0
        self.ascending = True  # each run starts after every handle before it: no duplicate is possible
        self._top = -1  # the highest handle added so far

    def add_range(self, first: int, last: int) -> None:
        """Add ``first..last`` (inclusive, ``first <= last``)."""
        n = last - first + 1
        lengths = self.lengths
        if lengths and first == self.starts[-1] + lengths[-1] and first > self._top:
            lengths[-1] += n
        else:
            if first <= self._top:
                self.ascending = False
            self.starts.append(first)
            lengths.append(n)
        if last > self._top:
            self._top = last
        self.count += n

    def add(self, handle: int) -> None:
        self.add_range(handle, handle)

    def compact(self) -> None:
        """Drop the duplicates now (first occurrence kept), so that ``count`` is exact."""
        if self.ascending:
            return
        import numpy as np

        starts = np.frombuffer(self.starts, dtype=np.int64)
        lengths = np.frombuffer(self.lengths, dtype=np.int64)
        before = np.cumsum(lengths) - lengths
        values = np.repeat(starts - before, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)
        _, first = np.unique(values, return_index=True)
        values = values[np.sort(first)]
        breaks = np.flatnonzero(np.diff(values) != 1) + 1
        run_starts = values[np.concatenate(([0], breaks))] if len(values) else values
        run_lengths = np.diff(np.concatenate(([0], breaks, [len(values)]))) if len(values) else values
        self.starts = _int64_array(run_starts)
        self.lengths = _int64_array(run_lengths)
        self.count = len(values)
        self.ascending = bool(len(run_starts) < 2 or np.all(run_starts[1:] > run_starts[:-1]))

    def build(self) -> HandleList:
        """The handles added, duplicates dropped, in the order first given."""
        self.compact()
        cum = array("q", [0])
        total = 0
        for n in self.lengths:
            total += n
            cum.append(total)
        return HandleList._from_runs(self.starts, cum, self.ascending)


def _as_int(value: object) -> int | None:
    """``value`` as an int when it is one (numpy integers too), else ``None``."""
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def _int64_array(values: Any) -> array[int]:
    out = array("q")
    out.frombytes(values.astype("<i8" if sys.byteorder == "little" else ">i8").tobytes())
    return out


class HandleList(Sequence[int]):
    """Distinct record handles in the order given, held as runs of consecutive handles.

    A read-only sequence: ``len()``, indexing (negative too), slicing (a :class:`HandleList`), iteration,
    ``in``; equal to a list, tuple or range of the same handles in the same order (``parse_handles("1-3")
    == [1, 2, 3]``).  ``list(handles)`` gives a plain list (for ``json.dumps``, or to change it).
    ``HandleList(iterable)`` keeps the first occurrence of each handle; the values are not checked
    (:func:`gwsnb.parse_handles` checks them).  :meth:`ranges` gives the runs as ``[first, last]`` pairs.
    """

    __slots__ = ("_starts", "_cum", "_ascending", "_sorted")

    def __init__(self, handles: Iterable[int] = ()) -> None:
        built = as_handle_list(handles) if not isinstance(handles, HandleList) else handles
        self._starts: array[int] = built._starts
        self._cum: array[int] = built._cum
        self._ascending: bool = built._ascending
        self._sorted: SortedHandles | None = None

    @classmethod
    def _from_runs(cls, starts: array[int], cum: array[int], ascending: bool) -> HandleList:
        self = cls.__new__(cls)
        self._starts, self._cum, self._ascending, self._sorted = starts, cum, ascending, None
        return self

    @classmethod
    def from_range(cls, first: int, last: int) -> HandleList:
        """The handles ``first..last`` (inclusive); empty when ``last < first``."""
        if last < first:
            return cls._from_runs(array("q"), array("q", [0]), True)
        return cls._from_runs(array("q", [first]), array("q", [0, last - first + 1]), True)

    # --- the sequence ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._cum[-1]

    def _at(self, i: int) -> int:
        run = bisect.bisect_right(self._cum, i) - 1
        return self._starts[run] + i - self._cum[run]

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> HandleList: ...

    def __getitem__(self, index: int | slice) -> int | HandleList:
        n = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                return HandleList(self._at(i) for i in range(start, stop, step))
            return self._cut(start, max(start, stop))
        i = index.__index__()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("HandleList index out of range")
        return self._at(i)

    def _cut(self, start: int, stop: int) -> HandleList:
        """Positions ``start..stop-1`` (``0 <= start <= stop <= len``), as runs."""
        builder = HandleBuilder()
        if start < stop:
            first_run = bisect.bisect_right(self._cum, start) - 1
            for run in range(first_run, len(self._starts)):
                lo, hi = max(start, self._cum[run]), min(stop, self._cum[run + 1])
                if lo >= hi:
                    break
                base = self._starts[run] - self._cum[run]
                builder.add_range(base + lo, base + hi - 1)
        builder.ascending = builder.ascending or self._ascending  # a part of distinct handles is distinct
        return builder.build()

    def runs(self) -> Iterator[tuple[int, int]]:
        """``(first, count)`` of each run of consecutive handles, in order."""
        cum = self._cum
        for k, first in enumerate(self._starts):
            yield first, cum[k + 1] - cum[k]

    def __iter__(self) -> Iterator[int]:
        for first, count in self.runs():
            yield from range(first, first + count)

    def __reversed__(self) -> Iterator[int]:
        cum = self._cum
        for k in range(len(self._starts) - 1, -1, -1):
            first = self._starts[k]
            yield from range(first + cum[k + 1] - cum[k] - 1, first - 1, -1)

    def __contains__(self, handle: object) -> bool:
        value = _as_int(handle)
        return value is not None and self.sorted().position(value) is not None

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        """The position of ``value`` (looked for in ``start..stop``), as :meth:`list.index`.

        :raises ValueError: it is not there.
        """
        lo, hi, _ = slice(start, stop).indices(len(self))
        value = _as_int(value)
        if value is not None:
            for k, (first, count) in enumerate(self.runs()):
                if first <= value < first + count:
                    pos = self._cum[k] + value - first
                    if lo <= pos < hi:
                        return pos
                    break
        raise ValueError(f"{value!r} is not in the HandleList")

    def count(self, value: Any) -> int:
        return 1 if value in self else 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HandleList):
            return self._starts == other._starts and self._cum == other._cum
        if isinstance(other, (list, tuple, range, array)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like a list: equal to lists, so not hashable

    def __add__(self, other: Iterable[int]) -> list[int]:
        """``handles + [...]`` is a list, as it was when :func:`gwsnb.parse_handles` returned one."""
        return [*self, *other]

    def __radd__(self, other: Iterable[int]) -> list[int]:
        return [*other, *self]

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        """The handles as a numpy int64 array, built run by run (``numpy.asarray(handles)``)."""
        import numpy as np

        starts = np.frombuffer(self._starts, dtype=np.int64)
        cum = np.frombuffer(self._cum, dtype=np.int64)
        lengths = np.diff(cum)
        values = np.repeat(starts - cum[:-1], lengths) + np.arange(len(self), dtype=np.int64)
        return values if dtype is None else values.astype(dtype)

    def __reduce__(self) -> tuple[Any, ...]:
        return (HandleList._from_runs, (self._starts, self._cum, self._ascending))

    # --- what the engine needs -----------------------------------------------------------------------
    def ranges(self) -> list[list[int]]:
        """The runs as ``[first, last]`` pairs, in order (``parse_handles("7, 9, 20-30").ranges()`` is
        ``[[7, 7], [9, 9], [20, 30]]``)."""
        return [[first, first + count - 1] for first, count in self.runs()]

    def sorted(self) -> SortedHandles:
        """The same handles ascending (kept: computed once)."""
        if self._sorted is None:
            self._sorted = SortedHandles(self)
        return self._sorted

    def without(self, ranges: Sequence[Sequence[int]]) -> HandleList:
        """The handles not in ``ranges`` (sorted, disjoint ``[first, last]`` pairs), in the same order."""
        if len(ranges) == 0:  # a list, or the (n, 2) array a run reads back
            return self
        firsts = [r[0] for r in ranges]
        builder = HandleBuilder()
        for first, count in self.runs():
            lo, end = first, first + count  # what is left of this run: lo..end-1
            i = max(0, bisect.bisect_right(firsts, lo) - 1)
            while lo < end and i < len(ranges):
                r_first, r_last = ranges[i][0], ranges[i][1]
                if r_last < lo:
                    i += 1
                    continue
                if r_first >= end:
                    break
                if r_first > lo:
                    builder.add_range(lo, r_first - 1)
                lo = max(lo, r_last + 1)
                i += 1
            if lo < end:
                builder.add_range(lo, end - 1)
        builder.ascending = builder.ascending or self._ascending
        return builder.build()

    def nbytes(self) -> int:
        """Bytes held by the runs (two arrays of 8-byte integers)."""
        return (len(self._starts) + len(self._cum)) * 8

    def __repr__(self) -> str:
        shown = []
        for first, last in self.ranges()[:8]:
            shown.append(str(first) if first == last else f"{first}-{last}")
        more = ", ..." if len(self._starts) > 8 else ""
        return f"HandleList({', '.join(shown)}{more}; {len(self):,} handles)"


class SortedHandles:
    """A :class:`HandleList`'s handles ascending, as merged runs: the each-chain-once bookkeeping's view
    (:mod:`gwsnb._engine.coverage`): position of a handle, handle at a position, both by binary search."""

    __slots__ = ("_starts", "_cum")

    def __init__(self, handles: HandleList) -> None:
        if handles._ascending:
            starts, lengths = handles._starts, None
        else:
            import numpy as np

            raw = np.frombuffer(handles._starts, dtype=np.int64)
            order = np.argsort(raw, kind="stable")
            sizes = np.diff(np.frombuffer(handles._cum, dtype=np.int64))
            starts, lengths = _int64_array(raw[order]), _int64_array(sizes[order])
        builder = HandleBuilder()
        for k, first in enumerate(starts):
            count = handles._cum[k + 1] - handles._cum[k] if lengths is None else lengths[k]
            builder.add_range(first, first + count - 1)
        merged = builder.build()
        self._starts, self._cum = merged._starts, merged._cum

    def __len__(self) -> int:
        return self._cum[-1]

    def __getitem__(self, pos: int) -> int:
        run = bisect.bisect_right(self._cum, pos) - 1
        return self._starts[run] + pos - self._cum[run]

    def position(self, handle: int) -> int | None:
        """The position of ``handle`` among the sorted handles, or ``None`` when it is not one of them."""
        run = bisect.bisect_right(self._starts, handle) - 1
        if run < 0:
            return None
        offset = handle - self._starts[run]
        if offset >= self._cum[run + 1] - self._cum[run]:
            return None
        return self._cum[run] + offset

    def ranges(self) -> list[list[int]]:
        """Sorted, merged ``[first, last]`` ranges."""
        cum = self._cum
        return [[first, first + cum[k + 1] - cum[k] - 1] for k, first in enumerate(self._starts)]

    def fingerprint_into(self, digest: Any) -> None:
        """Feed each handle, ascending, as 8 little-endian bytes into ``digest`` (a hashlib object)."""
        for first, last in self.ranges():
            for lo in range(first, last + 1, _CHUNK):
                chunk = array("q", range(lo, min(last + 1, lo + _CHUNK)))
                if sys.byteorder != "little":
                    chunk.byteswap()
                digest.update(chunk.tobytes())


def as_handle_list(handles: Iterable[int]) -> HandleList:
    """``handles`` as a :class:`HandleList` (itself when it is one; a ``range`` of step 1 as one run;
    duplicates dropped, first occurrence kept).  The values are taken as they are (not checked)."""
    if isinstance(handles, HandleList):
        return handles
    if isinstance(handles, range) and handles.step == 1:
        return HandleList.from_range(handles.start, handles.stop - 1)
    builder = HandleBuilder()
    for handle in handles:
        builder.add(handle)
    return builder.build()
