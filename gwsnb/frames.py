"""Analysis-ready pandas DataFrames from GetChainedRecord results and raw CometD messages.

Four builders, each taking a mix of :class:`~gwsnb.results.ChainedRecordResult` objects and raw messages
(``{"channel", "data"}`` dicts or :class:`~gwsnb.results.Event` objects) and returning one frame whose
standard columns and dtypes do not depend on the mix (an empty input gives the same columns):

- :func:`records_frame`: one row per chained record;
- :func:`metrics_frame`: one row per server event (``/me/internal`` DeviceUserEventMessage) with timings;
- :func:`events_frame`: one row per raw message;
- :func:`calls_frame`: one row per call, from results and from the errors the client raised.

All four read their input through one iterator (:func:`_walk`): a result gives its records, events or
user events (or itself, for :func:`calls_frame`), an :class:`~gwsnb.results.Event` gives its message and
receipt time, anything else is passed on for the builder to read or skip.

The column contract (names, dtypes and units of every column, and how each is written to CSV, JSON and
Parquet) is in ``docs/frames.md``.  In short: instants are ``datetime64[ns, UTC]``, time-of-day windows
``timedelta64[ns]`` since midnight, durations and offsets are numbers whose unit ends the column name
(``*_ms``, ``tz_offset_min``), identifiers and counts are ``Int64``, text is ``string``, code columns are
Categorical labels beside their ``*_code``.  :func:`readable` gives the written form (ISO 8601 UTC,
``HH:MM:SS``) that the exports use; :func:`to_json` writes JSON that other tools read back.

Tolerance: payload content never makes a builder raise. A missing field is a missing value; a value of
the wrong type becomes missing and is counted (one :class:`FrameWarning` per call lists field and
count; ``df.attrs["invalid"]`` holds the counts); an item that is not the kind of message a builder
reads (for example a ChainedRecordsDataEnd given to :func:`records_frame`) is skipped and counted in
``df.attrs["skipped"]``.

Accepted encodings: integer columns take JSON integers, integral floats (``3.0``) and decimal strings
(``"3"``, since attached data often travels as strings); string columns take strings and integers.

The columns are built one key at a time over all rows (no per-row DataFrame work) and converted with
numpy/pandas in bulk: see ``benchmarks/bench_frames.py``.  The rules (row gathering, parsing, typed
columns) live in ``gwsnb/_columns.py``, which does not need pandas: a streamed run writes its parts from
the same columns straight into Arrow (``gwsnb/_parts.py``); this module turns them into pandas arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import _columns
from ._columns import (
    CALLS_COLUMNS,
    METRICS_COLUMNS,
    RECORD_COLUMNS,
    STATUSES,
    Built,
    Column,
    FrameWarning,
    _float_array,
    _int_array,
    _Issues,
    _seconds_float_to_utc,
    _str_array,
    _walk,
)
from ._engine.clock import ClockOffset
from .labels import CodeLabels

__all__ = [
    "CALLS_COLUMNS",
    "EVENTS_COLUMNS",
    "METRICS_COLUMNS",
    "RECORD_COLUMNS",
    "FrameWarning",
    "calls_frame",
    "events_frame",
    "metrics_frame",
    "readable",
    "records_frame",
    "to_json",
]

_STRING = pd.StringDtype()
_UTC_NS = pd.DatetimeTZDtype(unit="ns", tz="UTC")
_STATUS = pd.CategoricalDtype(list(STATUSES))
_EMPTY: dict[str, Any] = {}
_column = _columns._column


# --------------------------------------------------------------------------- pandas arrays of the columns
def _utc_array(ns: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.array(pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC"))


def _pandas_array(column: Column) -> Any:
    """The pandas array of one typed column (its dtype by kind: see :class:`gwsnb._columns.Column`)."""
    kind, values, mask = column.kind, column.values, column.mask
    if kind == _columns.INT:
        return pd.arrays.IntegerArray(values, mask) if mask is not None else pd.array(values, dtype="Int64")
    if kind == _columns.FLOAT:
        return pd.arrays.FloatingArray(values, mask) if mask is not None else pd.array(values, dtype="Float64")
    if kind == _columns.STR:
        return pd.array(values, dtype=_STRING)
    if kind == _columns.BOOL:
        return pd.array(values, dtype="boolean")
    if kind == _columns.UTC:
        return _utc_array(values)
    if kind == _columns.DURATION:
        return pd.array(values.view("m8[ns]"))
    if kind == _columns.CATEGORY:
        return pd.Categorical.from_codes(values, categories=column.categories)
    return values  # object


def _frame(built: Built, builder: str) -> pd.DataFrame:
    """The DataFrame of a builder's columns, its ``attrs`` (``skipped``, ``invalid``) and warning set."""
    frame = pd.DataFrame({name: _pandas_array(column) for name, column in built.columns.items()}, copy=False)
    frame.attrs["skipped"] = built.skipped
    frame.attrs["invalid"] = dict(built.issues.invalid)
    built.issues.warn(builder, stacklevel=3)
    return frame


