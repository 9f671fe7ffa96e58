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
numpy/pandas in bulk: see ``benchmarks/bench_frames.py``.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from . import labels as _labels
from . import protocol
from ._engine.clock import ClockEstimator, ClockOffset, generated_ms
from .errors import describe
from .labels import CodeLabels
from .results import ChainedRecordResult, CoveredHandle, Event

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

_NoneType = type(None)
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_NAT = np.iinfo(np.int64).min
_INT_TEXT = re.compile(r"[+-]?\d+\Z")
_STRING = pd.StringDtype()
_UTC_NS = pd.DatetimeTZDtype(unit="ns", tz="UTC")


class FrameWarning(UserWarning):
    """Some payload values had the wrong type and became missing values (the message lists them)."""


# --------------------------------------------------------------------------- conversions
class _Issues:
    """Counts of values of the wrong type, per output column."""

    def __init__(self) -> None:
        self.invalid: dict[str, int] = {}

    def add(self, name: str, count: int) -> None:
        if count:
            self.invalid[name] = self.invalid.get(name, 0) + count

    def finish(self, frame: pd.DataFrame, skipped: int, builder: str) -> pd.DataFrame:
        frame.attrs["skipped"] = skipped
        frame.attrs["invalid"] = dict(self.invalid)
        if self.invalid:
            listed = ", ".join(f"{name}={count}" for name, count in self.invalid.items())
            warnings.warn(
                f"{builder}: {sum(self.invalid.values())} value(s) of the wrong type became missing ({listed})",
                FrameWarning,
                stacklevel=3,
            )
        return frame


