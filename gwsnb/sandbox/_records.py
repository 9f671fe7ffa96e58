"""The sandbox's *current* calling list: the loaded or generated :class:`CallingList` plus what the record
operations changed since (docs/record-operations.md, "OCS record state model").

:class:`CallingList` is built once and never written (its lookups are index arrays over one frame), so
:class:`RecordStore` keeps the changes beside it: a dict of changed or added rows by handle, the chains
held by agents' devices, the queue position of rejected chains, the do-not-call list and the agent of
personal callbacks.  Every read (:meth:`RecordStore.chain`, :meth:`RecordStore.record`,
:meth:`RecordStore.frame`) applies them, so GetChainedRecord, the operations and ``Sandbox.calling_list``
all see one state.  Used from the sandbox's loop thread only.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ._calling_list import TIME_ZONES, CallingList

__all__ = ["RecordStore", "ZONES_BY_NAME", "EXTRA_TIME_ZONES"]

Row = dict[str, Any]

#: time zones the sandbox knows beyond the generator's table (tz_dbid -> (name, offset seconds))
EXTRA_TIME_ZONES: dict[int, tuple[str, int]] = {100: ("GMT", 0)}
#: Genesys time-zone name -> tz_dbid, for UpdateRecord's and AddRecord's ``timeZone``
ZONES_BY_NAME: dict[str, int] = {name: dbid for dbid, (name, _offset) in {**TIME_ZONES, **EXTRA_TIME_ZONES}.items()}

STATUS_READY, STATUS_RETRIEVED, STATUS_UPDATED, STATUS_CANCELLED, STATUS_CHAIN_UPDATED = 1, 2, 3, 5, 7
TYPE_NO_CALL = 7
_FINAL_STATUSES = frozenset({STATUS_UPDATED, STATUS_CANCELLED, STATUS_CHAIN_UPDATED})


def is_final(row: Row) -> bool:
    """A record no changing operation may name again: status Updated, Cancelled or Chain Updated, or type No Call."""
    return row.get("record_status") in _FINAL_STATUSES or row.get("record_type") == TYPE_NO_CALL


def _due(row: Row, now: float) -> bool:
    sched = row.get("dial_sched_time")
    return sched is None or sched <= now


class RecordStore:
    """The calling list as the operations left it (see the module doc)."""

    def __init__(self, base: CallingList, clock: Callable[[], float] = time.time) -> None:
        self.base = base
        self.name = base.name
        self.clock = clock
        self._rows: dict[int, Row] = {}  # changed base rows and added rows, by handle
        self._added: dict[int, list[int]] = {}  # chain_id -> handles added to it
        self._anchor: dict[int, int] = {}  # chain_id -> one base handle of that chain
        self._touched: set[int] = set()  # chain ids with a changed or added record
        self.agent_ids: dict[int, str] = {}  # handle -> agent login (personal callbacks)
        self.holds: dict[int, str] = {}  # chain_id -> device id holding it
        self.hold_sessions: dict[int, str] = {}  # chain_id -> HTTP session id that took it
        self.active: dict[int, int] = {}  # chain_id -> the handle handed out
        self.rescheduled: dict[int, str] = {}  # handle -> device id that rescheduled it (callback pending)
        self.dnc: list[Row] = []
        self._back: dict[int, int] = {}  # chain_id -> queue position after a reject
        self._back_seq = itertools.count(1)
        handles = base.handles
        self._next_handle = int(handles.max()) + 1 if len(handles) else 1
        chain_ids = base.frame["chain_id"]
        self._max_chain_id = int(chain_ids.max()) if len(chain_ids) else 0
        self.version = 0
        self._frame_cache: tuple[int, pd.DataFrame] | None = None
        self._arrays: dict[str, np.ndarray[Any, Any]] | None = None

    def __repr__(self) -> str:
        return f"RecordStore(name={self.name!r}, changed={len(self._rows)}, held={len(self.holds)})"

    # ----- reads ---------------------------------------------------------------------------------

    def __contains__(self, handle: object) -> bool:
        return (isinstance(handle, int) and handle in self._rows) or handle in self.base

    def record(self, handle: int) -> Row | None:
        """The current record (a copy), or None for an unknown handle."""
        row = self._rows.get(handle)
        if row is not None:
            return dict(row)
        return self.base.record(handle)

    def chain(self, handle: int) -> list[Row] | None:
        """The current records of the chain holding ``handle``, in chain_n order (copies), or None.

        A chain no operation touched is the base list's own answer (GetChainedRecord's cost is unchanged).
        """
        rows = self.base.chain(handle)
        if rows is None:
            added = self._rows.get(handle) if isinstance(handle, int) else None
            return None if added is None else self.chain_by_id(int(added["chain_id"]))
        if not self._touched or rows[0]["chain_id"] not in self._touched:
            return rows
        return self.chain_by_id(int(rows[0]["chain_id"]), anchor=handle)

    def chain_by_id(self, chain_id: int, *, anchor: int | None = None) -> list[Row]:
        if anchor is None:
            anchor = self._anchor.get(chain_id)
        base_rows = self.base.chain(anchor) if anchor is not None else None
        rows = [dict(self._rows.get(r["record_handle"], r)) for r in base_rows or ()]
        rows += [dict(self._rows[h]) for h in self._added.get(chain_id, ())]
        rows.sort(key=lambda r: r["chain_n"])
        return rows

    def time_zone(self, tz_dbid: int) -> tuple[str, int]:
        """(GSW_TZ_NAME, GSW_TZ_OFFSET seconds) of a tz_dbid.  :raises KeyError: an unknown id."""
        extra = EXTRA_TIME_ZONES.get(int(tz_dbid))
        return extra if extra is not None else self.base.time_zone(tz_dbid)

    def frame(self) -> pd.DataFrame:
        """The list as it is now: the base frame when nothing changed, else a new frame (cached per change)
        with changed rows, added rows (sorted in by chain_id, chain_n) and, once a personal callback exists,
        an ``agent_id`` column."""
        if not self._rows and not self.agent_ids:
            return self.base.frame
        if self._frame_cache is not None and self._frame_cache[0] == self.version:
            return self._frame_cache[1]
        frame = self.base.frame.copy()
        for handle, row in self._rows.items():
            index = self.base._row_of(handle)
            if index is not None:
                for key in frame.columns:
                    frame.at[index, key] = row.get(key)
        added = [self._rows[h] for hs in self._added.values() for h in hs]
        if added:
            extra = pd.DataFrame(added, columns=frame.columns)
            for key, dtype in frame.dtypes.items():
                with contextlib.suppress(TypeError, ValueError):  # e.g. an int column with a missing value
                    extra[key] = extra[key].astype(dtype)
            frame = pd.concat([frame, extra], ignore_index=True)
            frame = frame.sort_values(["chain_id", "chain_n"], kind="stable", ignore_index=True)
        if self.agent_ids:
            frame["agent_id"] = frame["record_handle"].map(self.agent_ids)
        self._frame_cache = (self.version, frame)
        return frame

    # ----- writes --------------------------------------------------------------------------------

    def update(self, handle: int, **changes: Any) -> None:
        row = self.record(handle)
        assert row is not None, handle
        row.update(changes)
        self._rows[handle] = row
        self._touched.add(int(row["chain_id"]))
        if handle in self.base:
            self._anchor.setdefault(int(row["chain_id"]), handle)
        self.version += 1

    def add(self, row: Row, chain_id: int | None) -> Row:
        """Insert a record (the defaults and fields already in ``row``) into ``chain_id``, or a new chain."""
        if chain_id is None:
            self._max_chain_id += 1
            chain_id, chain_n = self._max_chain_id, 0
        else:
            chain_n = max(r["chain_n"] for r in self.chain_by_id(chain_id)) + 1
        handle = self._next_handle
        self._next_handle += 1
        new = {**row, "record_handle": handle, "chain_id": chain_id, "chain_n": chain_n}
        self._rows[handle] = new
        self._added.setdefault(chain_id, []).append(handle)
        self._touched.add(chain_id)
        self.version += 1
        return dict(new)

    def has_chain(self, chain_id: int) -> bool:
        if chain_id in self._added or chain_id in self._anchor:
            return True
        hit = np.flatnonzero(self._base_arrays()["chain_id"] == chain_id)
        if len(hit):
            self._anchor[chain_id] = int(self._base_arrays()["handle"][hit[0]])
            return True
        return False

    def release(self, chain_id: int, *, to_back: bool = False) -> None:
        """End a hold; with ``to_back`` the chain goes to the back of the hand-out queue (RejectRecord)."""
        self.holds.pop(chain_id, None)
        self.hold_sessions.pop(chain_id, None)
        self.active.pop(chain_id, None)
        if to_back:
            self._back[chain_id] = next(self._back_seq)
        self.version += 1

    def set_agent(self, handle: int, agent: str | None) -> None:
        if agent:
            self.agent_ids[handle] = agent
        else:
            self.agent_ids.pop(handle, None)
        self.version += 1

    # ----- hand-out (GetPreviewRecord) ---------------------------------------------------------------

    def _base_arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        if self._arrays is None:
            frame = self.base.frame
            sched = frame["dial_sched_time"]
            self._arrays = {
                "handle": frame["record_handle"].to_numpy(dtype=np.int64),
                "chain_id": frame["chain_id"].to_numpy(dtype=np.int64),
                "status": frame["record_status"].to_numpy(dtype=np.int64),
                "type": frame["record_type"].to_numpy(dtype=np.int64),
                "sched": sched.to_numpy(dtype=np.float64, na_value=np.nan),
            }
        return self._arrays

    def dialable(self, row: Row, login: str, now: float) -> bool:
        rtype = row.get("record_type")
        if row.get("record_status") != STATUS_READY or not isinstance(rtype, int) or not 2 <= rtype <= 6:
            return False
        if not _due(row, now):
            return False
        return rtype not in (4, 5) or self.agent_ids.get(row["record_handle"]) == login

    def _sort_key(self, row: Row, chain_id: int) -> tuple[int, float, int, int]:
        sched = row.get("dial_sched_time")
        if sched is not None:
            return (0, float(sched), 0, chain_id)
        return (1, 0.0, self._back.get(chain_id, 0), chain_id)

    def _candidates(self, login: str, now: float) -> list[tuple[tuple[int, float, int, int], int]]:
        """(order key, chain_id) of every chain with a possibly dialable record, best first."""
        a = self._base_arrays()
        sched = a["sched"]
        # in the base list no record has an agent, so personal types 4 and 5 are never dialable there
        ok = (a["status"] == STATUS_READY) & np.isin(a["type"], (2, 3, 6)) & (np.isnan(sched) | (sched <= now))
        ok &= ~np.isin(a["handle"], np.fromiter(self._rows, dtype=np.int64, count=len(self._rows)))
        ok &= ~np.isin(a["chain_id"], np.fromiter(self._back, dtype=np.int64, count=len(self._back)))
        keys: dict[int, tuple[int, float, int, int]] = {}
        rows = np.flatnonzero(ok)
        has_sched = ~np.isnan(sched[rows])
        for pos, flag in zip(rows.tolist(), has_sched.tolist(), strict=True):
            chain_id = int(a["chain_id"][pos])
            self._anchor.setdefault(chain_id, int(a["handle"][pos]))
            key = (0, float(sched[pos]), 0, chain_id) if flag else (1, 0.0, 0, chain_id)
            if chain_id not in keys or key < keys[chain_id]:
                keys[chain_id] = key
        for row in self._rows.values():
            if self.dialable(row, login, now):
                chain_id = int(row["chain_id"])
                key = self._sort_key(row, chain_id)
                if chain_id not in keys or key < keys[chain_id]:
                    keys[chain_id] = key
        return sorted((key, chain_id) for chain_id, key in keys.items() if chain_id not in self.holds)

    def pick(self, chain: list[Row], login: str, now: float) -> Row | None:
        """The record of an eligible chain to hand out, or None when the chain is not eligible."""
        for row in chain:
            sched = row.get("dial_sched_time")
            if row.get("record_status") == STATUS_READY and row.get("record_type") in (3, 4, 5, 6) and (
                    sched is not None and sched > now):
                return None  # a pending callback holds the chain back
        dialable = [r for r in chain if self.dialable(r, login, now)]
        scheduled = [r for r in dialable if r.get("dial_sched_time") is not None]
        if scheduled:
            return min(scheduled, key=lambda r: r["dial_sched_time"])
        return dialable[0] if dialable else None

    def eligible_chains(self, login: str) -> Iterator[int]:
        """The chain ids that may be handed out to ``login``, best first (check each with :meth:`pick`)."""
        for _key, chain_id in self._candidates(login, self.clock()):
            if chain_id not in self.holds:
                yield chain_id