# --------------------------------------------------------------------------- records
def records_frame(
    items: Iterable[Any],
    *,
    labels: CodeLabels | Mapping[str, Mapping[int, str]] | None = None,
) -> pd.DataFrame:
    """One row per chained record, in input order (each result's records are in ``chain_n`` order).

    ``items`` mixes :class:`~gwsnb.results.ChainedRecordResult` objects (their ``records``), raw
    ChainedRecord notification messages (``{"channel", "data"}`` dicts, or their ``data`` alone) and
    :class:`~gwsnb.results.Event` objects. Anything else (another notificationType, a ``/me/internal``
    event, a message without a ``record`` dict) is skipped and counted in ``df.attrs["skipped"]``.

    Columns, in order (:data:`RECORD_COLUMNS` and then the extras; units and written forms in
    ``docs/frames.md``):

    - ``reference_id`` (string), ``record_handle``, ``chain_id``, ``chain_n`` (Int64), ``contact_info`` (string);
    - ``contact_info_type``, ``record_type``, ``record_status``, ``call_result``: Categorical labels (see
      :mod:`gwsnb.labels`; every known label is a category, an unknown code appears as its number in text),
      each followed by its raw ``*_code`` (Int64);
    - ``attempt`` (Int64); ``dial_sched_time``, ``call_time`` (``datetime64[ns, UTC]`` from epoch seconds);
      ``daily_from``, ``daily_till`` (``timedelta64[ns]`` since midnight, in the record's time zone);
      ``tz_name`` (string), ``tz_offset_min`` (Int64: minutes east of UTC, negative west, from
      ``GSW_TZ_OFFSET`` seconds), ``tz_dbid`` (Int64);
    - ``campaign_name``, ``calling_list`` (string), ``application_id`` (Int64), ``device_path`` (string);
    - then every other ``userData`` key under its own name: custom fields (sorted), then the ``GSW_*``
      keys not already shown above (sorted), then other keys of ``record`` as ``record.<key>``; a key
      whose name clashes with a standard column becomes ``userData.<key>``. Their dtype is the nullable
      dtype their values agree on (string, Int64, Float64, boolean), else object.

    Where an OCS column is absent its ``GSW_*`` twin is used (``GSW_PHONE``, ``GSW_CALL_RESULT``,
    ``GSW_ATTEMPTS``, ``GSW_CHAIN_ID``, ...), and for a result the call's own campaign, application and
    device fill in what the record lacks.

    :param labels: code labels for this call; default :func:`gwsnb.labels.current`. A plain mapping
        ``{field: {code: label}}`` is accepted.
    :raises TypeError: ``items`` is not iterable, or ``labels`` is malformed (see :class:`~gwsnb.labels.CodeLabels`).
    """
    return _frame(_columns.record_columns(items, labels), "records_frame")


# --------------------------------------------------------------------------- metrics
def metrics_frame(items: Iterable[Any]) -> pd.DataFrame:
    """One row per server event (``/me/internal`` DeviceUserEventMessage) with its timing metrics.

    ``items`` mixes :class:`~gwsnb.results.ChainedRecordResult` objects (their ``user_events``, with the
    call's ``reference_id``), :class:`~gwsnb.results.Event` objects and raw message dicts (no receipt
    time, so ``client_received_at`` and ``delivery_lag_ms`` are missing). Other messages are skipped
    and counted in ``df.attrs["skipped"]``; an event whose ``metrics`` block is empty or absent still
    gives a row, with missing timings.

    Columns: ``reference_id`` (string), ``record_handle`` (Int64, ``GSW_RECORD_HANDLE``), ``user_event``
    (string, ``GSW_USER_EVENT``), ``server_generated_at`` (``datetime64[ns, UTC]`` from
    ``serverGenerationTimestamp`` epoch ms), ``node_processing_ms`` (Float64, milliseconds from
    ``nodeProcessingTimeNanos``), ``server_processing_ms`` (Float64, ``serverProcessingTimeTotalMs``),
    ``client_received_at`` (``datetime64[ns, UTC]``), ``delivery_lag_ms`` (Float64), ``chain_id``
    (Int64, ``GSW_CHAIN_ID``), ``device_id`` (string).

    ``delivery_lag_ms`` is ``client_received_at - server_generated_at``: the two instants come from two
    clocks (the GWS node's and this machine's), so the figure includes their skew and can even be
    negative; compare lags with each other (trends, spread) rather than reading one as an absolute
    network delay, unless both clocks are NTP-disciplined.

    :raises TypeError: ``items`` is not iterable.
    """
    return _frame(_columns.metric_columns(items), "metrics_frame")