def _parse_int(value: Any) -> int | None:
    """The integer ``value`` stands for, or ``None`` when it is of the wrong type (``None`` is handled by callers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and _INT64_MIN <= value <= _INT64_MAX:
            return int(value)
        return None
    if isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.match(text):
            number = int(text)
            return number if _INT64_MIN <= number <= _INT64_MAX else None
    return None


def _int_array(values: list[Any], name: str, issues: _Issues) -> pd.arrays.IntegerArray:
    types = set(map(type, values))
    if types <= {int, _NoneType}:
        try:
            if _NoneType not in types:
                data = np.asarray(values, dtype=np.int64)
                return pd.arrays.IntegerArray(data, np.zeros(len(data), dtype=bool))
            objects = np.asarray(values, dtype=object)
            mask = np.asarray(pd.isna(objects), dtype=bool)
            data = np.where(mask, 0, objects).astype(np.int64)
            return pd.arrays.IntegerArray(data, mask)
        except (OverflowError, TypeError, ValueError):
            pass  # an integer beyond int64: the slow path counts it
    out: list[int | None] = []
    bad = 0
    for value in values:
        if value is None:
            out.append(None)
            continue
        number = _parse_int(value)
        if number is None:
            bad += 1
        out.append(number)
    issues.add(name, bad)
    return pd.array(out, dtype="Int64")


def _float_array(values: list[Any], name: str, issues: _Issues) -> pd.arrays.FloatingArray:
    out: list[float | None] = []
    bad = 0
    for value in values:
        if value is None:
            out.append(None)
            continue
        number: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            bad += 1
            number = None
        out.append(number)
    issues.add(name, bad)
    return pd.array(out, dtype="Float64")


def _str_array(values: list[Any], name: str, issues: _Issues) -> pd.api.extensions.ExtensionArray:
    if not set(map(type, values)) <= {str, _NoneType}:
        out: list[str | None] = []
        bad = 0
        for value in values:
            if value is None or isinstance(value, str):
                out.append(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                out.append(str(value))
            else:
                bad += 1
                out.append(None)
        issues.add(name, bad)
        values = out
    return pd.array(values, dtype=_STRING)


def _int64_parts(ints: pd.arrays.IntegerArray) -> tuple[np.ndarray, np.ndarray]:
    mask = np.asarray(ints.isna(), dtype=bool)
    data = ints.to_numpy(dtype=np.int64, na_value=0)
    return data, mask


def _scaled_ns(values: list[Any], name: str, issues: _Issues, unit_ns: int) -> np.ndarray:
    """Integers in some unit as int64 nanoseconds, NaT where missing, wrong or out of range."""
    data, mask = _int64_parts(_int_array(values, name, issues))
    limit = _INT64_MAX // unit_ns
    out_of_range = ~mask & ((data > limit) | (data < -limit))
    if out_of_range.any():
        issues.add(name, int(out_of_range.sum()))
        mask = mask | out_of_range
    return np.where(mask, _NAT, np.where(mask, 0, data) * unit_ns)


def _utc_array(ns: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.array(pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC"))


def _epoch_array(values: list[Any], name: str, issues: _Issues, unit_ns: int) -> pd.api.extensions.ExtensionArray:
    return _utc_array(_scaled_ns(values, name, issues, unit_ns))


def _duration_array(values: list[Any], name: str, issues: _Issues, unit_ns: int) -> pd.api.extensions.ExtensionArray:
    return pd.array(_scaled_ns(values, name, issues, unit_ns).view("m8[ns]"))


def _minutes_array(values: list[Any], name: str, issues: _Issues) -> pd.arrays.IntegerArray:
    """Whole minutes from seconds (``GSW_TZ_OFFSET``); a value that is not a whole minute is invalid."""
    data, mask = _int64_parts(_int_array(values, name, issues))
    uneven = ~mask & (data % 60 != 0)
    if uneven.any():
        issues.add(name, int(uneven.sum()))
        mask = mask | uneven
    return pd.arrays.IntegerArray(np.where(mask, 0, data // 60), mask)


def _ms_from_ns(values: list[Any], name: str, issues: _Issues) -> pd.arrays.FloatingArray:
    """Milliseconds (Float64) from integer nanoseconds (``nodeProcessingTimeNanos``)."""
    data, mask = _int64_parts(_int_array(values, name, issues))
    return pd.arrays.FloatingArray(np.where(mask, 0.0, data / 1e6), mask)


def _seconds_float_to_utc(values: pd.arrays.FloatingArray) -> pd.api.extensions.ExtensionArray:
    seconds = values.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = np.isfinite(seconds) & (np.abs(seconds) < _INT64_MAX / 1e9)
    # time.time() floats carry about a microsecond of precision; rounding there avoids ...999000064 noise
    ns = np.round(np.where(ok, seconds, 0.0) * 1e6).astype(np.int64) * 1000
    return _utc_array(np.where(ok, ns, _NAT))


def _labelled(codes: pd.arrays.IntegerArray, mapping: Mapping[int, str]) -> pd.Categorical:
    """Categorical labels for ``codes``: every known label is a category (stable dtype), then unknown codes as text."""
    data, mask = _int64_parts(codes)
    known = sorted(mapping)
    present = np.unique(data[~mask]).tolist()
    unknown = [code for code in present if code not in mapping]
    all_codes = known + unknown
    names = [mapping[code] for code in known] + [str(code) for code in unknown]
    categories = list(dict.fromkeys(names))  # a user mapping may give two codes one label
    if not len(data) or not all_codes:
        return pd.Categorical.from_codes(np.full(len(data), -1, dtype=np.int64), categories=categories)
    position = {label: i for i, label in enumerate(categories)}
    code_to_category = np.array([position[label] for label in names], dtype=np.int64)
    index = pd.Index(np.array(all_codes, dtype=np.int64)).get_indexer(data)
    category_codes = np.where(mask | (index < 0), -1, code_to_category[np.maximum(index, 0)])
    return pd.Categorical.from_codes(category_codes, categories=categories)


def _inferred_array(values: Any) -> Any:
    """Dtype for a custom / unknown key: the nullable dtype its values agree on, else object."""
    types = set(map(type, values))
    types.discard(_NoneType)
    if types == {str}:
        return pd.array(values, dtype=_STRING)
    if types == {bool}:
        return pd.array(values, dtype="boolean")
    if types == {int}:
        try:
            return pd.array(values, dtype="Int64")
        except (OverflowError, TypeError, ValueError):
            pass
    elif types == {float} or types == {int, float}:
        return pd.array([None if v is None else float(v) for v in values], dtype="Float64")
    if isinstance(values, np.ndarray):
        return values
    # fromiter keeps list and dict values as single objects (slice assignment would broadcast them)
    return np.fromiter(values, dtype=object, count=len(values))


def _column(rows: Sequence[dict[str, Any]], key: str) -> list[Any]:
    # map(dict.get, ...) keeps the per-row loop in C
    return list(map(dict.get, rows, repeat(key)))


def _pandas_dicts_table(rows: list[dict[str, Any]], keys: list[str]) -> np.ndarray | None:
    """``rows`` as a 2-D object array (one column per key, ``None`` where a row lacks the key), filled by
    pandas' C helper ``pandas._libs.lib.dicts_to_array`` in one row-wise pass; ``None`` when that helper
    is missing or no longer behaves as assumed here.

    The only use of a private pandas function in gwsnb.  What is assumed of it (a ``(rows, keys)``
    object array; an absent key marked with the ``np.nan`` object itself, so that a NaN in the payload,
    another float object, stays a value) is pinned by ``tests/frames/test_frames.py``, which compares
    this path with the portable one.
    """
    try:
        from pandas._libs.lib import dicts_to_array
    except ImportError:  # pragma: no cover - depends on the pandas build
        return None
    try:
        table = dicts_to_array(rows, keys)
    except Exception:  # noqa: BLE001 - private helper; any change of contract means: use the portable path
        return None
    if not (isinstance(table, np.ndarray) and table.shape == (len(rows), len(keys)) and table.dtype == object):
        return None
    # When every row has every key (the usual case: one producer, one calling-list format) there is
    # nothing to replace.
    if set(map(len, rows)) != {len(keys)}:
        marker = np.nan
        absent = np.frompyfunc(lambda value: value is marker, 1, 1)(table).astype(bool)
        if absent.any():
            table[absent] = None
    return table


#: :func:`_columns` asks pandas' C helper only when there are more keys than this (see there)
_TABLE_MIN_KEYS = 4
_use_pandas_table = True  # the tests switch it off to compare with the portable path


def _columns(rows: list[dict[str, Any]], keys: Iterable[str]) -> dict[str, Any]:
    """Each key's values over all rows (``None`` where a row lacks the key), as lists or object arrays.

    This is the hot spot of every builder. With many keys, one pass per key over 100,000 dicts is
    memory-bound (each pass walks every dict again), so :func:`_pandas_dicts_table` (one row-wise pass)
    is used when available; the portable per-key path gives the same values.
    """
    keys = list(keys)
    if _use_pandas_table and rows and len(keys) > _TABLE_MIN_KEYS:
        table = _pandas_dicts_table(rows, keys)
        if table is not None:
            return {key: np.ascontiguousarray(table[:, j]) for j, key in enumerate(keys)}
    return {key: _column(rows, key) for key in keys}


def _has_missing(values: Any) -> bool:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    return None in values  # identity is tried first, and no payload value equals None


def _first_present(columns: Iterable[list[Any]]) -> list[Any]:
    """The first column, each missing value taken from the next column that has one (built only if needed)."""
    iterator = iter(columns)
    merged = next(iterator)
    for fallback in iterator:
        if not _has_missing(merged):
            break
        merged = [value if value is not None else other for value, other in zip(merged, fallback, strict=True)]
    return merged


# --------------------------------------------------------------------------- the one message iterator
def _walk(items: Iterable[Any], part: str | None) -> Iterator[tuple[Any, Any, ChainedRecordResult | None]]:
    """Every builder's input, one element at a time, as ``(obj, received_at, result)``.

    - a :class:`~gwsnb.results.ChainedRecordResult` gives each element of its ``part`` (``"records"``,
      ``"events"`` or ``"user_events"``) with ``result`` set to it, or itself when ``part`` is ``None``;
    - an :class:`~gwsnb.results.Event` (also inside a result) gives its message and receipt time;
    - anything else (a message dict, an exception, junk) is given as it is, with no receipt time.

    :raises TypeError: ``items`` is not iterable.
    """
    for item in items:
        if isinstance(item, ChainedRecordResult):
            if part is None:
                yield item, None, item
                continue
            for element in getattr(item, part):
                if isinstance(element, Event):
                    yield element.message, element.received_at, item
                else:
                    yield element, None, item
        elif isinstance(item, Event):
            yield item.message, item.received_at, None
        else:
            yield item, None, None


def _payload(message: Any) -> Any:
    """The ``data`` of a message dict, or ``None`` when ``message`` is not a dict.

    A message as received has "channel" and "data"; a bare ``data`` dict (as in the documented
    PreviewRecord sample, docs/samples/preview_record.notification.partial.json) is accepted too.
    """
    if type(message) is not dict and not isinstance(message, dict):
        return None
    if "data" in message or "channel" in message:
        return message.get("data")
    return message


# --------------------------------------------------------------------------- records
_KIND_STR = "str"
_KIND_INT = "int"
_KIND_CODE = "code"
_KIND_EPOCH_S = "epoch_s"
_KIND_SECONDS = "seconds"
_KIND_MINUTES = "minutes"

# (column, kind, sources); a source is ("record" | "userData" | "call", key); the first present wins.
_RECORD_COLUMNS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("record_handle", _KIND_INT, (("record", "recordHandle"), ("userData", "GSW_RECORD_HANDLE"))),
    ("chain_id", _KIND_INT, (("userData", "chain_id"), ("userData", "GSW_CHAIN_ID"))),
    ("chain_n", _KIND_INT, (("userData", "chain_n"),)),
    ("contact_info", _KIND_STR, (("userData", "contact_info"), ("userData", "GSW_PHONE"))),
    ("contact_info_type", _KIND_CODE, (("userData", "contact_info_type"),)),
    ("record_type", _KIND_CODE, (("userData", "record_type"),)),
    ("record_status", _KIND_CODE, (("userData", "record_status"),)),
    ("call_result", _KIND_CODE, (("userData", "call_result"), ("userData", "GSW_CALL_RESULT"))),
    ("attempt", _KIND_INT, (("userData", "attempt"), ("userData", "GSW_ATTEMPTS"))),
    ("dial_sched_time", _KIND_EPOCH_S, (("userData", "dial_sched_time"),)),
    ("call_time", _KIND_EPOCH_S, (("userData", "call_time"),)),
    ("daily_from", _KIND_SECONDS, (("userData", "daily_from"),)),
    ("daily_till", _KIND_SECONDS, (("userData", "daily_till"),)),
    ("tz_name", _KIND_STR, (("userData", "GSW_TZ_NAME"),)),
    ("tz_offset_min", _KIND_MINUTES, (("userData", "GSW_TZ_OFFSET"),)),
    ("tz_dbid", _KIND_INT, (("userData", "tz_dbid"),)),
    (
        "campaign_name",
        _KIND_STR,
        (("record", "campaignName"), ("userData", "GSW_CAMPAIGN_NAME"), ("call", "campaign_name")),
    ),
    ("calling_list", _KIND_STR, (("record", "callingList"), ("userData", "GSW_CALLING_LIST"))),
    (
        "application_id",
        _KIND_INT,
        (("record", "applicationId"), ("userData", "GSW_APPLICATION_ID"), ("call", "application_id")),
    ),
    ("device_path", _KIND_STR, (("record", "devicePath"), ("call", "device_path"))),
)

_RECORD_KEYS_USED = frozenset(key for _, _, sources in _RECORD_COLUMNS for level, key in sources if level == "record")
_USERDATA_KEYS_USED = frozenset(
    key for _, _, sources in _RECORD_COLUMNS for level, key in sources if level == "userData"
)


def _standard_record_columns() -> list[str]:
    names = ["reference_id"]
    for name, kind, _ in _RECORD_COLUMNS:
        names.append(name)
        if kind == _KIND_CODE:
            names.append(f"{name}_code")
    return names


RECORD_COLUMNS: tuple[str, ...] = tuple(_standard_record_columns())
"""The standard leading columns of :func:`records_frame`, always present, in this order."""

_EMPTY: dict[str, Any] = {}


def _resolve_labels(labels: CodeLabels | Mapping[str, Mapping[int, str]] | None) -> CodeLabels:
    if labels is None:
        return _labels.current()
    if isinstance(labels, CodeLabels):
        return labels
    return CodeLabels(labels)


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
    code_labels = _resolve_labels(labels)
    issues = _Issues()
    rows = _RecordRows()
    for obj, _, owner in _walk(items, "records"):
        if owner is not None:
            rows.add(obj, owner.reference_id, rows.context_of(owner))
            continue
        data = _payload(obj)
        if not isinstance(data, dict) or data.get("notificationType") != protocol.CHAINED_RECORD:
            rows.skipped += 1
            continue
        rows.add(data.get("record"), data.get("referenceId"), _EMPTY)
    issues.add("userData", rows.bad_user_data)
    columns = _record_columns(rows, code_labels, issues)
    frame = pd.DataFrame(columns, copy=False)
    return issues.finish(frame, rows.skipped, "records_frame")


class _RecordRows:
    """The record dicts a :func:`records_frame` call gathers, with their userData and call context."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.user_data: list[dict[str, Any]] = []
        self.references: list[Any] = []
        self.calls: list[dict[str, Any]] = []
        self.skipped = 0
        self.bad_user_data = 0
        self._owner: ChainedRecordResult | None = None
        self._context: dict[str, Any] = _EMPTY

    def context_of(self, result: ChainedRecordResult) -> dict[str, Any]:
        """The call's own campaign, application and device (one dict per result, not per record)."""
        if result is not self._owner:
            self._owner = result
            self._context = {"campaign_name": result.campaign_name, "application_id": result.application_id,
                             "device_path": result.device_path}
        return self._context

    def add(self, record: Any, reference: Any, call: dict[str, Any]) -> None:
        if not isinstance(record, dict):
            self.skipped += 1
            return
        ud = record.get("userData")
        if not isinstance(ud, dict):
            self.bad_user_data += ud is not None
            ud = _EMPTY
        self.records.append(record)
        self.user_data.append(ud)
        self.references.append(reference)
        self.calls.append(call)


