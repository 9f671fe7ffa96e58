"""The rules of gwsnb's frames without pandas: gathering rows from results and messages, parsing payload
values, and typed columns that either pandas (:mod:`gwsnb.frames`) or pyarrow (a streamed run's parts,
:mod:`gwsnb._parts`) turn into their own arrays.

Why a module of its own: a streamed run writes its parts with pyarrow, and importing pandas for that
alone cost about 40 MiB of the run's memory (issue 26, docs/performance.md). Every rule (which source
fills a column, what counts as a wrong value, the dtype of a custom field, the categories of a code
column) is written here once; :mod:`gwsnb.frames` documents them (``docs/frames.md``) and keeps the
public builders. This module imports numpy and never loads pandas (it borrows pandas' row helper only when
pandas is loaded already; ``tests/runs/test_arrow_parts.py`` runs a streamed command without it).
"""

from __future__ import annotations

import math
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from . import labels as _labels
from . import protocol
from ._engine.clock import ClockEstimator, ClockOffset, generated_ms
from .errors import describe
from .labels import CodeLabels
from .results import ChainedRecordResult, CoveredHandle, Event

_NoneType = type(None)
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_NAT = np.iinfo(np.int64).min
_INT_TEXT = re.compile(r"[+-]?\d+\Z")


class FrameWarning(UserWarning):
    """Some payload values had the wrong type and became missing values (the message lists them)."""


FrameWarning.__module__ = "gwsnb.frames"  # its documented home (re-exported there)


# --------------------------------------------------------------------------- typed columns
#: the kinds of :class:`Column` and the pandas dtype each becomes (pyarrow's in :mod:`gwsnb._parts`)
INT = "int"  # Int64
FLOAT = "float"  # Float64
STR = "str"  # string
BOOL = "bool"  # boolean
UTC = "utc"  # datetime64[ns, UTC]
DURATION = "duration"  # timedelta64[ns]
CATEGORY = "category"  # Categorical of text labels
OBJECT = "object"  # object (mixed payload values)


@dataclass
class Column:
    """One typed column, neutral between pandas and pyarrow.

    ``values`` is, by ``kind``: a list with ``None`` for missing (``str``, ``bool``, ``object``, and
    ``float`` when ``mask`` is ``None``: NaN became ``None``, ±inf kept); an int64/float64 array beside
    the boolean ``mask`` (``int``, ``float``); int64 nanoseconds with ``_NAT`` for missing (``utc``, ``duration``); int64 category
    codes, ``-1`` for missing, into ``categories`` (``category``).
    """

    kind: str
    values: Any
    mask: np.ndarray | None = None
    categories: list[str] | None = None

    def __len__(self) -> int:
        return len(self.values)


class _Issues:
    """Counts of values of the wrong type, per output column."""

    def __init__(self) -> None:
        self.invalid: dict[str, int] = {}

    def add(self, name: str, count: int) -> None:
        if count:
            self.invalid[name] = self.invalid.get(name, 0) + count

    def warn(self, builder: str, stacklevel: int) -> None:
        """One :class:`FrameWarning` listing the counts, if any."""
        if self.invalid:
            listed = ", ".join(f"{name}={count}" for name, count in self.invalid.items())
            warnings.warn(
                f"{builder}: {sum(self.invalid.values())} value(s) of the wrong type became missing ({listed})",
                FrameWarning,
                stacklevel=stacklevel + 1,
            )


@dataclass
class Built:
    """What a builder gathered: its columns in order, the items it skipped, the wrong values it counted."""

    columns: dict[str, Column]
    skipped: int
    issues: _Issues
    clock_offset: ClockOffset | None = None


# --------------------------------------------------------------------------- conversions
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


def _ints(values: list[Any]) -> Column:
    """An int column from Python ints and ``None`` (``OverflowError`` beyond int64)."""
    objects = np.asarray(values, dtype=object)
    mask = np.asarray(objects == None, dtype=np.bool_)  # noqa: E711 - elementwise: no payload value equals None
    data = np.where(mask, 0, objects).astype(np.int64)
    return Column(INT, data, mask)