# --------------------------------------------------------------------------- events
EVENTS_COLUMNS: tuple[str, ...] = (
    "received_at",
    "channel",
    "message_type",
    "notification_type",
    "reference_id",
    "record_handle",
    "size_bytes",
    "payload",
)
"""The columns of :func:`events_frame`, in order."""


def _size_bytes(message: dict[str, Any]) -> int:
    return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8"))


def _handle_of(data: dict[str, Any]) -> Any:
    """``data.record.recordHandle``, else ``data.userData.GSW_RECORD_HANDLE``."""
    record = data.get("record")
    handle = record.get("recordHandle") if isinstance(record, dict) else None
    if handle is None:
        ud = data.get("userData")
        handle = ud.get("GSW_RECORD_HANDLE") if isinstance(ud, dict) else None
    return handle


def events_frame(messages: Iterable[Any]) -> pd.DataFrame:
    """One row per raw message, in input order.

    ``messages`` mixes :class:`~gwsnb.results.Event` objects, raw Bayeux message dicts and
    :class:`~gwsnb.results.ChainedRecordResult` objects (their ``events``); items that are not dicts are
    skipped and counted in ``df.attrs["skipped"]``.

    Columns: ``received_at`` (``datetime64[ns, UTC]``; missing for raw dicts), ``channel``,
    ``message_type``, ``notification_type``, ``reference_id`` (string), ``record_handle`` (Int64, from
    ``data.record.recordHandle`` or ``data.userData.GSW_RECORD_HANDLE``), ``size_bytes`` (Int64: the
    message as compact UTF-8 JSON, which approximates but is not the bytes on the wire), ``payload``
    (object: the message dict itself, not a copy).

    :raises TypeError: ``messages`` is not iterable.
    """
    issues = _Issues()
    skipped = 0
    received: list[Any] = []
    payloads: list[dict[str, Any]] = []
    datas: list[dict[str, Any]] = []
    handles: list[Any] = []

    for message, at, _ in _walk(messages, "events"):
        if not isinstance(message, dict):
            skipped += 1
            continue
        data = message.get("data")
        data = data if isinstance(data, dict) else _EMPTY
        received.append(at)
        payloads.append(message)
        datas.append(data)
        handles.append(_handle_of(data))

    payload = np.fromiter(payloads, dtype=object, count=len(payloads))
    columns: dict[str, Column] = {
        "received_at": _seconds_float_to_utc(_float_array(received, "received_at", issues)),
        "channel": _str_array(_column(payloads, "channel"), "channel", issues),
        "message_type": _str_array(_column(datas, "messageType"), "message_type", issues),
        "notification_type": _str_array(_column(datas, "notificationType"), "notification_type", issues),
        "reference_id": _str_array(_column(datas, "referenceId"), "reference_id", issues),
        "record_handle": _int_array(handles, "record_handle", issues),
        "size_bytes": _int_array([_size_bytes(m) for m in payloads], "size_bytes", issues),
        "payload": Column(_columns.OBJECT, payload),
    }
    return _frame(Built(columns, skipped, issues), "events_frame")


# --------------------------------------------------------------------------- calls
def calls_frame(items: Iterable[Any], *, clock_offset: ClockOffset | None = None) -> pd.DataFrame:
    """One row per call: its handle, outcome, record count and client timings.

    ``items`` mixes :class:`~gwsnb.results.ChainedRecordResult` objects, exceptions raised by the
    client and :class:`~gwsnb.results.CoveredHandle` marks; an exception carries the partial result as
    its ``result`` attribute (a result or ``None``) and may carry ``record_handle``. A result without
    ChainedRecordsDataEnd counts as an error (``IncompleteResult``). Other items are skipped and counted
    in ``df.attrs["skipped"]``.

    Columns: ``record_handle`` (Int64), ``reference_id`` (string), ``status`` (Categorical ``ok`` /
    ``error`` / ``covered``), ``error`` (string ``"TypeName: message"``, missing when ok), ``records``,
    ``attempts`` (Int64), ``sent`` (``datetime64[ns, UTC]``), ``http_ms``, ``first_event_ms``,
    ``total_ms`` (Float64); then the call's time split by the server's clock (docs/watch.md):
    ``server_processing_ms`` (the server's own ``serverProcessingTimeTotalMs`` of the user event that ends
    the call, DataEnd's), and ``delivery_low_ms`` / ``delivery_high_ms`` (Float64): the interval of that
    event's delivery delay, from its generation (the server's clock, mapped to ours through the offset) to
    its receipt; never negative.  The offset is ``clock_offset`` if given, else the interval the items'
    own user events give (each bounds it between its call's POST and its receipt); it is in
    ``df.attrs["clock_offset"]`` (a dict, or ``None`` when no user event had a generation time). Last,
    ``covered_by`` (Int64: for a covered handle, not called, the handle whose call's chain held its
    record; see docs/engine.md).

    :raises TypeError: ``items`` is not iterable.
    """
    built = _columns.call_columns(items, clock_offset)
    frame = _frame(built, "calls_frame")
    frame.attrs["clock_offset"] = built.clock_offset.as_dict() if built.clock_offset is not None else None
    return frame