def _typed_record_column(kind: str, name: str, raw: Any, code_labels: CodeLabels,
                         issues: _Issues) -> dict[str, Any]:
    """The column(s) of one standard record field: ``{name: array}`` (two for a code field)."""
    if kind == _KIND_STR:
        return {name: _str_array(raw, name, issues)}
    if kind == _KIND_INT:
        return {name: _int_array(raw, name, issues)}
    if kind == _KIND_CODE:
        codes = _int_array(raw, name, issues)
        return {name: _labelled(codes, code_labels[name]), f"{name}_code": codes}
    if kind == _KIND_EPOCH_S:
        return {name: _epoch_array(raw, name, issues, 10**9)}
    if kind == _KIND_MINUTES:
        return {name: _minutes_array(raw, name, issues)}
    return {name: _duration_array(raw, name, issues, 10**9)}


def _record_columns(rows: _RecordRows, code_labels: CodeLabels, issues: _Issues) -> dict[str, Any]:
    user_keys = set().union(*rows.user_data) if rows.user_data else set()
    record_keys = set().union(*rows.records) - {"userData"} if rows.records else set()
    by_level = {
        "userData": _columns(rows.user_data, sorted(user_keys)),
        "record": _columns(rows.records, sorted(record_keys)),
    }
    absent = [None] * len(rows.records)

    def source(level: str, key: str) -> Any:
        if level == "call":
            return _column(rows.calls, key)
        return by_level[level].get(key, absent)

    columns: dict[str, Any] = {"reference_id": _str_array(rows.references, "reference_id", issues)}
    for name, kind, sources in _RECORD_COLUMNS:
        raw = _first_present(source(level, key) for level, key in sources)
        columns.update(_typed_record_column(kind, name, raw, code_labels, issues))

    extra_user_keys = user_keys - _USERDATA_KEYS_USED
    custom = sorted(key for key in extra_user_keys if not key.startswith("GSW_"))
    gsw = sorted(key for key in extra_user_keys if key.startswith("GSW_"))
    for key in custom + gsw:
        name = key if key not in columns else f"userData.{key}"
        columns[name] = _inferred_array(by_level["userData"][key])
    for key in sorted(record_keys - _RECORD_KEYS_USED):
        columns[f"record.{key}"] = _inferred_array(by_level["record"][key])
    return columns