def _int_array(values: Any, name: str, issues: _Issues) -> Column:
    types = set(map(type, values))
    if types <= {int, _NoneType}:
        try:
            if _NoneType not in types:
                data = np.asarray(values, dtype=np.int64)
                return Column(INT, data, np.zeros(len(data), dtype=bool))
            return _ints(values)
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
    return _ints(out)


def _float_array(values: Any, name: str, issues: _Issues) -> Column:
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
    return Column(FLOAT, out)


def _str_array(values: Any, name: str, issues: _Issues) -> Column:
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
    elif isinstance(values, np.ndarray):
        values = values.tolist()
    return Column(STR, values)


def _float_values(column: Column) -> np.ndarray:
    """A float column as float64 with NaN where missing."""
    if column.mask is not None:
        return np.where(column.mask, np.nan, column.values)
    return np.array(column.values, dtype=np.float64)  # numpy reads None as NaN


def _scaled_ns(values: Any, name: str, issues: _Issues, unit_ns: int) -> np.ndarray:
    """Integers in some unit as int64 nanoseconds, NaT where missing, wrong or out of range."""
    ints = _int_array(values, name, issues)
    data, mask = ints.values, ints.mask
    assert mask is not None
    limit = _INT64_MAX // unit_ns
    out_of_range = ~mask & ((data > limit) | (data < -limit))
    if out_of_range.any():
        issues.add(name, int(out_of_range.sum()))
        mask = mask | out_of_range
    return np.where(mask, _NAT, np.where(mask, 0, data) * unit_ns)


def _epoch_array(values: Any, name: str, issues: _Issues, unit_ns: int) -> Column:
    return Column(UTC, _scaled_ns(values, name, issues, unit_ns))


def _duration_array(values: Any, name: str, issues: _Issues, unit_ns: int) -> Column:
    return Column(DURATION, _scaled_ns(values, name, issues, unit_ns))


