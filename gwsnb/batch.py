"""The outcome of a campaign-scale GetChainedRecord run: :class:`ChainedRecordBatch` and :class:`HandleFailure`.

:meth:`gwsnb.GwsClient.get_chained_records` builds a batch: one entry per requested record handle, in the
order the handles were given.  A handle either succeeded (its :class:`~gwsnb.results.ChainedRecordResult`
is in :attr:`ChainedRecordBatch.results`), failed (a :class:`HandleFailure` in
:attr:`ChainedRecordBatch.failures`, with the error and the number of attempts) or was not finished
because the run was interrupted or stopped by ``fail_fast`` (listed in :attr:`ChainedRecordBatch.skipped`).

A batch is *lean* by default: each result keeps what the frames and the summary need (the record dicts,
the DataEnd, the paired user events' metrics, timings, attempts) but not the raw event list
(``result.events`` is empty); :func:`lean_result` does the trimming.  A lean batch also keeps its results
packed (:class:`ResultPacker`: a few hundred bytes per handle instead of a few KiB of Python dicts) and
unpacks each one when it is read: ``batch.results`` is then a read-only sequence whose items are fresh
objects at each access (a packed result keeps its user events whole).  ``keep_events=True`` keeps
everything, unpacked.  Lean and full batches of the
same run give the same frames.
"""

from __future__ import annotations

import html
import pickle
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ChainedRecordError, GwsStatusError, describe
from .results import CallTimings, ChainedRecordResult, CoveredHandle, Event, _view

if TYPE_CHECKING:
    import os

    import pandas as pd
    from matplotlib.figure import Figure

    from .pace import Load

__all__ = ["ChainedRecordBatch", "HandleFailure", "PackedResult", "PackedResults", "ResultPacker", "lean_outcome",
           "lean_result", "percentiles"]

_PERCENTILES = (50, 90, 99)
_LISTED_PER_REASON = 10


def percentiles(values: Iterable[float], ps: Sequence[int] = _PERCENTILES) -> dict[int, float]:
    """``{p: value}`` for each percentile ``p`` of ``values``, by linear interpolation between the closest
    ranks (numpy's default method), without importing numpy; empty for no values.  Every percentile gwsnb
    shows (batches, the form, runs) comes from here."""
    ordered = sorted(values)
    if not ordered:
        return {}
    out: dict[int, float] = {}
    for p in ps:
        pos = (len(ordered) - 1) * p / 100
        low = int(pos)
        high = min(low + 1, len(ordered) - 1)
        out[p] = ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
    return out


#: the userData keys of a /me/internal user event that :func:`gwsnb.frames.metrics_frame` reads
_USER_EVENT_KEYS = ("GSW_RECORD_HANDLE", "GSW_USER_EVENT", "GSW_CHAIN_ID")
#: the eventProcessing keys it reads
_METRIC_KEYS = ("serverGenerationTimestamp", "nodeProcessingTimeNanos", "serverProcessingTimeTotalMs")
_intern = sys.intern


def _lean_dict(value: Any) -> Any:
    """``value`` rebuilt with interned keys (shared by every record of a run), nested dicts too; other
    values are kept as they are.  A JSON parser gives each message its own key strings: for a list of
    short records the keys are a large part of their memory."""
    if type(value) is not dict:
        return value
    return {(_intern(k) if type(k) is str else k): (_lean_dict(v) if type(v) is dict else v)
            for k, v in value.items()}


def _picked(value: Any, keys: Sequence[str]) -> Any:
    """The ``keys`` of a dict (a non-dict is kept as it is, so the frames count it as malformed)."""
    if not isinstance(value, dict):
        return value
    return {key: value[key] for key in keys if key in value}


def _lean_user_event(event: Event) -> Event:
    """A /me/internal user event with only what :func:`gwsnb.frames.metrics_frame` reads."""
    message = event.message
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, dict):
        return event
    slim: dict[str, Any] = {key: data[key] for key in ("messageType", "referenceId", "deviceId") if key in data}
    if "userData" in data:
        slim["userData"] = _picked(data["userData"], _USER_EVENT_KEYS)
    if "metrics" in data:
        metrics = data["metrics"]
        if isinstance(metrics, dict):
            metrics = {"eventProcessing": _picked(metrics["eventProcessing"], _METRIC_KEYS)} \
                if "eventProcessing" in metrics else {}
        slim["metrics"] = metrics
    return Event(event.received_at, {"data": slim})