# --------------------------------------------------------------------------- metrics
METRICS_COLUMNS: tuple[str, ...] = (
    "reference_id",
    "record_handle",
    "user_event",
    "server_generated_at",
    "node_processing_ms",
    "server_processing_ms",
    "client_received_at",
    "delivery_lag_ms",
    "chain_id",
    "device_id",
)
"""The columns of :func:`metrics_frame`, in order."""


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
    issues = _Issues()
    rows = _MetricRows()
    for message, at, owner in _walk(items, "user_events"):
        data = _payload(message)
        if not isinstance(data, dict) or data.get("messageType") != protocol.DEVICE_USER_EVENT_MESSAGE:
            rows.skipped += 1
            continue
        rows.add(data, owner.reference_id if owner is not None else data.get("referenceId"), at)
    issues.add("userData", rows.bad_user_data)
    issues.add("metrics", rows.bad_metrics)
    frame = pd.DataFrame(_metric_columns(rows, issues), copy=False)
    return issues.finish(frame, rows.skipped, "metrics_frame")


class _MetricRows:
    """The server events a :func:`metrics_frame` call gathers."""

    def __init__(self) -> None:
        self.references: list[Any] = []
        self.received: list[Any] = []
        self.user_data: list[dict[str, Any]] = []
        self.processing: list[dict[str, Any]] = []
        self.device_ids: list[Any] = []
        self.skipped = 0
        self.bad_user_data = 0
        self.bad_metrics = 0

    def add(self, data: dict[str, Any], reference: Any, at: Any) -> None:
        ud = data.get("userData")
        if not isinstance(ud, dict):
            self.bad_user_data += ud is not None
            ud = _EMPTY
        metrics = data.get("metrics")
        event_processing: Any = _EMPTY
        if isinstance(metrics, dict):
            event_processing = metrics.get("eventProcessing", _EMPTY)
            if not isinstance(event_processing, dict):
                self.bad_metrics += event_processing is not None
                event_processing = _EMPTY
        elif metrics is not None:
            self.bad_metrics += 1
        self.references.append(reference)
        self.received.append(at)
        self.user_data.append(ud)
        self.processing.append(event_processing)
        self.device_ids.append(data.get("deviceId"))