def _minutes_array(values: Any, name: str, issues: _Issues) -> Column:
    """Whole minutes from seconds (``GSW_TZ_OFFSET``); a value that is not a whole minute is invalid."""
    ints = _int_array(values, name, issues)
    data, mask = ints.values, ints.mask
    assert mask is not None
    uneven = ~mask & (data % 60 != 0)
    if uneven.any():
        issues.add(name, int(uneven.sum()))
        mask = mask | uneven
    return Column(INT, np.where(mask, 0, data // 60), mask)


def _ms_from_ns(values: Any, name: str, issues: _Issues) -> Column:
    """Milliseconds (Float64) from integer nanoseconds (``nodeProcessingTimeNanos``)."""
    ints = _int_array(values, name, issues)
    assert ints.mask is not None
    return Column(FLOAT, np.where(ints.mask, 0.0, ints.values / 1e6), ints.mask)


def seconds_to_ns(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds (float64, finite) as int64 nanoseconds, rounded as ``pd.to_datetime(unit="s")`` does:
    the whole seconds exact, their fraction to the nanosecond."""
    whole = seconds.astype(np.int64)
    return whole * 10**9 + (np.round(seconds - whole, 9) * 1e9).astype(np.int64)


def _seconds_float_to_utc(values: Column) -> Column:
    seconds = _float_values(values)
    ok = np.isfinite(seconds) & (np.abs(seconds) < _INT64_MAX / 1e9)
    # time.time() floats carry about a microsecond of precision; rounding there avoids ...999000064 noise
    ns = np.round(np.where(ok, seconds, 0.0) * 1e6).astype(np.int64) * 1000
    return Column(UTC, np.where(ok, ns, _NAT))


def _labelled(codes: Column, mapping: Mapping[int, str]) -> Column:
    """Category labels for ``codes``: every known label is a category (stable dtype), then unknown codes as text."""
    data, mask = codes.values, codes.mask
    assert mask is not None
    known = sorted(mapping)
    present = np.unique(data[~mask]).tolist()
    unknown = [code for code in present if code not in mapping]
    all_codes = known + unknown
    names = [mapping[code] for code in known] + [str(code) for code in unknown]
    categories = list(dict.fromkeys(names))  # a user mapping may give two codes one label
    if not len(data) or not all_codes:
        return Column(CATEGORY, np.full(len(data), -1, dtype=np.int64), categories=categories)
    position = {label: i for i, label in enumerate(categories)}
    code_to_category = np.array([position[label] for label in names], dtype=np.int64)
    # every present code is in all_codes: its place there by a search over the sorted codes
    order = np.argsort(np.array(all_codes, dtype=np.int64), kind="stable")
    sorted_codes = np.array(all_codes, dtype=np.int64)[order]
    found = np.minimum(np.searchsorted(sorted_codes, data), len(sorted_codes) - 1)
    index = np.where(sorted_codes[found] == data, order[found], -1)
    category_codes = np.where(mask | (index < 0), -1, code_to_category[np.maximum(index, 0)])
    return Column(CATEGORY, category_codes, categories=categories)


def _inferred_array(values: Any) -> Column:
    """The column of a custom / unknown key: the nullable kind its values agree on, else object."""
    types = set(map(type, values))
    types.discard(_NoneType)
    if types == {str}:
        return Column(STR, values.tolist() if isinstance(values, np.ndarray) else values)
    if types == {bool}:
        return Column(BOOL, values.tolist() if isinstance(values, np.ndarray) else values)
    if types == {int}:
        try:
            return _ints(values)
        except (OverflowError, TypeError, ValueError):
            pass
    elif types == {float} or types == {int, float}:
        # NaN is a missing value here, as pandas' Float64 reads it
        return Column(FLOAT, [None if v is None or v != v else float(v) for v in values])
    if isinstance(values, np.ndarray):
        return Column(OBJECT, values)
    # fromiter keeps list and dict values as single objects (slice assignment would broadcast them)
    return Column(OBJECT, np.fromiter(values, dtype=object, count=len(values)))


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
    is used when pandas is loaded already (never loaded for it: a streamed run's parts, a few hundred
    rows each, take the portable per-key path, which gives the same values).
    """
    keys = list(keys)
    if _use_pandas_table and rows and len(keys) > _TABLE_MIN_KEYS and "pandas" in sys.modules:
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
"""The standard leading columns of :func:`gwsnb.frames.records_frame`, always present, in this order."""

_EMPTY: dict[str, Any] = {}


class _RecordRows:
    """The record dicts a :func:`record_columns` call gathers, with their userData and call context."""

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


def _resolve_labels(labels: CodeLabels | Mapping[str, Mapping[int, str]] | None) -> CodeLabels:
    if labels is None:
        return _labels.current()
    if isinstance(labels, CodeLabels):
        return labels
    return CodeLabels(labels)


def record_columns(items: Iterable[Any], labels: CodeLabels | Mapping[str, Mapping[int, str]] | None = None) -> Built:
    """The columns of :func:`gwsnb.frames.records_frame` (its docstring and ``docs/frames.md`` say what they are)."""
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
    return Built(_record_columns(rows, code_labels, issues), rows.skipped, issues)


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
"""The columns of :func:`gwsnb.frames.metrics_frame`, in order."""


def metric_columns(items: Iterable[Any]) -> Built:
    """The columns of :func:`gwsnb.frames.metrics_frame` (see there)."""
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
    return Built(_metric_columns(rows, issues), rows.skipped, issues)


class _MetricRows:
    """The server events a :func:`metric_columns` call gathers."""

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



def _metric_columns(rows: _MetricRows, issues: _Issues) -> dict[str, Column]:
    processing, user_data = rows.processing, rows.user_data
    generated_ns = _scaled_ns(_column(processing, "serverGenerationTimestamp"), "server_generated_at", issues, 10**6)
    received_s = _float_array(rows.received, "client_received_at", issues)
    generated_ms = np.where(generated_ns == _NAT, np.nan, generated_ns / 1e6)
    lag = _float_values(received_s) * 1000.0 - generated_ms
    # a float NaN is the missing marker of the arithmetic above, not a value
    lag_missing = np.isnan(lag)
    return {
        "reference_id": _str_array(rows.references, "reference_id", issues),
        "record_handle": _int_array(_column(user_data, "GSW_RECORD_HANDLE"), "record_handle", issues),
        "user_event": _str_array(_column(user_data, "GSW_USER_EVENT"), "user_event", issues),
        "server_generated_at": Column(UTC, generated_ns),
        "node_processing_ms": _ms_from_ns(_column(processing, "nodeProcessingTimeNanos"), "node_processing_ms", issues),
        "server_processing_ms": _float_array(
            _column(processing, "serverProcessingTimeTotalMs"), "server_processing_ms", issues
        ),
        "client_received_at": _seconds_float_to_utc(received_s),
        "delivery_lag_ms": Column(FLOAT, np.where(lag_missing, 0.0, lag), lag_missing),
        "chain_id": _int_array(_column(user_data, "GSW_CHAIN_ID"), "chain_id", issues),
        "device_id": _str_array(rows.device_ids, "device_id", issues),
    }


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
"""The columns of :func:`gwsnb.frames.calls_frame`, in order."""

#: the categories of the calls' ``status``, in order
STATUSES = ("ok", "error", "covered")


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



class _CallRows:
    """The calls a :func:`call_columns` call gathers."""

    def __init__(self, clock_offset: ClockOffset | None) -> None:
        self.handles: list[Any] = []
        self.references: list[Any] = []
        self.statuses: list[int] = []
        self.errors: list[str | None] = []
        self.counts: list[Any] = []
        self.attempts: list[Any] = []
        self.timings: dict[str, list[Any]] = {"sent": [], "http_ms": [], "first_event_ms": [], "total_ms": []}
        self.ends: list[tuple[float, float, Any] | None] = []
        self.covered_by: list[Any] = []
        self.clock_offset = clock_offset
        self.clock = ClockEstimator()
        self.skipped = 0

    def add(self, item: Any) -> None:
        outcome = _outcome(item)
        if outcome is None:
            self.skipped += 1
            return
        status, error, handle, result = outcome
        self.statuses.append(STATUSES.index(status))
        self.errors.append(error)
        self.handles.append(handle)
        self.references.append(result.reference_id if result else None)
        self.counts.append(len(result.records) if result else None)
        self.attempts.append(result.attempts if result else None)
        self.timings["sent"].append(_timing(result, lambda r: r.timings.sent))
        self.timings["http_ms"].append(_timing(result, lambda r: r.timings.http_ms))
        self.timings["first_event_ms"].append(_timing(result, lambda r: r.timings.first_event_ms))
        self.timings["total_ms"].append(_timing(result, lambda r: r.timings.total_ms))
        self.covered_by.append(item.covered_by if status == "covered" else None)
        self.ends.append(_timing(result, _end_event))
        if self.clock_offset is None:
            _timing(result, lambda r: self.clock.add_user_events(r.timings.sent, r.user_events))


def call_columns(items: Iterable[Any], clock_offset: ClockOffset | None = None) -> Built:
    """The columns of :func:`gwsnb.frames.calls_frame` (see there); ``Built.clock_offset`` is the offset used."""
    issues = _Issues()
    rows = _CallRows(clock_offset)
    for item, _, _ in _walk(items, None):
        rows.add(item)
    ends = rows.ends
    offset = clock_offset if clock_offset is not None else rows.clock.offset
    delivery = [offset.delay_ms(end[0], end[1]) if end is not None and offset is not None else (None, None)
                for end in ends]
    timings = rows.timings
    columns: dict[str, Column] = {
        "record_handle": _int_array(rows.handles, "record_handle", issues),
        "reference_id": _str_array(rows.references, "reference_id", issues),
        "status": Column(CATEGORY, np.array(rows.statuses, dtype=np.int64), categories=list(STATUSES)),
        "error": Column(STR, rows.errors),
        "records": _int_array(rows.counts, "records", issues),
        "attempts": _int_array(rows.attempts, "attempts", issues),
        "sent": _seconds_float_to_utc(_float_array(timings["sent"], "sent", issues)),
        "http_ms": _float_array(timings["http_ms"], "http_ms", issues),
        "first_event_ms": _float_array(timings["first_event_ms"], "first_event_ms", issues),
        "total_ms": _float_array(timings["total_ms"], "total_ms", issues),
        "server_processing_ms": _float_array([None if end is None else end[2] for end in ends],
                                             "server_processing_ms", issues),
        "delivery_low_ms": _float_array([low for low, _ in delivery], "delivery_low_ms", issues),
        "delivery_high_ms": _float_array([high for _, high in delivery], "delivery_high_ms", issues),
        "covered_by": _int_array(rows.covered_by, "covered_by", issues),
    }
    return Built(columns, rows.skipped, issues, offset)