def lean_result(result: ChainedRecordResult, *, intern_keys: bool = True) -> ChainedRecordResult:
    """Trim ``result`` in place to what the frames and the summary need, and return it: the raw event
    list is dropped, the user events keep their metrics alone, the records keep every field (their keys
    interned when ``intern_keys``: worth it for a result kept as objects, not for one about to be packed
    or written).  Frames built from the trimmed result equal those of the full one."""
    result.events = []
    result.user_events = [_lean_user_event(e) for e in result.user_events]
    if intern_keys:
        result.records = [_lean_dict(r) for r in result.records]
    return result


def lean_outcome(outcome: ChainedRecordResult | HandleFailure, *,
                 intern_keys: bool = True) -> ChainedRecordResult | HandleFailure:
    """:func:`lean_result` on a result, or on the partial result a failure's error carries."""
    carried = outcome.result if isinstance(outcome, HandleFailure) else outcome
    if isinstance(carried, ChainedRecordResult):
        lean_result(carried, intern_keys=intern_keys)
    return outcome


class _Chunk:
    """Up to :data:`CHUNK_RESULTS` packed results: their tuples while open, one compressed pickle once full."""

    __slots__ = ("items", "blob", "zdict")

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] | None = []
        self.blob: bytes | None = None
        self.zdict: bytes | None = None


#: results pickled and compressed together: the cost of a compressor (and its preset dictionary) and of
#: a pickle call is shared by this many (see docs/engine.md, "Concurrency and per-call cost")
CHUNK_RESULTS = 64


class PackedResult:
    """A :class:`~gwsnb.results.ChainedRecordResult` packed by a :class:`ResultPacker`: the handle, the
    attempts, the record count and ``total_ms`` stay readable; the rest is in a compressed chunk."""

    __slots__ = ("record_handle", "attempts", "record_count", "total_ms", "chunk", "index")

    def __init__(self, record_handle: int, attempts: int, record_count: int, total_ms: float | None,
                 chunk: _Chunk, index: int) -> None:
        self.record_handle = record_handle
        self.attempts = attempts
        self.record_count = record_count
        self.total_ms = total_ms
        self.chunk = chunk
        self.index = index