# --------------------------------------------------------------------------- written forms
def _iso_utc(values: pd.Series) -> list[str | None]:
    """ISO 8601 UTC text (``2023-11-14T22:13:27Z``), with microseconds only when a value has a fraction."""
    ns = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="M8[ns]")
    missing = np.isnat(ns)
    whole = ns[~missing].astype(np.int64)
    if not whole.size or not (whole % 10**9).any():
        text = np.datetime_as_string(ns.astype("M8[s]"), unit="s")
    else:
        text = np.datetime_as_string(ns.astype("M8[us]"), unit="us")
    return [None if gone else f"{value}Z" for value, gone in zip(text.tolist(), missing.tolist(), strict=True)]


def _hms(values: pd.Series) -> list[str | None]:
    """``[-]HH:MM:SS`` (hours may exceed 23), with microseconds only when a value has a fraction."""
    ns = values.to_numpy(dtype="m8[ns]").astype(np.int64)
    missing = np.isnat(values.to_numpy(dtype="m8[ns]"))
    fraction = bool((ns[~missing] % 10**9).any())
    out: list[str | None] = []
    for value, gone in zip(ns.tolist(), missing.tolist(), strict=True):
        if gone:
            out.append(None)
            continue
        sign = "-" if value < 0 else ""
        micros, _ = divmod(abs(value), 1000)
        seconds, micro = divmod(micros, 10**6)
        minutes, second = divmod(seconds, 60)
        hours, minute = divmod(minutes, 60)
        text = f"{sign}{hours:02d}:{minute:02d}:{second:02d}"
        out.append(f"{text}.{micro:06d}" if fraction else text)
    return out


def _json_text(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return value


def _written(frame: pd.DataFrame, *, nested_as_text: bool) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        dtype = series.dtype
        if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
            values = series if isinstance(dtype, pd.DatetimeTZDtype) else series.dt.tz_localize("UTC")
            columns[name] = pd.array(_iso_utc(values), dtype=_STRING)
        elif pd.api.types.is_timedelta64_dtype(dtype):
            columns[name] = pd.array(_hms(series), dtype=_STRING)
        elif isinstance(dtype, pd.CategoricalDtype):
            columns[name] = series.astype(_STRING)
        elif nested_as_text and pd.api.types.is_object_dtype(dtype):
            columns[name] = np.fromiter(map(_json_text, series.tolist()), dtype=object, count=len(series))
        else:
            columns[name] = series
    return pd.DataFrame(columns, index=frame.index, copy=False)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every value in its written form: what the CSV and table exports write.

    - ``datetime64`` columns: ISO 8601 UTC text, ``2023-11-14T22:13:27Z`` (microseconds, ``...27.123456Z``,
      when a value of the column has a fraction of a second);
    - ``timedelta64`` columns (the daily windows): ``HH:MM:SS``, ``-`` before a negative value;
    - Categorical labels: their text;
    - object columns holding lists or dicts: compact JSON text;
    - numbers (with their unit in the column name), text and booleans: unchanged, nullable dtypes kept.

    Missing values stay missing (an empty CSV field, ``null`` in JSON).  DuckDB reads the CSV's
    ``HH:MM:SS`` as TIME and its ISO instants as TIMESTAMP WITH TIME ZONE; ``pd.to_timedelta`` and
    ``pd.to_datetime(..., utc=True)`` give the frame's values back (see ``docs/frames.md``).
    """
    return _written(frame, nested_as_text=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def to_json(frame: pd.DataFrame) -> str:
    """``frame`` as a JSON array with one object per row (column order kept), for other tools to read.

    Values are written as :func:`readable` writes them (ISO 8601 UTC instants, ``HH:MM:SS`` windows, labels
    as text), except that lists and dicts of custom fields stay JSON arrays and objects; missing values
    are ``null``, text is UTF-8 (no ``\\u`` escapes, no escaped slashes).  ``pd.read_json(text,
    orient="records", dtype=False, precise_float=True)`` and DuckDB's ``read_json`` read it back.
    """
    written = _written(frame, nested_as_text=False)
    names = [str(name) for name in written.columns]
    columns = [written[name].to_numpy(dtype=object, na_value=None).tolist() for name in written.columns]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)] if names else []
    if not names:
        rows = [{} for _ in range(len(frame))]
    return json.dumps(rows, ensure_ascii=False, default=_json_default, allow_nan=False)