def _metric_columns(rows: _MetricRows, issues: _Issues) -> dict[str, Any]:
    processing, user_data = rows.processing, rows.user_data
    generated_ns = _scaled_ns(_column(processing, "serverGenerationTimestamp"), "server_generated_at", issues, 10**6)
    received_s = _float_array(rows.received, "client_received_at", issues)
    generated_ms = np.where(generated_ns == _NAT, np.nan, generated_ns / 1e6)
    lag = received_s.to_numpy(dtype=np.float64, na_value=np.nan) * 1000.0 - generated_ms
    # a float NaN is the missing marker of the arithmetic above, not a value
    lag_missing = np.isnan(lag)
    return {
        "reference_id": _str_array(rows.references, "reference_id", issues),
        "record_handle": _int_array(_column(user_data, "GSW_RECORD_HANDLE"), "record_handle", issues),
        "user_event": _str_array(_column(user_data, "GSW_USER_EVENT"), "user_event", issues),
        "server_generated_at": _utc_array(generated_ns),
        "node_processing_ms": _ms_from_ns(_column(processing, "nodeProcessingTimeNanos"), "node_processing_ms", issues),
        "server_processing_ms": _float_array(
            _column(processing, "serverProcessingTimeTotalMs"), "server_processing_ms", issues
        ),
        "client_received_at": _seconds_float_to_utc(received_s),
        "delivery_lag_ms": pd.arrays.FloatingArray(np.where(lag_missing, 0.0, lag), lag_missing),
        "chain_id": _int_array(_column(user_data, "GSW_CHAIN_ID"), "chain_id", issues),
        "device_id": _str_array(rows.device_ids, "device_id", issues),
    }


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
    columns: dict[str, Any] = {
        "received_at": _seconds_float_to_utc(_float_array(received, "received_at", issues)),
        "channel": _str_array(_column(payloads, "channel"), "channel", issues),
        "message_type": _str_array(_column(datas, "messageType"), "message_type", issues),
        "notification_type": _str_array(_column(datas, "notificationType"), "notification_type", issues),
        "reference_id": _str_array(_column(datas, "referenceId"), "reference_id", issues),
        "record_handle": _int_array(handles, "record_handle", issues),
        "size_bytes": pd.array([_size_bytes(m) for m in payloads], dtype="Int64"),
        "payload": payload,
    }
    frame = pd.DataFrame(columns, copy=False)
    return issues.finish(frame, skipped, "events_frame")