class ResultPacker:
    """Packs the results of one run and unpacks them again.

    Results are gathered in chunks of :data:`CHUNK_RESULTS`; a full chunk is pickled at once and
    compressed with raw DEFLATE (:mod:`zlib`, level 1) against a preset dictionary, the first chunk's
    pickle: the field names and the values shared by a calling list's records (campaign, list, device,
    time zones) then cost almost nothing, and a handle of the sandbox's default list takes a couple of
    hundred bytes instead of a few KiB of Python dicts (figures: docs/engine.md).  The raw event list is not
    kept (``result.events`` is empty), the user events are.  The data never leaves the process (pickle is
    not used on anything read from outside).  Pack on one thread (the client's loop); unpack from any:
    every unpacked result is a fresh object.
    """

    _WBITS = -15  # raw deflate: no header, no checksum

    def __init__(self) -> None:
        self._zdict: bytes | None = None
        self._open = _Chunk()

    def pack(self, result: ChainedRecordResult) -> PackedResult:
        t = result.timings
        chunk = self._open
        items = chunk.items
        assert items is not None
        packed = PackedResult(result.record_handle, result.attempts, len(result.records), t.total_ms, chunk,
                              len(items))
        items.append((result.reference_id, result.campaign_name, result.application_id, result.device_path,
                      (t.sent, t.http_answered, t.first_event, t.data_end), result.records, result.end,
                      [(e.received_at, e.message) for e in result.user_events]))
        if len(items) >= CHUNK_RESULTS:
            self._seal(chunk)
            self._open = _Chunk()
        return packed

    def _seal(self, chunk: _Chunk) -> None:
        payload = pickle.dumps(chunk.items, protocol=pickle.HIGHEST_PROTOCOL)
        zdict = self._zdict
        packer = (zlib.compressobj(1, zlib.DEFLATED, self._WBITS) if zdict is None else
                  zlib.compressobj(1, zlib.DEFLATED, self._WBITS, 8, zlib.Z_DEFAULT_STRATEGY, zdict))
        chunk.zdict = zdict
        chunk.blob = packer.compress(payload) + packer.flush()
        chunk.items = None  # after the blob is set: a reader finds one or the other
        if zdict is None:
            self._zdict = payload[-32768:]

    def _items(self, chunk: _Chunk) -> list[tuple[Any, ...]]:
        """A fresh copy of the chunk's result tuples."""
        items = chunk.items
        if items is not None:  # still open: a copy, so that nothing kept can be changed through it
            return pickle.loads(pickle.dumps(list(items), protocol=pickle.HIGHEST_PROTOCOL))
        assert chunk.blob is not None
        unpacker = (zlib.decompressobj(self._WBITS) if chunk.zdict is None
                    else zlib.decompressobj(self._WBITS, chunk.zdict))
        return pickle.loads(unpacker.decompress(chunk.blob))

    @staticmethod
    def _result(packed: PackedResult, item: tuple[Any, ...]) -> ChainedRecordResult:
        reference_id, campaign, application_id, device, times, records, end, user_events = item
        return ChainedRecordResult(
            reference_id=reference_id, record_handle=packed.record_handle, campaign_name=campaign,
            application_id=application_id, device_path=device, timings=CallTimings(*times), records=records,
            end=end, events=[], user_events=[Event(at, message) for at, message in user_events],
            attempts=packed.attempts)

    def unpack(self, packed: PackedResult) -> ChainedRecordResult:
        return self._result(packed, self._items(packed.chunk)[packed.index])

    def unpack_many(self, packed: Iterable[PackedResult]) -> Iterable[ChainedRecordResult]:
        """:meth:`unpack` of each, in order, decompressing each chunk once per run of neighbours."""
        chunk: _Chunk | None = None
        items: list[tuple[Any, ...]] = []
        for p in packed:
            if p.chunk is not chunk:
                chunk, items = p.chunk, self._items(p.chunk)
            yield self._result(p, items[p.index])

    def pack_outcome(self, outcome: ChainedRecordResult | HandleFailure) -> PackedResult | HandleFailure:
        """A result packed (its raw event list dropped); a failure kept, its partial result made lean."""
        if isinstance(outcome, HandleFailure):
            return lean_outcome(outcome)  # type: ignore[return-value]  # a HandleFailure stays one
        return self.pack(outcome)


class PackedResults(Sequence[ChainedRecordResult]):
    """The results of a lean batch: a read-only sequence of :class:`~gwsnb.results.ChainedRecordResult`,
    each unpacked when it is read (a fresh object at each access: changing it changes nothing kept)."""

    def __init__(self, packer: ResultPacker, items: list[PackedResult]) -> None:
        self._packer = packer
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return list(self._packer.unpack_many(self._items[index]))
        return self._packer.unpack(self._items[index])

    def __iter__(self) -> Any:
        return iter(self._packer.unpack_many(self._items))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} packed ChainedRecordResult(s)>"

    def record_counts(self) -> list[int]:
        return [p.record_count for p in self._items]

    def total_ms(self) -> list[float | None]:
        return [p.total_ms for p in self._items]


@dataclass(frozen=True)
class HandleFailure:
    """A record handle whose GetChainedRecord failed: the last ``error`` raised and how many ``attempts``
    were made (retries included)."""

    record_handle: int
    error: BaseException
    attempts: int

    @property
    def reason(self) -> str:
        """A short grouping key: the error type, with the server's errorCode / statusCode when there is one."""
        error = self.error
        name = type(error).__name__
        if isinstance(error, ChainedRecordError):
            return f"{name} (errorCode {error.error_code})"
        if isinstance(error, GwsStatusError):
            return f"{name} (statusCode {error.status_code})"
        return name

    @property
    def result(self) -> ChainedRecordResult | None:
        """The partial result of the last attempt (events received so far), when the request was sent."""
        carried = getattr(self.error, "result", None)
        return carried if isinstance(carried, ChainedRecordResult) else None

    def __str__(self) -> str:
        return f"handle {self.record_handle}: {describe(self.error)} (attempts {self.attempts})"


