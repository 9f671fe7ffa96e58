"""The tables of a streamed run's part, and its load log, built straight into pyarrow (no pandas).

A part's records, metrics and calls tables have the columns and rules of :mod:`gwsnb.frames` (gathered
and parsed once, in :mod:`gwsnb._columns`) and the Arrow types ``pyarrow.Table.from_pandas`` gave those
frames when parts were written through pandas: a run begun that way resumes with these tables and reads
back as one table.  The Parquet files carry no pandas metadata; :func:`pandas_types` is the reader's
side (``Run`` reads every part through it, old or new).  Why: pandas was the largest single cost of a
streamed run's memory (issue 26; the figures are on docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from . import _columns
from ._columns import Column
from .batch import HandleFailure
from .results import ChainedRecordResult, CoveredHandle

if TYPE_CHECKING:
    from array import array

    import pandas as pd

    from .pace import Load

_TEXT = pa.large_string()  # what pandas' string dtype (pyarrow storage) becomes
_UTC_NS = pa.timestamp("ns", tz="UTC")
_NAT = _columns._NAT


def _index_type(categories: int) -> pa.DataType:
    """The dictionary index type pandas gives a Categorical of ``categories`` (its codes' dtype)."""
    if categories < 2**7:
        return pa.int8()
    if categories < 2**15:
        return pa.int16()
    return pa.int32() if categories < 2**31 else pa.int64()


def _category(column: Column) -> pa.Array:
    categories = column.categories or []
    codes = np.asarray(column.values)
    index_type = _index_type(len(categories))
    indices = pa.array(codes.astype(index_type.to_pandas_dtype()), mask=codes < 0, type=index_type)
    # no categories at all: pandas' empty Index is typed null, and so was the part's column
    dictionary = pa.array(categories, type=_TEXT) if categories else pa.array([], type=pa.null())
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _object_text(values: Any) -> pa.Array:
    # mixed payload values are kept as text, one Parquet type per column (as the pandas writer did)
    return pa.array([None if v is None else str(v) for v in values], type=_TEXT)


def arrow_array(column: Column) -> pa.Array:
    """The Arrow array of one typed column (Int64 → int64, Float64 → double, text → large_string,
    instants → timestamp[ns, UTC], windows → duration[ns], labels → dictionary, mixed → text)."""
    kind, values, mask = column.kind, column.values, column.mask
    if kind == _columns.INT:
        return pa.array(values, mask=mask, type=pa.int64()) if mask is not None else pa.array(values, pa.int64())
    if kind == _columns.FLOAT:
        if mask is not None:
            return pa.array(values, mask=mask, type=pa.float64())
        return pa.array(values, type=pa.float64(), from_pandas=True)
    if kind == _columns.STR:
        return pa.array(values, type=_TEXT)
    if kind == _columns.BOOL:
        return pa.array(values, type=pa.bool_())
    if kind == _columns.UTC:
        return pa.array(values.view("M8[ns]"), mask=values == _NAT, type=_UTC_NS)
    if kind == _columns.DURATION:
        return pa.array(values.view("m8[ns]"), mask=values == _NAT, type=pa.duration("ns"))
    if kind == _columns.CATEGORY:
        return _category(column)
    return _object_text(values)


def _table(built: _columns.Built, builder: str) -> pa.Table:
    built.issues.warn(builder, stacklevel=3)
    return pa.table({name: arrow_array(column) for name, column in built.columns.items()})


def part_tables(outcomes: Sequence[ChainedRecordResult | HandleFailure | CoveredHandle]) -> dict[str, pa.Table]:
    """The records, metrics and calls tables of some outcomes: :func:`gwsnb.runs.part_frames` as Arrow
    (the calls' ``attempts`` taken from each outcome; none for a covered handle)."""
    results = [o for o in outcomes if isinstance(o, ChainedRecordResult)]
    calls = _columns.call_columns([o.error if isinstance(o, HandleFailure) else o for o in outcomes])
    calls.columns["attempts"] = _columns._ints([None if isinstance(o, CoveredHandle) else o.attempts
                                                 for o in outcomes])
    return {"records": _table(_columns.record_columns(results), "records_frame"),
            "metrics": _table(_columns.metric_columns(results), "metrics_frame"),
            "calls": _table(calls, "calls_frame")}


def pandas_types(arrow_type: pa.DataType) -> Any:
    """The pandas dtype of an Arrow type as :mod:`gwsnb.frames` gives it (a ``types_mapper`` for
    ``Table.to_pandas``): int64 → Int64, double → Float64, text → string, bool → boolean; ``None``
    (pyarrow's own choice) for the others: timestamps, durations and dictionaries convert as they are.

    Parts written through pandas carried that mapping in their pandas metadata, the parts written here
    carry none: the reader applies it to both, so they read the same (and a run mixing both, one table).
    """
    import pandas as pd

    if pa.types.is_int64(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_float64(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_large_string(arrow_type) or pa.types.is_string(arrow_type):
        return pd.StringDtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A part's table (or several, concatenated) as the frame :mod:`gwsnb.frames` would give."""
    return table.to_pandas(types_mapper=pandas_types)


# --------------------------------------------------------------------------- the load log
#: rows of the load log per Parquet row group (and per batch built from the arrays: memory stays flat)
LOAD_ROWS = 65_536

LOAD_SCHEMA = pa.schema([("sent", _UTC_NS), ("latency_ms", pa.float64()), ("concurrency", pa.int64()),
                         ("in_flight", pa.int64()), ("kind", pa.dictionary(pa.int8(), _TEXT))])


def _slice(values: array[Any], start: int, stop: int, dtype: str) -> np.ndarray:
    # a slice of array.array is a copy: numpy never holds a view on an array the loop thread appends to
    return np.frombuffer(values[start:stop], dtype=dtype)


def load_batches(load: Load) -> Any:
    """The load log's rows (the columns of :meth:`gwsnb.pace.Load.frame`) as Arrow record batches of
    :data:`LOAD_ROWS`, each built from a slice of the log's arrays (never the whole log at once)."""
    from .pace import CALL_KINDS

    kinds = pa.array(list(CALL_KINDS), type=_TEXT)
    n = len(load.kind)  # appended last: the other arrays hold at least as many
    for start in range(0, n, LOAD_ROWS):
        stop = min(n, start + LOAD_ROWS)
        sent = _columns.seconds_to_ns(_slice(load.sent, start, stop, "float64"))
        latency_ms = _slice(load.latency, start, stop, "float32").astype(np.float64) * 1000.0
        kind = _slice(load.kind, start, stop, "uint8").astype(np.int8)
        yield pa.record_batch([
            pa.array(sent.view("M8[ns]"), type=_UTC_NS),
            pa.array(latency_ms, type=pa.float64()),
            pa.array(_slice(load.concurrency, start, stop, "uint16").astype(np.int64), type=pa.int64()),
            pa.array(_slice(load.in_flight, start, stop, "uint16").astype(np.int64), type=pa.int64()),
            pa.DictionaryArray.from_arrays(pa.array(kind, type=pa.int8()), kinds),
        ], schema=LOAD_SCHEMA)


def write_load(load: Load, where: Any) -> None:
    """The load log as Parquet at ``where`` (a path or a binary file), one row group per batch."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(where, LOAD_SCHEMA) as writer:
        for batch in load_batches(load):
            writer.write_batch(batch)