# --------------------------------------------------------------------------- calls
CALLS_COLUMNS: tuple[str, ...] = (
    "record_handle",
    "reference_id",
    "status",
    "error",
    "records",
    "attempts",
    "sent",
    "http_ms",
    "first_event_ms",
    "total_ms",
    "server_processing_ms",
    "delivery_low_ms",
    "delivery_high_ms",
    "covered_by",
)
"""The columns of :func:`calls_frame`, in order."""

_STATUS = pd.CategoricalDtype(["ok", "error", "covered"])


def _timing(result: ChainedRecordResult | None, get: Callable[[ChainedRecordResult], Any]) -> Any:
    if result is None:
        return None
    try:
        return get(result)
    except (AttributeError, TypeError):
        return None


def _outcome(item: Any) -> tuple[str, str | None, Any, ChainedRecordResult | None] | None:
    """``(status, error, record_handle, result)`` of a result or a raised error; ``None`` for anything else."""
    if isinstance(item, ChainedRecordResult):
        if item.complete:
            return "ok", None, item.record_handle, item
        return "error", "IncompleteResult: no ChainedRecordsDataEnd received", item.record_handle, item
    if isinstance(item, CoveredHandle):
        return "covered", None, item.record_handle, None
    if isinstance(item, BaseException):
        carried = getattr(item, "result", None)
        result = carried if isinstance(carried, ChainedRecordResult) else None
        handle = getattr(item, "record_handle", None)
        if handle is None and result is not None:
            handle = result.record_handle
        return "error", describe(item), handle, result
    return None


