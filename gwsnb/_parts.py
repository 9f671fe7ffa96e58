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

from . import _columns
from ._columns import Column
from .batch import HandleFailure
from .results import ChainedRecordResult, CoveredHandle

if TYPE_CHECKING:
    from array import array

    import pandas as pd
    import pyarrow as pa

    from .pace import Load

# pyarrow is imported in each function, not here: every module of gwsnb imports without the parquet extra
# (the wheel check imports them all); the functions run only in streamed runs, which need it.
_NAT = _columns._NAT


def _text_type() -> pa.DataType:
    import pyarrow as pa

    return pa.large_string()  # what pandas' string dtype (pyarrow storage) becomes


def _utc_ns() -> pa.DataType:
    import pyarrow as pa

    return pa.timestamp("ns", tz="UTC")


def _index_type(categories: int) -> pa.DataType:
    """The dictionary index type pandas gives a Categorical of ``categories`` (its codes' dtype: pandas'
    ``coerce_indexer_dtype`` takes int8 below 127 categories, not 128, and so on up)."""
    import pyarrow as pa

    if categories < 2**7 - 1:
        return pa.int8()
    if categories < 2**15 - 1:
        return pa.int16()
    return pa.int32() if categories < 2**31 - 1 else pa.int64()


# The arrays are built from buffers (pa.Array.from_buffers), not with pa.array(): pa.array() imports
# pandas whenever pandas is installed (pyarrow asks whether its input is a pandas object), and keeping
# pandas out of a streamed run is the point of this module (tests/runs/test_arrow_parts.py).
def _validity(mask: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
    """Arrow's validity bitmap of ``mask`` (True = missing) and the null count; no bitmap when none is missing."""
    import pyarrow as pa

    if mask is None:
        return None, 0
    nulls = int(np.count_nonzero(mask))
    if not nulls:
        return None, 0
    return pa.py_buffer(np.packbits(~mask, bitorder="little")), nulls


def fixed_array(arrow_type: pa.DataType, data: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """An array of a fixed-width Arrow type over ``data`` (numpy, of that width), null where ``mask``.

    :raises ValueError: ``data``'s items are not as wide as the type's (the buffer would be misread).
    """
    import pyarrow as pa

    data = np.ascontiguousarray(data)
    if data.dtype.itemsize * 8 != arrow_type.bit_width:
        raise ValueError(f"{data.dtype} data for Arrow type {arrow_type}")
    validity, nulls = _validity(mask)
    return pa.Array.from_buffers(arrow_type, len(data), [validity, pa.py_buffer(data)], null_count=nulls)


def text_array(values: Sequence[Any]) -> pa.Array:
    """A large_string array of ``values`` (str, ``None`` for missing)."""
    import pyarrow as pa

    n = len(values)
    mask = np.fromiter((v is None for v in values), dtype=bool, count=n)
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=offsets[1:])
    validity, nulls = _validity(mask)
    return pa.Array.from_buffers(_text_type(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
                                 null_count=nulls)


def _bool_array(values: Sequence[Any]) -> pa.Array:
    import pyarrow as pa

    n = len(values)
    mask = np.fromiter((v is None for v in values), dtype=bool, count=n)
    bits = np.packbits(np.fromiter((v is True for v in values), dtype=bool, count=n), bitorder="little")
    validity, nulls = _validity(mask)
    return pa.Array.from_buffers(pa.bool_(), n, [validity, pa.py_buffer(bits)], null_count=nulls)


def _float_list(values: Sequence[Any]) -> pa.Array:
    import pyarrow as pa

    data = np.array(values, dtype=np.float64)  # None becomes NaN: the column's values are finite
    mask = np.isnan(data)
    return fixed_array(pa.float64(), np.where(mask, 0.0, data), mask)


def _category(column: Column) -> pa.Array:
    import pyarrow as pa

    categories = column.categories or []
    codes = np.asarray(column.values)
    index_type = _index_type(len(categories))
    # the codes' numpy type from the index type's width: DataType.to_pandas_dtype() imports pandas (pyarrow 25)
    indices = fixed_array(index_type, np.where(codes < 0, 0, codes).astype(f"int{index_type.bit_width}"), codes < 0)
    # no categories at all: pandas' empty Index is typed null, and so was the part's column
    dictionary = text_array(categories) if categories else pa.nulls(0)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def arrow_array(column: Column) -> pa.Array:
    """The Arrow array of one typed column (Int64 → int64, Float64 → double, text → large_string,
    instants → timestamp[ns, UTC], windows → duration[ns], labels → dictionary, mixed → text)."""
    import pyarrow as pa

    kind, values, mask = column.kind, column.values, column.mask
    if kind == _columns.INT:
        return fixed_array(pa.int64(), values, mask)
    if kind == _columns.FLOAT:
        return fixed_array(pa.float64(), values, mask) if mask is not None else _float_list(values)
    if kind == _columns.STR:
        return text_array(values)
    if kind == _columns.BOOL:
        return _bool_array(values)
    if kind in (_columns.UTC, _columns.DURATION):
        missing = values == _NAT
        arrow_type = _utc_ns() if kind == _columns.UTC else pa.duration("ns")
        return fixed_array(arrow_type, np.where(missing, 0, values), missing)
    if kind == _columns.CATEGORY:
        return _category(column)
    # mixed payload values are kept as text, one Parquet type per column (as the pandas writer did)
    return text_array([None if v is None else str(v) for v in values])


def _table(built: _columns.Built, builder: str) -> pa.Table:
    import pyarrow as pa

    built.issues.warn(builder, stacklevel=3)
    return pa.Table.from_arrays([arrow_array(column) for column in built.columns.values()],
                                names=list(built.columns))


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
    import pyarrow as pa

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

def load_schema() -> pa.Schema:
    """The load log's Parquet schema."""
    import pyarrow as pa

    return pa.schema([("sent", _utc_ns()), ("latency_ms", pa.float64()), ("concurrency", pa.int64()),
                      ("in_flight", pa.int64()), ("kind", pa.dictionary(pa.int8(), _text_type()))])


def _slice(values: array[Any], start: int, stop: int, dtype: str) -> np.ndarray:
    # a slice of array.array is a copy: numpy never holds a view on an array the loop thread appends to
    return np.frombuffer(values[start:stop], dtype=dtype)


def load_batches(load: Load) -> Any:
    """The load log's rows (the columns of :meth:`gwsnb.pace.Load.frame`) as Arrow record batches of
    :data:`LOAD_ROWS`, each built from a slice of the log's arrays (never the whole log at once)."""
    import pyarrow as pa

    from .pace import CALL_KINDS

    kinds = text_array(CALL_KINDS)
    schema = load_schema()
    n = len(load.kind)  # appended last: the other arrays hold at least as many
    for start in range(0, n, LOAD_ROWS):
        stop = min(n, start + LOAD_ROWS)
        sent = _columns.seconds_to_ns(_slice(load.sent, start, stop, "float64"))
        latency_ms = _slice(load.latency, start, stop, "float32").astype(np.float64) * 1000.0
        kind = _slice(load.kind, start, stop, "uint8").astype(np.int8)
        yield pa.RecordBatch.from_arrays([
            fixed_array(_utc_ns(), sent),
            fixed_array(pa.float64(), latency_ms),
            fixed_array(pa.int64(), _slice(load.concurrency, start, stop, "uint16").astype(np.int64)),
            fixed_array(pa.int64(), _slice(load.in_flight, start, stop, "uint16").astype(np.int64)),
            pa.DictionaryArray.from_arrays(fixed_array(pa.int8(), kind), kinds),
        ], schema=schema)


def write_load(load: Load, where: Any) -> None:
    """The load log as Parquet at ``where`` (a path or a binary file), one row group per batch."""
    import pyarrow.parquet as pq

    # dictionary encoding for ``kind`` only: on the instants, latencies and counts it found few repeats and
    # held its hash tables (about 6 MiB more RSS at the end of a 437,000-call run, gone without it)
    with pq.ParquetWriter(where, load_schema(), use_dictionary=["kind"]) as writer:
        for batch in load_batches(load):
            writer.write_batch(batch)
