"""Streamed runs: a bulk GetChainedRecord run written to a Parquet dataset as it goes, resumable, and read
back with :func:`open_run`.

``client.get_chained_records(handles, ..., out="runs/q3")`` writes, under ``runs/q3``::

    _run.json               what the run is: campaign, application id, device, the handle set (never rewritten)
    _state.json             the finished handles (as ranges), the committed parts, counts (rewritten per part)
    records/part-000001.parquet   one row per chained record   (columns of gwsnb.frames.records_frame)
    metrics/part-000001.parquet   one row per server event     (columns of gwsnb.frames.metrics_frame)
    calls/part-000001.parquet     one row per finished handle  (columns of ChainedRecordBatch.calls_frame)
    load/session-<UTC>.parquet    one row per call attempt of one session (gwsnb.pace.Load.frame), written
                                  when the session ends; a resumed run adds one (:meth:`Run.load_frame`)

A handle not called because its record came back in another call's chain (``every_handle=False``, the
default) is finished too: its row in the calls table has status ``covered`` and ``covered_by``, and it is
written in the same part as, or an earlier part than, the call that covered it; so a resumed run neither
calls it again nor loses the mark (see ``docs/engine.md``, "Each chain once").

Each table is one directory of part files with one schema (a Hive-style table without partition
columns: ``spark.read.parquet("runs/q3/records")``, ``pyarrow.dataset.dataset("runs/q3/records")`` and
DuckDB's ``read_parquet('runs/q3/records/*.parquet')`` read it as is).  A part is written every
``part_handles`` finished handles or ``part_seconds`` seconds, each file to a hidden temporary name
first and then renamed (``os.replace``), and only then recorded in ``_state.json`` (also replaced
atomically).  So a process killed at any instant leaves committed parts whole; a part file not listed in
``_state.json`` is an orphan of the interrupted commit and is deleted when the run is resumed, and its
handles are called again: every handle ends up in the dataset exactly once.

The schema of a table is fixed by its first part; later parts are cast to it (a ``userData`` key first
seen in a later part is left out of the records table, with a warning).  The parts are built straight into
Arrow, without pandas (``gwsnb/_parts.py``), with the Arrow types the frames' dtypes map to; they carry
no pandas metadata (parts written before issue 26 do), and :class:`Run` reads both kinds to the frames'
dtypes.  Failed handles are finished
(their error is in the calls table) and are not called again on resume.

A run read back answers SQL (:meth:`Run.sql`, DuckDB views over the committed parts) and gives the
campaign's KPIs (:meth:`Run.kpis`); :func:`gwsnb.compare_runs` compares two runs (docs/campaign-progress.md).

This module needs pyarrow (``pip install gwsnb[parquet]``; the same extra brings DuckDB).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .batch import HandleFailure, PackedResult, ResultPacker, percentiles
from .errors import InvalidParameterError
from .handles import HandleBuilder, HandleList, as_handle_list
from .results import ChainedRecordResult, CoveredHandle

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from matplotlib.figure import Figure

    from .pace import Load

__all__ = ["Run", "RunWriter", "open_run", "PART_HANDLES", "PART_SECONDS"]

LOGGER = logging.getLogger("gwsnb.runs")

FORMAT = "gwsnb-run"
VERSION = 1
TABLES = ("records", "metrics", "calls")
#: the folder of the load logs, one file per session (not a table of the run's handles: never resumed over)
LOAD_FOLDER = "load"
RUN_FILE = "_run.json"
STATE_FILE = "_state.json"
#: a part is written every this many finished handles ...
PART_HANDLES = 500  # small parts keep a streamed run under 200 MiB of RSS (docs/engine.md)
#: ... or this many seconds, whichever comes first
PART_SECONDS = 30.0
_LISTED = 10
#: a column of every part of every table: when the run began (its ``created``), so that the runs of a
#: history read as one table, by any engine, carry their snapshot's time (docs/history.md); the frames
#: leave it out
SNAPSHOT_COLUMN = "snapshot_time"


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise ImportError("streamed runs (out=, open_run) need pyarrow: pip install gwsnb[parquet]") from exc


# --------------------------------------------------------------------------- handle ranges
def to_ranges(handles: Iterable[int]) -> list[list[int]]:
    """Sorted, merged ``[first, last]`` ranges of ``handles``."""
    out: list[list[int]] = []
    for h in sorted(set(handles)):
        if out and h == out[-1][1] + 1:
            out[-1][1] = h
        else:
            out.append([h, h])
    return out


def merge_ranges(a: Sequence[Sequence[int]], b: Sequence[Sequence[int]]) -> list[list[int]]:
    """The union of two range lists, merged (adjacent ranges joined)."""
    out: list[list[int]] = []
    for first, last in sorted([*map(list, a), *map(list, b)]):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return out


def in_ranges(ranges: Sequence[Sequence[int]]) -> Any:
    """A membership test for sorted ranges (binary search)."""
    import bisect

    starts = [r[0] for r in ranges]

    def contains(h: int) -> bool:
        i = bisect.bisect_right(starts, h) - 1
        return i >= 0 and ranges[i][0] <= h <= ranges[i][1]

    return contains


def _fingerprint(handles: Sequence[int]) -> str:
    """SHA-256 of the handles ascending, 8 little-endian bytes each (hashed run by run, never listed)."""
    digest = hashlib.sha256()
    as_handle_list(handles).sorted().fingerprint_into(digest)
    return digest.hexdigest()


# --------------------------------------------------------------------------- files
def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _read_json_ranges(path: Path, key: str) -> Any:
    """The JSON object of ``path`` (as :func:`_write_json` wrote it), its list of ranges ``key`` read as an
    ``(n, 2)`` int64 array rather than Python lists.

    A run of every chain's head once holds one range per handle: parsed by ``json``, the ranges of
    435,000 chains are about 45 MiB of lists and ints per file, two files per run, which every
    :func:`open_run` (and so ``kpis`` and ``compare_runs``, issue 26) paid; as an array they are 7 MiB.
    Text that is not a plain list of integer pairs falls back to ``json``.
    """
    import numpy as np

    text = path.read_text(encoding="utf-8")
    marker = f'"{key}":['
    start = text.find(marker)
    if start < 0 or text.find(marker, start + 1) >= 0:
        return json.loads(text)
    begin = start + len(marker) - 1  # the list's "["
    end = text.find("]]", begin) + 2 if text.startswith("[[", begin) else begin + 2
    inner = text[begin:end]
    obj = json.loads(text[:begin] + "[]" + text[end:])
    if inner == "[]":
        obj[key] = np.empty((0, 2), dtype=np.int64)
        return obj
    body = inner[2:-2]  # "a,b],[c,d"
    if body.strip("0123456789,[]-") or body.count(",") % 2 == 0:
        return json.loads(text)  # not plain pairs of integers: as json reads it
    values = np.fromstring(body.replace("],[", ","), dtype=np.int64, sep=",")  # no list of str on the way
    obj[key] = values.reshape(-1, 2)
    return obj


def _part_files(root: Path, table: str, parts: Sequence[str]) -> list[Path]:
    files = (root / table / f"{name}.parquet" for name in parts)
    return [f for f in files if f.exists()]


# --------------------------------------------------------------------------- frames of a part
def part_frames(outcomes: Sequence[ChainedRecordResult | HandleFailure | CoveredHandle]) -> dict[str, pd.DataFrame]:
    """The records, metrics and calls frames of some outcomes, as :class:`~gwsnb.ChainedRecordBatch` builds
    them (the calls frame's ``attempts`` taken from each outcome; none for a covered handle)."""
    import pandas as pd

    from . import frames

    results = [o for o in outcomes if isinstance(o, ChainedRecordResult)]
    calls = frames.calls_frame([o.error if isinstance(o, HandleFailure) else o for o in outcomes])
    calls["attempts"] = pd.array([None if isinstance(o, CoveredHandle) else o.attempts for o in outcomes],
                                 dtype="Int64")
    return {"records": frames.records_frame(results), "metrics": frames.metrics_frame(results), "calls": calls}


def _conform(table: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    """``table`` with exactly ``schema``'s columns and types (missing ones null)."""
    import pyarrow as pa

    extra = [name for name in table.column_names if name not in schema.names]
    if extra:
        LOGGER.warning("%s: column(s) %s not in the run's schema (fixed by its first part) are left out",
                       where, ", ".join(extra))
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(len(table), field.type))
            continue
        column = table.column(field.name)
        if not column.type.equals(field.type):
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                LOGGER.warning("%s: column %s does not fit the run's type %s: left empty", where, field.name,
                               field.type)
                column = pa.nulls(len(table), field.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _with_snapshot_time(table: pa.Table, when: _dt.datetime) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    from ._parts import fixed_array

    if when.tzinfo is None:  # read as UTC, as pyarrow reads a naive datetime into a UTC timestamp
        when = when.replace(tzinfo=_dt.timezone.utc)
    micros = (when - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)) // _dt.timedelta(microseconds=1)
    column = fixed_array(pa.timestamp("us", tz="UTC"), np.full(len(table), micros, dtype=np.int64))
    return table.append_column(SNAPSHOT_COLUMN, column)


# --------------------------------------------------------------------------- writer
class RunWriter:
    """Writes a streamed run's parts from its own thread (see the module docstring for the layout).

    :meth:`open` creates or resumes the run at a path; :meth:`add` takes one outcome (from the client's
    loop thread; it only appends to a buffer); :meth:`close` writes the last part and stops the thread.
    """

    def __init__(self, root: Path, meta: dict[str, Any], state: dict[str, Any], *,
                 part_handles: int | None = None, part_seconds: float | None = None) -> None:
        self.root = root
        self.meta = meta
        self.state = state
        self.part_handles = part_handles if part_handles is not None else PART_HANDLES
        self.part_seconds = part_seconds if part_seconds is not None else PART_SECONDS
        self.schemas: dict[str, pa.Schema] = {}
        for table in TABLES:
            files = _part_files(root, table, state["parts"])
            if files:
                import pyarrow.parquet as pq

                self.schemas[table] = pq.read_schema(files[0])
        created = _read_json(root / RUN_FILE).get("created")
        self.snapshot_time = _dt.datetime.fromisoformat(created) if created else None
        self.error: BaseException | None = None
        #: packs the outcomes while they wait in the buffer (a few hundred bytes each)
        self.packer = ResultPacker()
        self._buffer: list[ChainedRecordResult | PackedResult | HandleFailure | CoveredHandle] = []
        self._cond = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    # --- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], handles: Sequence[int], *, campaign_name: str,
             application_id: int, device_path: str, part_handles: int | None = None,
             part_seconds: float | None = None) -> RunWriter:
        """Create the run at ``path``, or resume the one there (same campaign, application id, device
        and handle set), deleting what an interrupted commit left behind.  A part is written every
        ``part_handles`` finished handles or ``part_seconds`` seconds (default: the module's
        :data:`PART_HANDLES` and :data:`PART_SECONDS`).

        :raises InvalidParameterError: (field ``out``) ``path`` holds another run, or something that is
            not a run, or cannot be created.
        :raises ImportError: pyarrow is missing.
        """
        _require_pyarrow()
        root = Path(path)
        meta = {"format": FORMAT, "version": VERSION, "campaign_name": campaign_name,
                "application_id": application_id, "device_path": device_path,
                "handle_count": len(handles), "handles_sha256": _fingerprint(handles)}
        try:
            if (root / RUN_FILE).exists():
                state = cls._resume(root, meta)
            else:
                state = cls._create(root, meta, handles)
        except OSError as exc:
            raise InvalidParameterError("out", os.fspath(path), exc.strerror or str(exc)) from None
        return cls(root, meta, state, part_handles=part_handles, part_seconds=part_seconds)

    @staticmethod
    def _create(root: Path, meta: dict[str, Any], handles: Sequence[int]) -> dict[str, Any]:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise InvalidParameterError("out", os.fspath(root), "exists and is not an empty folder nor a gwsnb run")
        for table in TABLES:
            (root / table).mkdir(parents=True, exist_ok=True)
        # to the microsecond: two snapshots begun in one second stay apart (their snapshot_time)
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")
        _write_json(root / RUN_FILE, {**meta, "created": created,
                                      "handles": as_handle_list(handles).sorted().ranges()})
        state = {"parts": [], "done": [], "ok": 0, "failed": 0}
        _write_json(root / STATE_FILE, state)
        return state

    @staticmethod
    def _resume(root: Path, meta: dict[str, Any]) -> dict[str, Any]:
        try:
            stored = _read_json(root / RUN_FILE)
            state = _read_json(root / STATE_FILE)
        except (OSError, ValueError) as exc:
            raise InvalidParameterError("out", os.fspath(root), f"holds an unreadable gwsnb run: {exc}") from None
        if stored.get("format") != FORMAT or stored.get("version") != VERSION:
            raise InvalidParameterError("out", os.fspath(root), "is not a gwsnb run of this version")
        different = [key for key in ("campaign_name", "application_id", "device_path", "handles_sha256")
                     if stored.get(key) != meta[key]]
        if different:
            names = ", ".join("handles" if key == "handles_sha256" else key for key in different)
            raise InvalidParameterError(
                "out", os.fspath(root),
                f"holds a run with other parameters ({names} differ: it is campaign "
                f"{stored.get('campaign_name')!r}, application_id {stored.get('application_id')}, "
                f"{stored.get('handle_count')} handles); resume it with the same ones, or choose another folder")
        committed = {f"{name}.parquet" for name in state["parts"]}
        for table in TABLES:
            folder = root / table
            folder.mkdir(exist_ok=True)
            for file in folder.iterdir():
                if file.name not in committed:  # a temporary file, or a part its commit did not record
                    LOGGER.info("resuming %s: removing %s (not committed)", root, file)
                    file.unlink()
        return dict(state)

    # --- what is left ---------------------------------------------------------------------------
    def remaining(self, handles: Sequence[int]) -> HandleList:
        """``handles`` not finished in a committed part, in the given order (as runs, never a list)."""
        return as_handle_list(handles).without(self.state["done"])

    # --- writing --------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="gwsnb-run-writer", daemon=True)
        self._thread.start()

    def add(self, outcome: ChainedRecordResult | PackedResult | HandleFailure | CoveredHandle) -> None:
        with self._cond:
            self._buffer.append(outcome)
            if len(self._buffer) >= self.part_handles:
                self._cond.notify()

    #: the session's load log (set by the client), written to ``load/`` by :meth:`close`
    load: Load | None = None

    def close(self) -> None:
        """Write what is buffered and stop the writer thread; then the session's load log.

        :raises OSError: a part could not be written (the run can be resumed from the last committed part).
        """
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        else:
            self._flush(self._take())
        self._write_load()
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def _write_load(self) -> None:
        """The session's load log as ``load/session-<UTC>.parquet`` (once; a failure to write it is logged,
        not raised: the run's tables are what matters)."""
        load, self.load = self.load, None
        if load is None or not len(load):
            return
        from . import _parts

        folder = self.root / LOAD_FOLDER
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        path = folder / f"session-{stamp}.parquet"
        tmp = folder / f".{path.name}.tmp"
        try:
            folder.mkdir(exist_ok=True)
            _parts.write_load(load, tmp)  # from the log's arrays, a slice at a time: no frame of it
            os.replace(tmp, path)
        except OSError as exc:
            LOGGER.warning("run %s: the load log was not written: %s", self.root, exc)

    def _take(self) -> list[ChainedRecordResult | PackedResult | HandleFailure | CoveredHandle]:
        taken, self._buffer = self._buffer, []
        return taken

    def _loop(self) -> None:
        deadline = time.monotonic() + self.part_seconds
        while True:
            with self._cond:
                while not self._closing and len(self._buffer) < self.part_handles:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                closing = self._closing
                taken = self._take()
            deadline = time.monotonic() + self.part_seconds
            if self.error is None:
                try:
                    self._flush(taken)
                except Exception as exc:  # disk full, permissions: reported by close()
                    LOGGER.error("writing a part of %s failed: %s", self.root, exc)
                    self.error = exc
            if closing:
                return

    def _flush(self, packed: list[ChainedRecordResult | PackedResult | HandleFailure | CoveredHandle]) -> None:
        """Write one part (each table's file atomically), then commit it in ``_state.json``."""
        import pyarrow.parquet as pq

        from . import _parts

        if not packed:
            return
        outcomes = [self.packer.unpack(o) if isinstance(o, PackedResult) else o for o in packed]
        del packed
        name = f"part-{len(self.state['parts']) + 1:06d}"
        for table, data in _parts.part_tables(outcomes).items():  # built without pandas (docs/performance.md)
            if not data.num_rows and table != "calls":
                continue
            schema = self.schemas.get(table)
            if self.snapshot_time is not None and (schema is None or SNAPSHOT_COLUMN in schema.names):
                data = _with_snapshot_time(data, self.snapshot_time)  # not into a run begun without it
            if schema is None:
                self.schemas[table] = data.schema
            else:
                data = _conform(data, schema, f"{self.root}/{table}/{name}")
            final = self.root / table / f"{name}.parquet"
            tmp = final.with_name(f".{final.name}.tmp")
            with open(tmp, "wb") as f:
                pq.write_table(data, f, compression="zstd")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        ok = sum(isinstance(o, ChainedRecordResult) for o in outcomes)
        covered = sum(isinstance(o, CoveredHandle) for o in outcomes)
        state = self.state
        state = {"parts": [*state["parts"], name],
                 "done": merge_ranges(state["done"], to_ranges(self._handle(o) for o in outcomes)),
                 "ok": state["ok"] + ok, "failed": state["failed"] + len(outcomes) - ok - covered,
                 "covered": state.get("covered", 0) + covered}
        _write_json(self.root / STATE_FILE, state)
        self.state = state

    @staticmethod
    def _handle(outcome: ChainedRecordResult | HandleFailure | PackedResult | CoveredHandle) -> int:
        return outcome.record_handle

    def run(self, *, interrupted: bool = False, elapsed_s: float | None = None, stopped_by: str | None = None,
            calls_sent: int | None = None, load: Load | None = None) -> Run:
        """The run as written so far."""
        run = Run(self.root, interrupted=interrupted, elapsed_s=elapsed_s)
        run.stopped_by, run.calls_sent, run.load = stopped_by, calls_sent, load
        return run