def _end_event(result: ChainedRecordResult | None) -> tuple[float, float, Any] | None:
    """``(generated_ms, received_at, serverProcessingTimeTotalMs)`` of the user event that ends a call:
    DataEnd's, else the last generated one; ``None`` when no user event has a generation time."""
    if result is None:
        return None
    best: tuple[float, float, Any] | None = None
    for event in result.user_events:
        generated = generated_ms(event.message)
        if generated is None:
            continue
        data = event.data
        processing = data["metrics"]["eventProcessing"].get("serverProcessingTimeTotalMs")
        user_data = data.get("userData")
        if isinstance(user_data, dict) and user_data.get("GSW_USER_EVENT") == protocol.CHAINED_RECORDS_DATA_END:
            return generated, event.received_at, processing
        if best is None or generated >= best[0]:
            best = (generated, event.received_at, processing)
    return best


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
    issues = _Issues()
    skipped = 0
    handles: list[Any] = []
    references: list[Any] = []
    statuses: list[str] = []
    errors: list[str | None] = []
    counts: list[Any] = []
    attempts: list[Any] = []
    timings: dict[str, list[Any]] = {"sent": [], "http_ms": [], "first_event_ms": [], "total_ms": []}
    ends: list[tuple[float, float, Any] | None] = []
    clock = ClockEstimator()
    covered_by: list[Any] = []

    for item, _, _ in _walk(items, None):
        outcome = _outcome(item)
        if outcome is None:
            skipped += 1
            continue
        status, error, handle, result = outcome
        statuses.append(status)
        errors.append(error)
        handles.append(handle)
        references.append(result.reference_id if result else None)
        counts.append(len(result.records) if result else None)
        attempts.append(result.attempts if result else None)
        timings["sent"].append(_timing(result, lambda r: r.timings.sent))
        timings["http_ms"].append(_timing(result, lambda r: r.timings.http_ms))
        timings["first_event_ms"].append(_timing(result, lambda r: r.timings.first_event_ms))
        timings["total_ms"].append(_timing(result, lambda r: r.timings.total_ms))
        covered_by.append(item.covered_by if status == "covered" else None)
        ends.append(_timing(result, _end_event))
        if clock_offset is None:
            _timing(result, lambda r: clock.add_user_events(r.timings.sent, r.user_events))

    offset = clock_offset if clock_offset is not None else clock.offset
    delivery = [offset.delay_ms(end[0], end[1]) if end is not None and offset is not None else (None, None)
                for end in ends]

    columns: dict[str, Any] = {
        "record_handle": _int_array(handles, "record_handle", issues),
        "reference_id": _str_array(references, "reference_id", issues),
        "status": pd.Categorical(statuses, dtype=_STATUS),
        "error": pd.array(errors, dtype=_STRING),
        "records": _int_array(counts, "records", issues),
        "attempts": _int_array(attempts, "attempts", issues),
        "sent": _seconds_float_to_utc(_float_array(timings["sent"], "sent", issues)),
        "http_ms": _float_array(timings["http_ms"], "http_ms", issues),
        "first_event_ms": _float_array(timings["first_event_ms"], "first_event_ms", issues),
        "total_ms": _float_array(timings["total_ms"], "total_ms", issues),
        "server_processing_ms": _float_array([None if end is None else end[2] for end in ends],
                                             "server_processing_ms", issues),
        "delivery_low_ms": _float_array([low for low, _ in delivery], "delivery_low_ms", issues),
        "delivery_high_ms": _float_array([high for _, high in delivery], "delivery_high_ms", issues),
        "covered_by": _int_array(covered_by, "covered_by", issues),
    }
    frame = pd.DataFrame(columns, copy=False)
    frame.attrs["clock_offset"] = offset.as_dict() if offset is not None else None
    return issues.finish(frame, skipped, "calls_frame")



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