@dataclass
class ChainedRecordBatch:
    """The results of :meth:`~gwsnb.GwsClient.get_chained_records` for many record handles.

    - ``handles``: the requested handles, deduplicated, in the order given;
    - ``results``: the successful :class:`~gwsnb.results.ChainedRecordResult` objects, in handle order
      (each has ``attempts``); in a lean batch (the default) a read-only :class:`PackedResults`
      sequence whose items have no raw ``events``;
    - ``failures``: one :class:`HandleFailure` per failed handle, in handle order;
    - ``covered``: one :class:`~gwsnb.results.CoveredHandle` per handle not called because its record
      came back in another handle's chain (``covered_by``), in handle order; its records are in that
      call's result (see ``docs/engine.md``, "Each chain once"; ``every_handle=True`` calls them all);
    - ``skipped``: handles neither succeeded nor failed (the run was interrupted, or ``fail_fast``
      stopped it; calls in flight at that moment were cancelled and are listed here);
    - ``interrupted``: ``True`` when Ctrl-C (or cancellation) stopped the run: the batch is partial;
    - ``stopped_by``: ``"max_calls"`` when the run's budget (:attr:`gwsnb.Pace.max_calls`) stopped it
      (the handles not done are in ``skipped``), else ``None``;
    - ``calls_sent``: the GetChainedRecord calls the run sent, retries included (``None`` when unknown);
    - ``load``: the :class:`gwsnb.pace.Load` the run put on the server, one entry per call attempt
      (``None`` for a batch not made by a run); :meth:`plot_load` draws it;
    - ``elapsed_s``: wall-clock seconds of the run.

    ``len(batch)`` is the number of requested handles.
    """

    handles: list[int]
    results: Sequence[ChainedRecordResult] = field(default_factory=list)
    failures: list[HandleFailure] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    interrupted: bool = False
    elapsed_s: float = 0.0
    covered: list[CoveredHandle] = field(default_factory=list)
    stopped_by: str | None = None
    calls_sent: int | None = None
    load: Load | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_outcomes(cls, handles: Sequence[int], outcomes: dict[int, Any], *, interrupted: bool = False,
                      elapsed_s: float = 0.0, packer: ResultPacker | None = None) -> ChainedRecordBatch:
        """Sort per-handle outcomes into a batch, in the order of ``handles`` (missing ones are skipped).

        An outcome is a :class:`~gwsnb.results.ChainedRecordResult`, a :class:`HandleFailure`, a
        :class:`~gwsnb.results.CoveredHandle` or, with ``packer``, a :class:`PackedResult` (then
        ``results`` is a :class:`PackedResults`)."""
        batch = cls(list(handles), interrupted=interrupted, elapsed_s=elapsed_s)
        results: list[Any] = []
        for handle in handles:
            outcome = outcomes.get(handle)
            if outcome is None:
                batch.skipped.append(handle)
            elif isinstance(outcome, HandleFailure):
                batch.failures.append(outcome)
            elif isinstance(outcome, CoveredHandle):
                batch.covered.append(outcome)
            else:
                results.append(outcome)
        batch.results = PackedResults(packer, results) if packer is not None else results
        return batch

    # --- summary --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.handles)

    @property
    def ok(self) -> bool:
        """Every handle succeeded (nothing failed, nothing skipped; covered handles count as succeeded)."""
        return not self.failures and not self.skipped

    @property
    def called(self) -> int:
        """Handles called (succeeded or failed); the others were covered or skipped."""
        return len(self.results) + len(self.failures)

    @property
    def record_count(self) -> int:
        if isinstance(self.results, PackedResults):
            return sum(self.results.record_counts())
        return sum(len(r.records) for r in self.results)

    def failures_by_reason(self) -> dict[str, list[int]]:
        """Failed handles grouped by :attr:`HandleFailure.reason`, most frequent reason first."""
        counts = Counter(f.reason for f in self.failures)
        grouped: dict[str, list[int]] = {reason: [] for reason, _ in counts.most_common()}
        for failure in self.failures:
            grouped[failure.reason].append(failure.record_handle)
        return grouped

    def latency_percentiles(self) -> dict[int, float]:
        """p50 / p90 / p99 of the successful calls' ``total_ms`` (POST sent to DataEnd, last attempt);
        empty when no call succeeded."""
        totals = (self.results.total_ms() if isinstance(self.results, PackedResults)
                  else [r.timings.total_ms for r in self.results])
        return percentiles(t for t in totals if t is not None)

    def summary(self) -> str:
        """One line of counts, e.g. for a log or the command line's stderr: ``ok`` counts the handles whose
        records are in (called, or covered by another call's chain), then the handles called and covered."""
        parts = [f"{len(self.handles)} handle(s)", f"ok {len(self.results) + len(self.covered)}",
                 f"failed {len(self.failures)}", f"called {self.called}", f"covered {len(self.covered)}"]
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)}")
        parts.append(f"records {self.record_count}")
        parts.append(f"{self.elapsed_s:.1f} s")
        text = ", ".join(parts)
        if self.stopped_by is not None:
            text += f" (stopped by {self.stopped_by} after {self.calls_sent} call(s))"
        return text + (" (interrupted)" if self.interrupted else "")

    def __repr__(self) -> str:
        return (f"<ChainedRecordBatch handles={len(self.handles)} ok={len(self.results) + len(self.covered)} "
                f"failed={len(self.failures)} skipped={len(self.skipped)} called={self.called} "
                f"covered={len(self.covered)} records={self.record_count}"
                + (" interrupted" if self.interrupted else "")
                + (f" stopped_by={self.stopped_by}" if self.stopped_by else "") + ">")

    def _repr_html_(self) -> str:
        esc = html.escape
        state = " · <b>interrupted</b> (partial)" if self.interrupted else ""
        if self.stopped_by is not None:
            state += f" · <b>stopped by {esc(self.stopped_by)}</b> after {self.calls_sent} call(s) (partial)"
        head = (f"<p><b>GetChainedRecord batch</b> · {len(self.handles)} handle(s) · "
                f"ok {len(self.results) + len(self.covered)} · failed {len(self.failures)} · called {self.called} · "
                f"covered {len(self.covered)} · skipped {len(self.skipped)} · {self.record_count} record(s) · "
                f"{self.elapsed_s:.1f} s{state}</p>")
        pct = self.latency_percentiles()
        latency = ("<p>latency (POST to DataEnd) " + " · ".join(f"p{p} {v:.1f} ms" for p, v in pct.items()) + "</p>"
                   if pct else "")
        rows = []
        for reason, handles in self.failures_by_reason().items():
            shown = ", ".join(str(h) for h in handles[:_LISTED_PER_REASON])
            if len(handles) > _LISTED_PER_REASON:
                shown += ", …"
            rows.append(f"<tr><td>{esc(reason)}</td><td>{len(handles)}</td><td>{esc(shown)}</td></tr>")
        table = ("<table><thead><tr><th>failure reason</th><th>count</th><th>handles</th></tr></thead><tbody>"
                 + "".join(rows) + "</tbody></table>") if rows else ""
        load = f"<p>load: {esc(self.load.text())}</p>" if self.load is not None and len(self.load) else ""
        return f"<div class='gwsnb-batch'>{head}{load}{latency}{self._chart_html()}{table}</div>"

    def _chart_html(self) -> str:
        """The small inline latency chart of :meth:`_repr_html_` (see :mod:`gwsnb._display.render`)."""
        return str(_view("_display.render").latency_chart(self))

    # --- plots ----------------------------------------------------------------------------------
    def plot_latency(self, *, fig: Figure | None = None) -> Figure:
        """Histograms of the client's POST-to-DataEnd time and the server's processing time per event, with
        p50 / p90 / p99 (matplotlib); see :func:`gwsnb.plots.latency`.  Returns the Figure."""
        return _view("plots").latency(self, fig=fig)

    def plot_load(self, *, fig: Figure | None = None) -> Figure:
        """Calls per second, calls in flight (and the concurrency limit) and latency (with its floor) over
        the run (matplotlib); see :func:`gwsnb.plots.load`.  Returns the Figure."""
        return _view("plots").load(self, fig=fig)

    def plot_breakdown(self, *, fig: Figure | None = None) -> Figure:
        """Chain lengths, ``record_status`` and ``call_result`` counts as bar charts (matplotlib); see
        :func:`gwsnb.plots.breakdown`.  Returns the Figure."""
        return _view("plots").breakdown(self, fig=fig)

    # --- frames and export ----------------------------------------------------------------------
    def records_frame(self, **kwargs: Any) -> pd.DataFrame:
        """One row per chained record of the successful calls, in handle order; see
        :func:`gwsnb.frames.records_frame` (keyword arguments such as ``labels`` are passed on)."""
        return _view("frames").records_frame(self.results, **kwargs)

    def metrics_frame(self) -> pd.DataFrame:
        """One row per server event of the successful calls; see :func:`gwsnb.frames.metrics_frame`."""
        return _view("frames").metrics_frame(self.results)

    def calls_frame(self) -> pd.DataFrame:
        """One row per finished handle (successes, failures and covered handles, in handle order; skipped
        handles are not shown) with its status, error, record count, attempts, timings and, for a covered
        handle, ``covered_by``; see :func:`gwsnb.frames.calls_frame`.
        """
        import pandas as pd

        by_handle: dict[int, Any] = {r.record_handle: r for r in self.results}
        by_handle.update((f.record_handle, f) for f in self.failures)
        by_handle.update((c.record_handle, c) for c in self.covered)
        items: list[Any] = []
        attempts: list[int | None] = []
        for handle in self.handles:
            outcome = by_handle.get(handle)
            if outcome is None:
                continue
            items.append(outcome.error if isinstance(outcome, HandleFailure) else outcome)
            attempts.append(None if isinstance(outcome, CoveredHandle) else outcome.attempts)
        frame = _view("frames").calls_frame(items)
        # an error raised before its request was sent carries no result to read attempts from
        frame["attempts"] = pd.array(attempts, dtype="Int64")
        return frame

    def kpis(self, now: Any = None) -> pd.DataFrame:
        """The campaign KPIs of the batch's records, as :meth:`gwsnb.runs.Run.kpis` computes them for a
        run (each record once, its latest reading; ``now`` default: when the last call was sent).

        :raises ImportError: DuckDB is missing (``pip install 'gwsnb[parquet]'``).
        """
        from ._analysis import duck, kpis

        con = duck.connect()
        try:
            # the columns the KPIs read (custom fields may hold lists or dicts, which DuckDB need not see)
            records = self.records_frame()[["reference_id", *kpis.KPI_COLUMNS]]
            frames = {"records": records, "metrics": self.metrics_frame(), "calls": self.calls_frame()}
            duck.register_frames(con, frames)
            return kpis.kpis(con, now=now)
        finally:
            con.close()

    def to_csv(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Write :meth:`records_frame` to a CSV file, values in their written form (ISO 8601 UTC instants,
        ``HH:MM:SS`` windows: :func:`gwsnb.frames.readable`); no index; keyword arguments go to
        ``DataFrame.to_csv``."""
        kwargs.setdefault("index", False)
        _view("frames").readable(self.records_frame()).to_csv(path, **kwargs)

    def to_parquet(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
        """Write :meth:`records_frame` to a Parquet file through pyarrow.

        :raises ImportError: pyarrow is not installed (``pip install gwsnb[parquet]``).
        """
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "ChainedRecordBatch.to_parquet needs pyarrow: pip install gwsnb[parquet]") from exc
        kwargs.setdefault("index", False)
        self.records_frame().to_parquet(path, engine="pyarrow", **kwargs)