# --------------------------------------------------------------------------- reading
class Run:
    """A streamed run read back from its folder (see :func:`open_run`).

    ``done`` (handles that succeeded: ``called`` with success, or ``covered`` by another call's chain),
    ``failed``, ``remaining`` (neither: not run yet, or lost in flight), ``total``; :meth:`records_frame`, :meth:`metrics_frame`, :meth:`calls_frame` load the
    tables (``columns=`` and ``filters=`` are pushed down to pyarrow); :meth:`failures` lists the
    failed handles with their errors.  ``interrupted``, ``elapsed_s``, ``stopped_by`` (``"max_calls"`` when the
    pace's budget stopped it: call again with the same ``out`` to go on) and ``calls_sent`` are set on the
    run returned by ``get_chained_records(out=...)``.
    """

    stopped_by: str | None = None
    calls_sent: int | None = None
    #: the load this session put on the server (:class:`gwsnb.pace.Load`), on the run returned by
    #: ``get_chained_records(out=...)``; every session's, written to ``load/``: :meth:`load_frame`
    load: Load | None = None

    def __init__(self, path: str | os.PathLike[str], *, interrupted: bool = False,
                 elapsed_s: float | None = None) -> None:
        _require_pyarrow()
        self.path = Path(path)
        try:
            self.meta = _read_json_ranges(self.path / RUN_FILE, "handles")
            self.state = _read_json_ranges(self.path / STATE_FILE, "done")
        except (OSError, ValueError) as exc:
            raise InvalidParameterError("path", os.fspath(path), f"is not a readable gwsnb run: {exc}") from None
        if self.meta.get("format") != FORMAT:
            raise InvalidParameterError("path", os.fspath(path), "is not a gwsnb run")
        self.interrupted = interrupted
        self.elapsed_s = elapsed_s

    # --- counts ---------------------------------------------------------------------------------
    @property
    def campaign_name(self) -> str:
        return str(self.meta["campaign_name"])

    @property
    def application_id(self) -> int:
        return int(self.meta["application_id"])

    @property
    def total(self) -> int:
        return int(self.meta["handle_count"])

    @property
    def done(self) -> int:
        """Handles whose records are in the run: called with success, or covered."""
        return int(self.state["ok"]) + self.covered

    @property
    def covered(self) -> int:
        """Handles not called because their record came back in another call's chain."""
        return int(self.state.get("covered", 0))

    @property
    def called(self) -> int:
        """Handles called (succeeded or failed)."""
        return int(self.state["ok"]) + self.failed

    @property
    def failed(self) -> int:
        return int(self.state["failed"])

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed

    @property
    def ok(self) -> bool:
        """Every handle succeeded."""
        return self.done == self.total

    def __len__(self) -> int:
        return self.total

    def handles(self) -> HandleList:
        """Every handle of the run, ascending (a :class:`~gwsnb.handles.HandleList`: ``list()`` for a list)."""
        return self._ranges_list(self.meta["handles"])

    def remaining_handles(self) -> HandleList:
        """The handles not finished yet, ascending (a :class:`~gwsnb.handles.HandleList`)."""
        return self.handles().without(self.state["done"])

    @staticmethod
    def _ranges_list(ranges: Sequence[Sequence[int]]) -> HandleList:
        builder = HandleBuilder()
        for first, last in ranges:
            builder.add_range(first, last)
        return builder.build()

    # --- tables ---------------------------------------------------------------------------------
    def _table(self, table: str, columns: Sequence[str] | None, filters: Any) -> pd.DataFrame:
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        from . import _parts, frames

        files = _part_files(self.path, table, self.state["parts"])
        if not files:
            empty = {"records": lambda: frames.records_frame([]), "metrics": lambda: frames.metrics_frame([]),
                     "calls": lambda: part_frames([])["calls"]}[table]()
            return empty[list(columns)] if columns is not None else empty
        dataset = ds.dataset([os.fspath(f) for f in files], schema=pq.read_schema(files[0]), format="parquet")
        expression = filters
        if isinstance(filters, list):
            expression = pq.filters_to_expression(filters)
        data = dataset.to_table(columns=list(columns) if columns is not None else None, filter=expression)
        if columns is None and SNAPSHOT_COLUMN in data.column_names:  # the same on every row: a history's
            data = data.drop_columns([SNAPSHOT_COLUMN])
        frame = _parts.to_frame(data)  # the frames' dtypes, for parts written with or without pandas metadata
        if table == "calls" and columns is None:  # a run written before the later columns existed
            import pandas as pd

            for name in frames.CALLS_COLUMNS:
                if name not in frame.columns:
                    dtype = "Int64" if name == "covered_by" else "Float64"
                    frame[name] = pd.array([None] * len(frame), dtype=dtype)
            frame = frame[list(frames.CALLS_COLUMNS)]
        return frame

    def records_frame(self, columns: Sequence[str] | None = None, filters: Any = None) -> pd.DataFrame:
        """The records table (the columns of :func:`gwsnb.frames.records_frame`), parts in the order they
        were written.  ``columns``: load only these; ``filters``: a pyarrow expression or a list of
        ``(column, op, value)`` tuples (``[("call_result", "==", "Answer")]``), applied while reading."""
        return self._table("records", columns, filters)

    def metrics_frame(self, columns: Sequence[str] | None = None, filters: Any = None) -> pd.DataFrame:
        """The metrics table (the columns of :func:`gwsnb.frames.metrics_frame`); see :meth:`records_frame`."""
        return self._table("metrics", columns, filters)

    def calls_frame(self, columns: Sequence[str] | None = None, filters: Any = None) -> pd.DataFrame:
        """The calls table, one row per finished handle (the columns of
        :meth:`gwsnb.ChainedRecordBatch.calls_frame`); see :meth:`records_frame`."""
        return self._table("calls", columns, filters)

    def failures(self) -> pd.DataFrame:
        """The failed handles: ``record_handle``, ``error``, ``attempts`` (rows of the calls table)."""
        return self.calls_frame(columns=["record_handle", "error", "attempts"], filters=[("status", "==", "error")])

    def _failure_rows(self, limit: int) -> list[tuple[int, str]]:
        """The first ``limit`` failed handles with their errors, read part by part with ``ParquetFile``
        (the command line's report: ``pyarrow.dataset`` and the frames would load pandas for it).  The rows
        are filtered in Python: pyarrow's compute filter, its scalars and ``to_numpy`` import pandas too."""
        import pyarrow.parquet as pq

        rows: list[tuple[int, str]] = []
        for file in _part_files(self.path, "calls", self.state["parts"]):
            with pq.ParquetFile(file) as part:
                table = part.read(columns=["record_handle", "status", "error"])
            for handle, status, error in zip(*(table.column(n).to_pylist() for n in table.column_names),
                                             strict=True):
                if status == "error":
                    rows.append((handle, error))
                    if len(rows) >= limit:
                        return rows
        return rows

    def latency_percentiles(self) -> dict[int, float]:
        """p50 / p90 / p99 of the successful calls' ``total_ms`` (POST sent to DataEnd)."""
        frame = self.calls_frame(columns=["total_ms"], filters=[("status", "==", "ok")])
        return percentiles(float(v) for v in frame["total_ms"].dropna())

    # --- SQL and KPIs -----------------------------------------------------------------------------
    def duckdb(self, prefix: str = "", con: Any = None) -> Any:
        """A DuckDB connection (``con``, or a new one) with this run's tables as the views
        ``<prefix>records``, ``<prefix>metrics`` and ``<prefix>calls`` over its committed parts (read in
        place), and ``<prefix>latest``: each record once, its latest reading (docs/campaign-progress.md).

        :raises ImportError: DuckDB is missing (``pip install 'gwsnb[parquet]'``).
        """
        from ._analysis import duck

        con = con if con is not None else duck.connect()
        files = {table: _part_files(self.path, table, self.state["parts"]) for table in TABLES}
        empty = {table: self._table(table, None, None) for table in TABLES if not files[table]}
        duck.register_parts(con, files, empty, prefix)
        return con

    def sql(self, query: str) -> pd.DataFrame:
        """The answer of a DuckDB SQL ``query`` over the run as a DataFrame: ``records``, ``metrics`` and
        ``calls`` are the run's tables (one row per record per call, per server event, per handle), and
        ``latest`` the records once each (their latest reading).  Nothing but the answer is loaded::

            run.sql("select call_result, count(*) as n from records group by 1 order by n desc")

        :raises ImportError: DuckDB is missing (``pip install 'gwsnb[parquet]'``).
        :raises duckdb.Error: the query is not valid (DuckDB's message names the problem).
        """
        con = self.duckdb()
        try:
            return con.execute(query).df()
        finally:
            con.close()

    def kpis(self, now: Any = None) -> pd.DataFrame:
        """The campaign KPIs of the run, one row per measure (``group``, ``measure``, ``count``, ``share``,
        ``definition``): records and chains, counts by record_status, call_result and record_type, list
        penetration, finished records, ready now against scheduled later, callbacks due per hour over the
        next 24 hours, do-not-call records, the attempts distribution.  Each record counts once, at its
        latest reading in the run.  ``now``: the instant "ready now" and "due" are measured against (an
        aware datetime, ISO 8601 text with its zone, or epoch seconds; default: when the run's last call
        was sent).  Definitions: docs/campaign-progress.md.

        :raises InvalidParameterError: (field ``now``) not an instant with its zone.
        :raises ImportError: DuckDB is missing (``pip install 'gwsnb[parquet]'``).
        """
        from ._analysis import kpis

        con = self.duckdb()
        try:
            return kpis.kpis(con, now=now)
        finally:
            con.close()

    # --- display --------------------------------------------------------------------------------
    def summary(self) -> str:
        parts = [f"{self.total} handle(s)", f"ok {self.done}", f"failed {self.failed}", f"called {self.called}",
                 f"covered {self.covered}"]
        if self.remaining:
            parts.append(f"remaining {self.remaining}")
        if self.elapsed_s is not None:
            parts.append(f"{self.elapsed_s:.1f} s")
        if self.stopped_by is not None:
            parts.append(f"stopped by {self.stopped_by} after {self.calls_sent} call(s)")
        return ", ".join(parts) + (" (interrupted)" if self.interrupted else "")

    def __repr__(self) -> str:
        return (f"<Run {os.fspath(self.path)!r} handles={self.total} ok={self.done} failed={self.failed} "
                f"called={self.called} covered={self.covered} remaining={self.remaining}" + (" interrupted" if self.interrupted else "") + ">")

    def _repr_html_(self) -> str:
        esc = html.escape
        head = (f"<p><b>GetChainedRecord run</b> <code>{esc(os.fspath(self.path))}</code> · campaign "
                f"{esc(self.campaign_name)} · {self.total} handle(s) · done {self.done} · failed {self.failed} · "
                f"called {self.called} · covered {self.covered} · "
                f"remaining {self.remaining} · {len(self.state['parts'])} part(s)"
                + (" · <b>interrupted</b>" if self.interrupted else "")
                + (f" · <b>stopped by {esc(self.stopped_by)}</b> after {self.calls_sent} call(s) (resumable)"
                   if self.stopped_by else "") + "</p>")
        pct = self.latency_percentiles()
        latency = ("<p>latency (POST to DataEnd) " + " · ".join(f"p{p} {v:.1f} ms" for p, v in pct.items())
                   + "</p>" if pct else "")
        rows = ""
        if self.failed:
            failures = self.failures()
            grouped = failures.groupby(failures["error"].str.split(":").str[0].fillna("?"), sort=False)
            for reason, group in sorted(grouped, key=lambda kv: -len(kv[1])):
                shown = ", ".join(str(h) for h in group["record_handle"].head(_LISTED))
                more = ", …" if len(group) > _LISTED else ""
                rows += f"<tr><td>{esc(str(reason))}</td><td>{len(group)}</td><td>{esc(shown)}{more}</td></tr>"
            rows = ("<table><thead><tr><th>failure reason</th><th>count</th><th>handles</th></tr></thead>"
                    f"<tbody>{rows}</tbody></table>")
        load = f"<p>load: {esc(self.load.text())}</p>" if self.load is not None and len(self.load) else ""
        return f"<div class='gwsnb-run'>{head}{load}{latency}{rows}</div>"

    def load_frame(self) -> pd.DataFrame | None:
        """One row per call attempt of every session of the run, oldest session first (the columns of
        :meth:`gwsnb.pace.Load.frame`), from ``load/``; ``None`` when none was written (a run made before
        the load logs, or whose sessions made no call)."""
        files = sorted((self.path / LOAD_FOLDER).glob("session-*.parquet"))
        if not files:
            return None
        import pandas as pd
        import pyarrow.parquet as pq

        from .pace import CALL_KINDS

        frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
        frame["kind"] = pd.Categorical(frame["kind"].astype(str), categories=list(CALL_KINDS))
        return frame

    def plot_load(self, *, fig: Figure | None = None) -> Figure:
        """Calls per second, calls in flight and latency over the run (matplotlib); see
        :func:`gwsnb.plots.load` (from the load logs in ``load/``, else the calls table).  Returns the Figure."""
        from . import plots

        return plots.load(self, fig=fig)


def open_run(path: str | os.PathLike[str]) -> Run:
    """Open a streamed run (the folder given as ``out=`` to :meth:`gwsnb.GwsClient.get_chained_records`).

    :raises InvalidParameterError: (field ``path``) the folder is not a gwsnb run.
    :raises ImportError: pyarrow is missing (``pip install gwsnb[parquet]``).
    """
    return Run(path)

