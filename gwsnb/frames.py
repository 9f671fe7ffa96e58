"""Analysis-ready pandas DataFrames from GetChainedRecord results and raw CometD messages.

Four builders, each taking a mix of :class:`~gwsnb.results.ChainedRecordResult` objects and raw messages
(``{"channel", "data"}`` dicts or :class:`~gwsnb.results.Event` objects) and returning one frame whose
standard columns and dtypes do not depend on the mix (an empty input gives the same columns):

- :func:`records_frame`: one row per chained record;
- :func:`metrics_frame`: one row per server event (``/me/internal`` DeviceUserEventMessage) with timings;
- :func:`events_frame`: one row per raw message;
- :func:`calls_frame`: one row per call, from results and from the errors the client raised.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from . import labels as _labels
from .errors import describe
from .labels import CodeLabels
from .results import ChainedRecordResult, Event

__all__ = [
    "FrameWarning",
    "calls_frame",
    "events_frame",
    "metrics_frame",
    "records_frame",
]

_NoneType = type(None)
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_NAT = np.iinfo(np.int64).min
_INT_TEXT = re.compile(r"[+-]?\d+\Z")
_STRING = pd.StringDtype()

try:  # see _columns
    from pandas._libs.lib import dicts_to_array as _dicts_to_array
except ImportError:  # pragma: no cover - depends on the pandas build
    _dicts_to_array = None
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


def _columns(rows: list[dict[str, Any]], keys: Iterable[str]) -> dict[str, Any]:
    """Each key's values over all rows (``None`` where a row lacks the key), as lists or object arrays.

    This is the hot spot of every builder. With many keys, one pass per key over 100,000 dicts is
    memory-bound (each pass walks every dict again), so pandas' own C helper that fills a 2-D object
    array in one row-wise pass is used when available. It is a private pandas function: any change in
    it falls back to the portable per-key path, which gives the same values.
    """
    keys = list(keys)
    if _dicts_to_array is not None and rows and len(keys) > 4:
        try:
            table = _dicts_to_array(rows, keys)
        except Exception:  # noqa: BLE001 - private helper; any change of contract means: use the portable path
            table = None
        if isinstance(table, np.ndarray) and table.shape == (len(rows), len(keys)) and table.dtype == object:
            # The helper marks an absent key with the np.nan object itself; a NaN in the payload is
            # another float object and stays a (wrong) value. When every row has every key (the usual
            # case: one producer, one calling-list format) there is nothing to replace.
            complete = set(map(len, rows)) == {len(keys)}
            marker = np.nan
            out: dict[str, Any] = {}
            for j, key in enumerate(keys):
                column = np.ascontiguousarray(table[:, j])
                if not complete:
                    absent = np.fromiter((value is marker for value in column), dtype=bool, count=len(column))
                    if absent.any():
                        column[absent] = None
                out[key] = column
            return out
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


def _message_and_data(item: Any) -> tuple[dict[str, Any] | None, float | None]:
    """The Bayeux message of ``item`` (an Event or a dict) and its receipt time, or ``(None, None)``."""
    if isinstance(item, Event):
        message = item.message
        received = item.received_at
        return (message if isinstance(message, dict) else None), received
    if isinstance(item, dict):
        return item, None
    return None, None


def _data_of(message: dict[str, Any]) -> Any:
    # A message as received has "channel" and "data"; a bare ``data`` dict (as in the contract's
    # PreviewRecord sample) is accepted too.
    if "data" in message or "channel" in message:
        return message.get("data")
    return message


# --------------------------------------------------------------------------- records
_KIND_STR = "str"
_KIND_INT = "int"
_KIND_CODE = "code"
_KIND_EPOCH_S = "epoch_s"
_KIND_SECONDS = "seconds"

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
    ("tz_offset", _KIND_SECONDS, (("userData", "GSW_TZ_OFFSET"),)),
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

    Columns, in order (:data:`RECORD_COLUMNS` and then the extras):

    - ``reference_id`` (string), ``record_handle``, ``chain_id``, ``chain_n`` (Int64), ``contact_info`` (string);
    - ``contact_info_type``, ``record_type``, ``record_status``, ``call_result``: Categorical labels (see
      :mod:`gwsnb.labels`; every known label is a category, an unknown code appears as its number in text),
      each followed by its raw ``*_code`` (Int64);
    - ``attempt`` (Int64); ``dial_sched_time``, ``call_time`` (``datetime64[ns, UTC]`` from epoch seconds);
      ``daily_from``, ``daily_till`` (``timedelta64[ns]`` since midnight); ``tz_name`` (string),
      ``tz_offset`` (``timedelta64[ns]``), ``tz_dbid`` (Int64);
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
    skipped = 0
    records: list[dict[str, Any]] = []
    user_data: list[dict[str, Any]] = []
    references: list[Any] = []
    calls: list[dict[str, Any]] = []
    bad_user_data = 0
    chained = "ChainedRecord"

    for item in items:
        if isinstance(item, ChainedRecordResult):
            call = {
                "campaign_name": item.campaign_name,
                "application_id": item.application_id,
                "device_path": item.device_path,
            }
            for record in item.records:
                if not isinstance(record, dict):
                    skipped += 1
                    continue
                ud = record.get("userData")
                if not isinstance(ud, dict):
                    bad_user_data += ud is not None
                    ud = _EMPTY
                records.append(record)
                user_data.append(ud)
                references.append(item.reference_id)
                calls.append(call)
            continue
        if type(item) is dict:  # the common case, inlined: this loop runs once per message
            data = item.get("data") if ("data" in item or "channel" in item) else item
        else:
            message, _ = _message_and_data(item)
            data = _data_of(message) if message is not None else None
        if not isinstance(data, dict) or data.get("notificationType") != chained:
            skipped += 1
            continue
        payload_record = data.get("record")
        if not isinstance(payload_record, dict):
            skipped += 1
            continue
        ud = payload_record.get("userData")
        if not isinstance(ud, dict):
            bad_user_data += ud is not None
            ud = _EMPTY
        records.append(payload_record)
        user_data.append(ud)
        references.append(data.get("referenceId"))
        calls.append(_EMPTY)
    issues.add("userData", bad_user_data)

    user_keys = set().union(*user_data) if user_data else set()
    record_keys = set().union(*records) - {"userData"} if records else set()
    by_level = {
        "userData": _columns(user_data, sorted(user_keys)),
        "record": _columns(records, sorted(record_keys)),
    }
    absent = [None] * len(records)

    def source(level: str, key: str) -> Any:
        if level == "call":
            return _column(calls, key)
        return by_level[level].get(key, absent)

    columns: dict[str, Any] = {"reference_id": _str_array(references, "reference_id", issues)}
    for name, kind, sources in _RECORD_COLUMNS:
        raw = _first_present(source(level, key) for level, key in sources)
        if kind == _KIND_STR:
            columns[name] = _str_array(raw, name, issues)
        elif kind == _KIND_INT:
            columns[name] = _int_array(raw, name, issues)
        elif kind == _KIND_CODE:
            codes = _int_array(raw, name, issues)
            columns[name] = _labelled(codes, code_labels[name])
            columns[f"{name}_code"] = codes
        elif kind == _KIND_EPOCH_S:
            columns[name] = _epoch_array(raw, name, issues, 10**9)
        else:
            columns[name] = _duration_array(raw, name, issues, 10**9)

    extra_user_keys = user_keys - _USERDATA_KEYS_USED
    custom = sorted(key for key in extra_user_keys if not key.startswith("GSW_"))
    gsw = sorted(key for key in extra_user_keys if key.startswith("GSW_"))
    for key in custom + gsw:
        name = key if key not in columns else f"userData.{key}"
        columns[name] = _inferred_array(by_level["userData"][key])
    for key in sorted(record_keys - _RECORD_KEYS_USED):
        columns[f"record.{key}"] = _inferred_array(by_level["record"][key])

    frame = pd.DataFrame(columns, copy=False)
    return issues.finish(frame, skipped, "records_frame")


# --------------------------------------------------------------------------- metrics
METRICS_COLUMNS: tuple[str, ...] = (
    "reference_id",
    "record_handle",
    "user_event",
    "server_generated_at",
    "node_processing",
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
    ``serverGenerationTimestamp`` epoch ms), ``node_processing`` (``timedelta64[ns]`` from
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
    skipped = 0
    references: list[Any] = []
    received: list[Any] = []
    user_data: list[dict[str, Any]] = []
    processing: list[dict[str, Any]] = []
    device_ids: list[Any] = []
    bad_user_data = 0
    bad_metrics = 0
    kind = "DeviceUserEventMessage"

    def add(data: dict[str, Any], reference: Any, at: Any) -> None:
        nonlocal bad_user_data, bad_metrics
        ud = data.get("userData")
        if not isinstance(ud, dict):
            bad_user_data += ud is not None
            ud = _EMPTY
        metrics = data.get("metrics")
        event_processing: Any = _EMPTY
        if isinstance(metrics, dict):
            event_processing = metrics.get("eventProcessing", _EMPTY)
            if not isinstance(event_processing, dict):
                bad_metrics += event_processing is not None
                event_processing = _EMPTY
        elif metrics is not None:
            bad_metrics += 1
        references.append(reference)
        received.append(at)
        user_data.append(ud)
        processing.append(event_processing)
        device_ids.append(data.get("deviceId"))

    for item in items:
        if isinstance(item, ChainedRecordResult):
            for event in item.user_events:
                message, at = _message_and_data(event)
                data = _data_of(message) if message is not None else None
                if isinstance(data, dict) and data.get("messageType") == kind:
                    add(data, item.reference_id, at)
                else:
                    skipped += 1
            continue
        message, at = _message_and_data(item)
        data = _data_of(message) if message is not None else None
        if isinstance(data, dict) and data.get("messageType") == kind:
            add(data, data.get("referenceId"), at)
        else:
            skipped += 1
    issues.add("userData", bad_user_data)
    issues.add("metrics", bad_metrics)

    generated_ns = _scaled_ns(_column(processing, "serverGenerationTimestamp"), "server_generated_at", issues, 10**6)
    received_s = _float_array(received, "client_received_at", issues)
    generated_ms = np.where(generated_ns == _NAT, np.nan, generated_ns / 1e6)
    lag = received_s.to_numpy(dtype=np.float64, na_value=np.nan) * 1000.0 - generated_ms
    columns: dict[str, Any] = {
        "reference_id": _str_array(references, "reference_id", issues),
        "record_handle": _int_array(_column(user_data, "GSW_RECORD_HANDLE"), "record_handle", issues),
        "user_event": _str_array(_column(user_data, "GSW_USER_EVENT"), "user_event", issues),
        "server_generated_at": _utc_array(generated_ns),
        "node_processing": _duration_array(_column(processing, "nodeProcessingTimeNanos"), "node_processing", issues, 1),
        "server_processing_ms": _float_array(
            _column(processing, "serverProcessingTimeTotalMs"), "server_processing_ms", issues
        ),
        "client_received_at": _seconds_float_to_utc(received_s),
        "delivery_lag_ms": pd.array(lag, dtype="Float64"),
        "chain_id": _int_array(_column(user_data, "GSW_CHAIN_ID"), "chain_id", issues),
        "device_id": _str_array(device_ids, "device_id", issues),
    }
    # a float NaN is the missing marker of the arithmetic above, not a value
    columns["delivery_lag_ms"][np.isnan(lag)] = pd.NA
    frame = pd.DataFrame(columns, copy=False)
    return issues.finish(frame, skipped, "metrics_frame")


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

    def add(message: Any, at: Any) -> None:
        nonlocal skipped
        if not isinstance(message, dict):
            skipped += 1
            return
        data = message.get("data")
        data = data if isinstance(data, dict) else _EMPTY
        record = data.get("record")
        handle = record.get("recordHandle") if isinstance(record, dict) else None
        if handle is None:
            ud = data.get("userData")
            handle = ud.get("GSW_RECORD_HANDLE") if isinstance(ud, dict) else None
        received.append(at)
        payloads.append(message)
        datas.append(data)
        handles.append(handle)

    for item in messages:
        if isinstance(item, ChainedRecordResult):
            for event in item.events:
                message, at = _message_and_data(event)
                add(message, at)
            continue
        message, at = _message_and_data(item)
        add(message, at)

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
)
"""The columns of :func:`calls_frame`, in order."""

_STATUS = pd.CategoricalDtype(["ok", "error"])


def _timing(result: ChainedRecordResult | None, get: Callable[[ChainedRecordResult], Any]) -> Any:
    if result is None:
        return None
    try:
        return get(result)
    except (AttributeError, TypeError):
        return None


def calls_frame(items: Iterable[Any]) -> pd.DataFrame:
    """One row per call: its handle, outcome, record count and client timings.

    ``items`` mixes :class:`~gwsnb.results.ChainedRecordResult` objects and exceptions raised by the
    client; an exception carries the partial result as its ``result`` attribute (a result or ``None``)
    and may carry ``record_handle``. A result without ChainedRecordsDataEnd counts as an error
    (``IncompleteResult``). Other items are skipped and counted in ``df.attrs["skipped"]``.

    Columns: ``record_handle`` (Int64), ``reference_id`` (string), ``status`` (Categorical ``ok`` /
    ``error``), ``error`` (string ``"TypeName: message"``, missing when ok), ``records``, ``attempts``
    (Int64), ``sent`` (``datetime64[ns, UTC]``), ``http_ms``, ``first_event_ms``, ``total_ms`` (Float64).

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

    for item in items:
        result: ChainedRecordResult | None
        if isinstance(item, ChainedRecordResult):
            result = item
            if result.complete:
                statuses.append("ok")
                errors.append(None)
            else:
                statuses.append("error")
                errors.append("IncompleteResult: no ChainedRecordsDataEnd received")
            handles.append(result.record_handle)
        elif isinstance(item, BaseException):
            carried = getattr(item, "result", None)
            result = carried if isinstance(carried, ChainedRecordResult) else None
            statuses.append("error")
            errors.append(describe(item))
            handle = getattr(item, "record_handle", None)
            handles.append(handle if handle is not None else (result.record_handle if result else None))
        else:
            skipped += 1
            continue
        references.append(result.reference_id if result else None)
        counts.append(len(result.records) if result else None)
        attempts.append(result.attempts if result else None)
        timings["sent"].append(_timing(result, lambda r: r.timings.sent))
        timings["http_ms"].append(_timing(result, lambda r: r.timings.http_ms))
        timings["first_event_ms"].append(_timing(result, lambda r: r.timings.first_event_ms))
        timings["total_ms"].append(_timing(result, lambda r: r.timings.total_ms))

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
    }
    frame = pd.DataFrame(columns, copy=False)
    return issues.finish(frame, skipped, "calls_frame")

