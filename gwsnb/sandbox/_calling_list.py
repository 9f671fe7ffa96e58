"""OCS-like calling lists for the sandbox: a seeded generator of chained records and a CSV/DataFrame loader.

A calling list is a table of records; a *chain* is all records sharing ``chain_id``, ordered by ``chain_n``
(OCS primary key ``(chain_id, chain_n)``, see ``docs/gws-flow.md``). :class:`CallingList` holds one list as a
pandas DataFrame sorted by ``(chain_id, chain_n)`` and answers :meth:`CallingList.chain` without scanning
the list: the rows of a chain are contiguous, and the handle → row → chain lookup is done with numpy index
arrays built once (plain arithmetic when handles are a contiguous range, a binary search otherwise).

Choices (the contract leaves them open; documented here and in the module's tests):

* ``chain_n`` starts at **0** in generated lists (the first record of a chain has ``chain_n == 0``).
  Loaded lists keep their own numbering; gaps are allowed, the order is by ``chain_n``.
* Generated ``record_handle`` values are ``1..N`` in ``(chain_id, chain_n)`` order; ``chain_id`` is ``1..C``.
* ``call_result`` uses the OCS call-result enumeration: a never-dialled record carries 28 (*Unknown Call
  Result*, the value OCS gives new records; also what the documented PreviewRecord sample shows for a
  record with 0 attempts); dialled records carry e.g. 33 Answer, 7 No Answer, 9 Answering Machine
  Detected, 6 Busy, 26 Dropped, 8 SIT Detected, 21 Abandoned, 17 Fax Detected, 53 Wrong Number.
* Times are epoch seconds UTC around a fixed reference instant (:data:`REFERENCE_EPOCH`), never the wall
  clock, so that a seed fully determines the list. ``call_time`` is missing (``None``) for never-dialled
  records; ``dial_sched_time`` is set only for rescheduled and callback records (record_type 3–6).
* Time zones come from the small table :data:`TIME_ZONES` (``tz_dbid`` → (name, offset seconds), standard
  time offsets); the phone number's area code matches the chain's time zone.
* Phone numbers are fictional North American numbers ``+1NPA55501XX`` (555-0100..0199 is reserved for
  fiction in every area code); duplicates across records are possible, as in real lists.

Loading (:meth:`CallingList.load`):

* Required columns: ``contact_info``, ``chain_id``, ``chain_n``. Absent OCS columns take the defaults in
  :data:`LOAD_DEFAULTS`. ``record_handle`` (or its alias ``record_id``) is taken if present, otherwise
  handles ``1..N`` are assigned in ``(chain_id, chain_n)`` order.
* Every other column becomes a custom field. From a CSV its type is inferred: integer if every non-empty
  value is a plain integer, float if every one is a decimal number, text otherwise; an empty cell is a
  missing value. From a DataFrame the column's dtype is kept.
* Any bad value raises :class:`CallingListError` naming the row (1-based data row: the first line after
  the CSV header, or the first DataFrame row, is row 1), the column and the value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from gwsnb.protocol import OCS_COLUMNS

__all__ = [
    "LOAD_DEFAULTS",
    "REFERENCE_EPOCH",
    "REQUIRED_COLUMNS",
    "TIME_ZONES",
    "CallingList",
    "CallingListError",
]

#: 2024-06-03T00:00:00Z: every generated time is relative to this instant, never to the wall clock.
REFERENCE_EPOCH: Final = 1_717_372_800

#: tz_dbid → (GSW_TZ_NAME, GSW_TZ_OFFSET seconds). The ids imitate Configuration Server DBIDs.
TIME_ZONES: Final[dict[int, tuple[str, int]]] = {
    101: ("EST", -18_000),
    102: ("CST", -21_600),
    103: ("MST", -25_200),
    104: ("PST", -28_800),
    105: ("AKST", -32_400),
    106: ("HST", -36_000),
}

# Real area codes per time zone, so that a number's NPA agrees with its record's tz_dbid.
_AREA_CODES: Final[dict[int, tuple[int, ...]]] = {
    101: (212, 305, 404, 617, 704),
    102: (214, 312, 512, 615, 713),
    103: (303, 406, 480, 505, 801),
    104: (206, 213, 415, 503, 702),
    105: (907,),
    106: (808,),
}
_TZ_WEIGHTS: Final = (0.45, 0.28, 0.07, 0.17, 0.015, 0.015)

REQUIRED_COLUMNS: Final = ("contact_info", "chain_id", "chain_n")

#: Values given to OCS columns absent from a loaded list (None: missing).
LOAD_DEFAULTS: Final[dict[str, int | None]] = {
    "contact_info_type": 1,  # HomePhone
    "record_type": 2,  # General
    "record_status": 1,  # Ready
    "call_result": 28,  # Unknown Call Result: never dialled
    "attempt": 0,
    "dial_sched_time": None,
    "call_time": None,
    "daily_from": 8 * 3600,
    "daily_till": 20 * 3600,
    "tz_dbid": 101,
}

_HANDLE = "record_handle"
_HANDLE_ALIAS = "record_id"
_NULLABLE_INT: Final = frozenset({"dial_sched_time", "call_time"})
_INT_COLUMNS: Final = tuple(c for c in OCS_COLUMNS if c != "contact_info")
# (low, high) inclusive bounds; codes outside OCS's usual labels pass through, only nonsense is refused.
_BOUNDS: Final[dict[str, tuple[int, int]]] = {
    _HANDLE: (1, 2**63 - 1),
    "contact_info_type": (0, 2**31 - 1),
    "record_type": (0, 2**31 - 1),
    "record_status": (0, 2**31 - 1),
    "call_result": (0, 2**31 - 1),
    "attempt": (0, 2**31 - 1),
    "dial_sched_time": (0, 2**63 - 1),
    "call_time": (0, 2**63 - 1),
    "daily_from": (0, 86_400),
    "daily_till": (0, 86_400),
    "tz_dbid": (-(2**63) + 1, 2**63 - 1),
    "chain_id": (0, 2**63 - 1),
    "chain_n": (0, 2**31 - 1),
}

_INT_RE: Final = r"-?(?:0|[1-9][0-9]{0,17})"
_FLOAT_RE: Final = (
    r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"  # no leading zeros: "007" is text
)

# Chain length distribution 1..6: mean ≈ 2.29 records per chain.
_CHAIN_LENGTH_P: Final = (0.40, 0.25, 0.15, 0.10, 0.06, 0.04)


class CallingListError(ValueError):
    """A calling list source holds a bad value.

    :ivar row: 1-based data row (the first line after the CSV header is 1), or None for a header problem.
    :ivar column: the offending column.
    :ivar value: the offending value as read (None when the column is missing).
    """

    def __init__(self, message: str, *, row: int | None, column: str, value: object = None) -> None:
        super().__init__(message)
        self.row = row
        self.column = column
        self.value = value


# --------------------------------------------------------------------------------------------------------
# Column storage: one small object per column, able to reorder itself, to become a pandas Series, and to
# hand out a slice as JSON-native Python values.


@dataclass(frozen=True)
class _Col:
    kind: str  # "int" | "nint" (nullable int) | "float" | "bool" | "text"
    values: npt.NDArray[Any]  # int64 / float64 / bool, or int32 codes into cats for "text"
    mask: npt.NDArray[np.bool_] | None = None  # "nint": True where missing
    cats: npt.NDArray[np.object_] | None = None  # "text": categories, with a trailing None for code -1

    def take(self, order: npt.NDArray[np.intp]) -> _Col:
        mask = None if self.mask is None else self.mask[order]
        return _Col(self.kind, self.values[order], mask, self.cats)

    def series(self) -> pd.Series:
        if self.kind == "nint":
            assert self.mask is not None
            return pd.Series(pd.arrays.IntegerArray(self.values, self.mask))
        if self.kind == "text":
            assert self.cats is not None
            # cats[codes] is an array of references to a few shared str objects, not N new strings.
            return pd.Series(self.cats[self.values])
        return pd.Series(self.values)


def _text_col(values: Sequence[str] | npt.NDArray[Any], codes: npt.NDArray[Any]) -> _Col:
    cats = np.empty(len(values) + 1, dtype=object)
    cats[:-1] = list(values)
    cats[-1] = None
    return _Col("text", codes.astype(np.int32, copy=False), cats=cats)


# --------------------------------------------------------------------------------------------------------
# The calling list


class CallingList:
    """One OCS calling list: records in chains, with O(1) chain lookup by record handle.

    Build one with :meth:`generate` or :meth:`load`. ``frame`` is the list as a DataFrame (``record_handle``,
    the OCS columns, then the custom fields; sorted by ``(chain_id, chain_n)``; RangeIndex); treat it as
    read-only, the lookup arrays are built from it once.
    """

    name: str
    frame: pd.DataFrame
    custom_fields: tuple[str, ...]

    def __init__(self, name: str, columns: dict[str, _Col], custom_fields: Sequence[str]) -> None:
        """Build from columns already validated and sorted by (chain_id, chain_n); use generate/load."""
        self.name = name
        self.custom_fields = tuple(custom_fields)
        order = (_HANDLE, *OCS_COLUMNS, *self.custom_fields)
        self.frame = pd.DataFrame({c: columns[c].series() for c in order})
        self._names = order
        self._build_row_store([columns[c] for c in order])

        handles = columns[_HANDLE].values
        chain_id = columns["chain_id"].values
        n = len(handles)
        self._handles = handles
        # Rows of one chain are contiguous: chain k spans rows starts[k]:starts[k+1].
        boundaries = np.flatnonzero(chain_id[1:] != chain_id[:-1]) + 1
        self._starts = np.concatenate(([0], boundaries, [n])).astype(np.int64)
        self._chain_of_row = np.repeat(
            np.arange(len(self._starts) - 1, dtype=np.int32), np.diff(self._starts)
        )
        # Handle → row: arithmetic when the handles are a contiguous ascending range, else binary search.
        self._handle_base: int | None = None
        self._sorted_handles: npt.NDArray[np.int64] | None = None
        self._sorted_rows: npt.NDArray[np.intp] | None = None
        if n and int(handles[-1]) - int(handles[0]) == n - 1 and bool(np.all(np.diff(handles) == 1)):
            self._handle_base = int(handles[0])
        else:
            self._sorted_rows = np.argsort(handles, kind="stable")
            self._sorted_handles = handles[self._sorted_rows]

    # -- construction ----------------------------------------------------------------------------------

    @classmethod
    def generate(cls, chains: int, seed: int, name: str = "CallingList1") -> CallingList:
        """Generate a realistic list of ``chains`` chains (1–6 records each), fully determined by ``seed``.

        :raises ValueError: if ``chains`` is not a positive integer.
        """
        if isinstance(chains, bool) or not isinstance(chains, (int, np.integer)) or chains < 1:
            raise ValueError(f"chains must be a positive integer, got {chains!r}")
        return cls(name, *_generate(int(chains), int(seed)))

    @classmethod
    def load(cls, source: str | os.PathLike[str] | pd.DataFrame, name: str | None = None) -> CallingList:
        """Load a list from a CSV file or a DataFrame with OCS column names (see the module docstring).

        :param name: the list's name; by default the CSV file's stem, or ``"CallingList1"`` for a DataFrame.
        :raises CallingListError: on a missing required column or a bad value (naming row, column, value).
        :raises OSError: if the CSV file cannot be read.
        """
        if isinstance(source, pd.DataFrame):
            raw = source.reset_index(drop=True)
            from_text = False
            default_name = "CallingList1"
        else:
            path = Path(source)
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
            from_text = True
            default_name = path.stem
        return cls(name if name is not None else default_name, *_load(raw, from_text))

    # -- queries ---------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._handles)

    def __contains__(self, record_handle: object) -> bool:
        return self._row_of(record_handle) is not None

    def __repr__(self) -> str:
        return (
            f"CallingList(name={self.name!r}, records={len(self)}, chains={self.chain_count}, "
            f"custom_fields={self.custom_fields!r})"
        )

    @property
    def chain_count(self) -> int:
        """Number of chains in the list."""
        return len(self._starts) - 1

    @property
    def handles(self) -> npt.NDArray[np.int64]:
        """The record handles in frame order (read-only view)."""
        view = self._handles.view()
        view.flags.writeable = False
        return view

    def _row_of(self, record_handle: object) -> int | None:
        if isinstance(record_handle, bool) or not isinstance(record_handle, (int, np.integer)):
            return None
        h = int(record_handle)
        n = len(self._handles)
        if self._handle_base is not None:
            row = h - self._handle_base
            return row if 0 <= row < n else None
        assert self._sorted_handles is not None and self._sorted_rows is not None
        if not -(2**63) <= h < 2**63:
            return None
        i = int(np.searchsorted(self._sorted_handles, h))
        if i < n and int(self._sorted_handles[i]) == h:
            return int(self._sorted_rows[i])
        return None

    def _build_row_store(self, cols: list[_Col]) -> None:
        """Pack the columns row-major so that a chain is one slice and one ``tolist()`` per block.

        Integers, nullable integers (missing = the dtype's minimum, which loading refuses as a value),
        booleans and text codes share one integer block, int32 when every value fits, else int64;
        floats get a float64 block. Per row only a few fix-ups remain (codes → text, sentinel → None).
        """
        int_pos = [i for i, c in enumerate(cols) if c.kind != "float"]
        float_pos = [i for i, c in enumerate(cols) if c.kind == "float"]
        fits32 = all(
            len(c.values) == 0
            or (
                int(c.values.min()) > np.iinfo(np.int32).min and int(c.values.max()) <= np.iinfo(np.int32).max
            )
            for c in (cols[i] for i in int_pos)
        )
        dtype = np.int32 if fits32 else np.int64
        sentinel = int(np.iinfo(dtype).min)
        n = len(cols[0].values)
        block = np.empty((n, len(int_pos)), dtype=dtype)
        self._text_fix: list[tuple[int, list[Any]]] = []
        self._null_fix: list[int] = []
        self._bool_fix: list[int] = []
        for j, i in enumerate(int_pos):
            col = cols[i]
            block[:, j] = col.values
            if col.kind == "nint":
                assert col.mask is not None
                block[col.mask, j] = sentinel
                self._null_fix.append(j)
            elif col.kind == "text":
                assert col.cats is not None
                self._text_fix.append((j, col.cats.tolist()))  # code -1 picks the trailing None
            elif col.kind == "bool":
                self._bool_fix.append(j)
        self._int_block = block
        self._sentinel = sentinel
        self._float_block = np.empty((n, len(float_pos)), dtype=np.float64)
        for j, i in enumerate(float_pos):
            self._float_block[:, j] = cols[i].values
        self._has_floats = bool(float_pos)
        # Keys in block order (ints then floats), and the permutation back to the frame's column order.
        self._block_names = tuple(self._names[i] for i in int_pos + float_pos)
        self._in_frame_order = self._block_names == tuple(self._names)

    def _rows(self, s: int, e: int) -> list[dict[str, Any]]:
        rows: list[list[Any]] = self._int_block[s:e].tolist()
        sentinel = self._sentinel
        for row in rows:
            for j, cats in self._text_fix:
                row[j] = cats[row[j]]
            for j in self._null_fix:
                if row[j] == sentinel:
                    row[j] = None
            for j in self._bool_fix:
                row[j] = bool(row[j])
        if self._has_floats:
            for row, floats in zip(rows, self._float_block[s:e].tolist(), strict=True):
                row.extend(None if x != x else x for x in floats)
        names = self._block_names
        if self._in_frame_order:
            return [dict(zip(names, row, strict=True)) for row in rows]
        order = self._names
        return [{k: d[k] for k in order} for d in (dict(zip(names, row, strict=True)) for row in rows)]

    def chain(self, record_handle: int) -> list[dict[str, Any]] | None:
        """The records of the chain holding ``record_handle``, in ``chain_n`` order, or None if unknown.

        Each record is a dict of JSON-native values (int, float, str, bool or None; never NaN): the
        handle, the OCS columns, then the custom fields.
        """
        row = self._row_of(record_handle)
        if row is None:
            return None
        k = int(self._chain_of_row[row])
        return self._rows(int(self._starts[k]), int(self._starts[k + 1]))

    def record(self, record_handle: int) -> dict[str, Any] | None:
        """The one record with this handle (same shape as :meth:`chain`'s items), or None if unknown."""
        row = self._row_of(record_handle)
        return None if row is None else self._rows(row, row + 1)[0]

    def sample_handles(self, n: int = 5) -> list[int]:
        """``n`` distinct valid handles (fewer if the list is smaller), the same on every call.

        The first belongs to the first chain of 3 or more records, if the list has one; the others are
        spread evenly over the list.

        :raises ValueError: if ``n`` is negative.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n!r}")
        total = len(self._handles)
        n = min(n, total)
        if n == 0:
            return []
        lengths = np.diff(self._starts)
        long_chains = np.flatnonzero(lengths >= 3)
        first_row = int(self._starts[long_chains[0]]) if len(long_chains) else 0
        picked = [first_row]
        for row in np.linspace(0, total - 1, num=n + 1).astype(np.int64).tolist():
            if len(picked) == n:
                break
            if row not in picked:
                picked.append(row)
        row = 0
        while len(picked) < n:  # only on tiny lists, where linspace rounds rows together
            if row not in picked:
                picked.append(row)
            row += 1
        return [int(self._handles[r]) for r in picked]

    def time_zone(self, tz_dbid: int) -> tuple[str, int]:
        """(GSW_TZ_NAME, GSW_TZ_OFFSET in seconds) for a ``tz_dbid`` of :data:`TIME_ZONES`.

        :raises KeyError: for an id not in the table (loading refuses such ids, so a list's own never fail).
        """
        return TIME_ZONES[int(tz_dbid)]


# --------------------------------------------------------------------------------------------------------
# Generation


_FIRST_NAMES: Final = (
    "Alex", "Ana", "Ben", "Carla", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kemal",
    "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vera", "Wen", "Yuki",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Adams", "Baker", "Cruz", "Diaz", "Evans", "Fox", "Garcia", "Hill", "Ito", "Jones", "Khan", "Lopez",
    "Moreau", "Nguyen", "Okafor", "Patel", "Quist", "Reyes", "Silva", "Tanaka", "Ueda", "Vance", "Weber",
)  # fmt: skip


def _pick(rng: np.random.Generator, values: Sequence[int], p: Sequence[float], size: int) -> npt.NDArray[Any]:
    return rng.choice(np.asarray(values, dtype=np.int64), size=size, p=np.asarray(p) / np.sum(p))


# Custom fields: (name, kind, generator of one value per chain).
_CustomGen = Callable[[np.random.Generator, int], _Col]


def _gen_customer_name(rng: np.random.Generator, c: int) -> _Col:
    names = [f"{f} {last}" for f in _FIRST_NAMES for last in _LAST_NAMES]
    return _text_col(names, rng.integers(0, len(names), size=c))


def _gen_choice_text(values: Sequence[str], p: Sequence[float]) -> _CustomGen:
    def gen(rng: np.random.Generator, c: int) -> _Col:
        return _text_col(values, _pick(rng, range(len(values)), p, c))

    return gen


def _gen_int(low: int, high: int) -> _CustomGen:
    return lambda rng, c: _Col("int", rng.integers(low, high, size=c, dtype=np.int64))


def _gen_money(rng: np.random.Generator, c: int) -> _Col:
    values = np.round(rng.lognormal(mean=5.0, sigma=1.0, size=c), 2)
    values[rng.random(c) < 0.05] = np.nan  # some customers have no balance on file
    return _Col("float", values)


def _gen_score(rng: np.random.Generator, c: int) -> _Col:
    return _Col("float", np.round(rng.beta(2.0, 5.0, size=c), 3))


_CUSTOM_FIELDS: Final[tuple[tuple[str, str, _CustomGen], ...]] = (
    ("customer_name", "text", _gen_customer_name),
    ("segment", "text", _gen_choice_text(("Bronze", "Silver", "Gold", "Platinum"), (0.5, 0.3, 0.15, 0.05))),
    ("language", "text", _gen_choice_text(("en", "es", "fr", "zh", "vi"), (0.7, 0.18, 0.05, 0.04, 0.03))),
    ("account_status", "text", _gen_choice_text(("Active", "Past Due", "Suspended"), (0.8, 0.15, 0.05))),
    ("customer_id", "int", _gen_int(1_000_000, 9_999_999)),
    ("loyalty_points", "int", _gen_int(0, 50_000)),
    ("contract_months", "int", _gen_int(1, 61)),
    ("balance_due", "float", _gen_money),
    ("churn_risk", "float", _gen_score),
)


def _choose_custom_fields(rng: np.random.Generator) -> list[int]:
    """2–4 fields: always a text and a number; with 3 or more, at least one integer and one float."""
    k = int(rng.integers(2, 5))
    by_kind = {
        kind: [i for i, f in enumerate(_CUSTOM_FIELDS) if f[1] == kind] for kind in ("text", "int", "float")
    }
    chosen = [int(rng.choice(by_kind["text"]))]
    if k == 2:
        chosen.append(int(rng.choice(by_kind["int"] + by_kind["float"])))
    else:
        chosen += [int(rng.choice(by_kind["int"])), int(rng.choice(by_kind["float"]))]
    rest = [i for i in range(len(_CUSTOM_FIELDS)) if i not in chosen]
    chosen += [int(i) for i in rng.choice(rest, size=k - len(chosen), replace=False)]
    shuffled = [chosen[i] for i in rng.permutation(len(chosen))]
    # Float fields last: chain() then builds records without reordering keys (see _build_row_store).
    return sorted(shuffled, key=lambda i: _CUSTOM_FIELDS[i][1] == "float")


def _generate(chains: int, seed: int) -> tuple[dict[str, _Col], list[str]]:
    rng = np.random.default_rng(seed)
    field_ids = _choose_custom_fields(rng)

    lengths = _pick(rng, range(1, 7), _CHAIN_LENGTH_P, chains)
    n = int(lengths.sum())
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    chain_of_row = np.repeat(np.arange(chains, dtype=np.int64), lengths)
    chain_n = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)

    # Customer-level attributes: one draw per chain, repeated over its records.
    tz_ids = np.array(list(TIME_ZONES), dtype=np.int64)
    tz_index = _pick(rng, range(len(tz_ids)), _TZ_WEIGHTS, chains)
    tz_dbid = tz_ids[tz_index][chain_of_row]

    # Phone numbers: pool of every +1NPA55501XX for the table's area codes; a record picks an area code of
    # its chain's zone and a random XX.
    npa_list = [npa for tz in TIME_ZONES for npa in _AREA_CODES[tz]]
    npa_first = np.cumsum([0] + [len(_AREA_CODES[tz]) for tz in TIME_ZONES])[:-1]
    npa_count = np.array([len(_AREA_CODES[tz]) for tz in TIME_ZONES])
    phones = [f"+1{npa}55501{xx:02d}" for npa in npa_list for xx in range(100)]
    row_tz = tz_index[chain_of_row]
    npa_index = npa_first[row_tz] + (rng.random(n) * npa_count[row_tz]).astype(np.int64)
    phone_codes = npa_index * 100 + rng.integers(0, 100, size=n)

    contact_info_type = _pick(
        rng, (1, 2, 4, 3, 5, 8, 0, 6), (0.34, 0.22, 0.34, 0.04, 0.02, 0.02, 0.01, 0.01), n
    )
    attempt = _pick(rng, range(7), (0.6, 0.18, 0.1, 0.06, 0.03, 0.02, 0.01), n)
    dialled = attempt > 0
    nd = int(dialled.sum())

    call_result = np.full(n, 28, dtype=np.int64)
    call_result[dialled] = _pick(
        rng, (33, 7, 9, 6, 26, 8, 21, 17, 53), (0.24, 0.28, 0.18, 0.14, 0.04, 0.04, 0.03, 0.03, 0.02), nd
    )
    record_status = np.empty(n, dtype=np.int64)
    record_status[~dialled] = _pick(rng, (1, 9, 5, 4), (0.94, 0.03, 0.02, 0.01), n - nd)
    record_status[dialled] = _pick(
        rng, (3, 1, 7, 2, 6, 8, 4, 5), (0.45, 0.35, 0.08, 0.04, 0.02, 0.02, 0.02, 0.02), nd
    )
    record_type = np.empty(n, dtype=np.int64)
    # OCS record_type: 0 No Record Type, 1 Unknown, 2 General (ordinary), 3 Campaign Rescheduled,
    # 4 Personal Rescheduled, 5 Personal Callback, 6 Campaign Callback, 7 No Call.
    record_type[~dialled] = _pick(rng, (2, 7, 1, 0), (0.96, 0.02, 0.01, 0.01), n - nd)
    record_type[dialled] = _pick(rng, (2, 3, 4, 5, 6, 7), (0.80, 0.05, 0.03, 0.05, 0.05, 0.02), nd)

    call_time = np.zeros(n, dtype=np.int64)
    call_time[dialled] = REFERENCE_EPOCH - rng.integers(60, 14 * 86_400, size=nd)
    scheduled = (record_type >= 3) & (record_type <= 6)  # rescheduled and callback records
    dial_sched_time = np.zeros(n, dtype=np.int64)
    dial_sched_time[scheduled] = REFERENCE_EPOCH + rng.integers(3_600, 7 * 86_400, size=int(scheduled.sum()))

    daily_from = _pick(rng, (8 * 3600, 9 * 3600, 10 * 3600), (0.5, 0.35, 0.15), n)
    daily_till = _pick(rng, (20 * 3600, 21 * 3600, 18 * 3600), (0.45, 0.35, 0.2), n)

    columns: dict[str, _Col] = {
        _HANDLE: _Col("int", np.arange(1, n + 1, dtype=np.int64)),
        "contact_info": _text_col(phones, phone_codes),
        "contact_info_type": _Col("int", contact_info_type),
        "record_type": _Col("int", record_type),
        "record_status": _Col("int", record_status),
        "call_result": _Col("int", call_result),
        "attempt": _Col("int", attempt),
        "dial_sched_time": _Col("nint", dial_sched_time, mask=~scheduled),
        "call_time": _Col("nint", call_time, mask=~dialled),
        "daily_from": _Col("int", daily_from),
        "daily_till": _Col("int", daily_till),
        "tz_dbid": _Col("int", tz_dbid),
        "chain_id": _Col("int", chain_of_row + 1),
        "chain_n": _Col("int", chain_n),
    }
    names = []
    for i in field_ids:
        field_name, _kind, gen = _CUSTOM_FIELDS[i]
        per_chain = gen(rng, chains)
        columns[field_name] = per_chain.take(chain_of_row)
        names.append(field_name)
    return columns, names


# --------------------------------------------------------------------------------------------------------
# Loading and validation


def _fail(row_pos: int, column: str, value: object, why: str) -> CallingListError:
    row = row_pos + 1
    return CallingListError(
        f"row {row}, column {column!r}: {value!r} {why}", row=row, column=column, value=value
    )


def _stripped(series: pd.Series) -> pd.Series:
    """The series as objects, strings stripped of blanks (vectorised when every value is text)."""
    try:
        stripped = series.str.strip()
    except AttributeError:  # no string values at all
        return series.astype(object)
    if isinstance(series.dtype, pd.StringDtype) or stripped.notna().sum() == series.notna().sum():
        return stripped.astype(object)
    return series.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)


def _missing_mask(series: pd.Series) -> npt.NDArray[np.bool_]:
    """True where a cell is missing: NA, or an empty/blank string."""
    mask = series.isna().to_numpy(dtype=bool)
    if pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype):
        blank = _stripped(series).eq("").to_numpy(dtype=bool, na_value=False)
        mask = mask | blank
    return mask


def _refuse_first(bad: npt.NDArray[np.bool_], series: pd.Series, column: str, reason: str) -> None:
    """Raise the loader's error for the first row where ``bad`` is true (nothing when none is)."""
    if bad.any():
        pos = int(np.argmax(bad))
        raise _fail(pos, column, series.iloc[pos], reason)


def _ints_of_integer_dtype(series: pd.Series, column: str) -> npt.NDArray[np.int64]:
    if str(series.dtype).lower() == "uint64":
        _refuse_first(series.to_numpy(dtype=np.float64, na_value=0) >= 2.0**63, series, column,
                      "is out of the 64-bit integer range")
    return series.to_numpy(dtype=np.int64, na_value=0)


def _numbers_of_text(series: pd.Series, column: str,
                     missing: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64] | npt.NDArray[np.float64]:
    """Exact int64 values when every cell is an integer (fast path), else float64 numbers (NaN: not one)."""
    text = _stripped(series).where(~missing, "0")
    if pd.api.types.is_object_dtype(series.dtype):
        is_bool = text.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
        _refuse_first(is_bool, series, column, "is a boolean, not an integer")
    try:  # fast path: every value an integer, converted exactly
        exact = pd.to_numeric(text)
    except (ValueError, TypeError):
        exact = None
    if exact is not None and pd.api.types.is_signed_integer_dtype(exact.dtype):
        return exact.to_numpy(dtype=np.int64)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _ints_of_numbers(numbers: npt.NDArray[np.float64], series: pd.Series, column: str,
                     missing: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Integral floats (3.0) as int64; anything else names its row."""
    finite = np.isfinite(numbers)
    _refuse_first(~missing & ~(finite & (numbers == np.floor(np.where(finite, numbers, 0.0)))), series, column,
                  "is not an integer")
    _refuse_first(~missing & (np.abs(np.where(missing, 0.0, numbers)) >= 2.0**63), series, column,
                  "is out of the 64-bit integer range")
    return np.where(missing, 0.0, numbers).astype(np.int64)


def _parse_ints(series: pd.Series, column: str, nullable: bool) -> _Col:
    """Integers from any dtype; integral floats (3.0) are accepted, anything else names its row."""
    missing = _missing_mask(series)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise _fail(0, column, series.iloc[0], "is a boolean, not an integer")
    if pd.api.types.is_integer_dtype(dtype):
        values = _ints_of_integer_dtype(series, column)
    else:
        numbers = (series.to_numpy(dtype=np.float64, na_value=np.nan) if pd.api.types.is_float_dtype(dtype)
                   else _numbers_of_text(series, column, missing))
        values = (numbers.astype(np.int64, copy=False) if numbers.dtype == np.int64
                  else _ints_of_numbers(numbers.astype(np.float64, copy=False), series, column, missing))
    if not nullable:
        _refuse_first(missing, series, column, "is missing (this column needs a value on every row)")
    low, high = _BOUNDS.get(column, (-(2**63) + 1, 2**63 - 1))  # int64 min is the missing sentinel
    _refuse_first(~missing & ((values < low) | (values > high)), series, column, f"is out of range [{low}, {high}]")
    return _Col("nint", values, mask=missing) if nullable else _Col("int", values)


def _parse_contact_info(series: pd.Series) -> _Col:
    column = "contact_info"
    missing = _missing_mask(series)
    if missing.any():
        pos = int(np.argmax(missing))
        raise _fail(pos, column, series.iloc[pos], "is missing (every record needs a phone number)")
    if pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        text = series.astype(np.int64).astype(str)
    else:
        objects = series.astype(object)
        not_text = objects.map(
            lambda v: (
                not isinstance(v, str) and not (isinstance(v, (int, np.integer)) and not isinstance(v, bool))
            )
        ).to_numpy(dtype=bool)
        if not_text.any():
            pos = int(np.argmax(not_text))
            raise _fail(pos, column, series.iloc[pos], "is not a phone number (text or integer)")
        text = objects.map(lambda v: v.strip() if isinstance(v, str) else str(v))
    codes, uniques = pd.factorize(text, sort=False)
    return _text_col(np.asarray(uniques, dtype=object), codes)


def _parse_custom(series: pd.Series, column: str, from_text: bool) -> _Col:
    missing = _missing_mask(series)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) and not missing.any():
        return _Col("bool", series.to_numpy(dtype=bool))
    if pd.api.types.is_integer_dtype(dtype):
        return (
            _parse_ints(series, column, nullable=True)
            if missing.any()
            else _parse_ints(series, column, False)
        )
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = np.isinf(values)
        if infinite.any():
            pos = int(np.argmax(infinite))
            raise _fail(pos, column, series.iloc[pos], "is not a finite number")
        return _Col("float", values)
    objects = series.astype(object).where(~missing, None)
    present = objects[~missing]
    if from_text:
        text = present.map(lambda v: v.strip())
        if len(text) and bool(text.str.fullmatch(_INT_RE).all()):
            values = np.zeros(len(series), dtype=np.int64)
            values[~missing] = np.array([int(v) for v in text], dtype=np.int64)
            return _Col("nint", values, mask=missing) if missing.any() else _Col("int", values)
        if len(text) and bool(text.str.fullmatch(_FLOAT_RE).all()):
            floats = np.full(len(series), np.nan)
            floats[~missing] = text.astype(np.float64).to_numpy()
            return _Col("float", floats)
        codes, uniques = pd.factorize(objects.where(~missing, None), sort=False)
        return _text_col(np.asarray(uniques, dtype=object), codes)
    # A DataFrame column of Python objects: must be all text (numbers would have their own dtype).
    not_text = ~missing & objects.map(lambda v: not isinstance(v, str)).to_numpy(dtype=bool)
    if not_text.any():
        pos = int(np.argmax(not_text))
        raise _fail(pos, column, series.iloc[pos], "is not text, and the column's other values are")
    codes, uniques = pd.factorize(objects, sort=False)
    return _text_col(np.asarray(uniques, dtype=object), codes)


def _duplicate_error(
    keys: Sequence[npt.NDArray[np.int64]], column: str, label: Callable[[int], object]
) -> CallingListError | None:
    """The earliest row (in source order) whose key repeats an earlier row's, as an error, or None."""
    order = np.lexsort(tuple(reversed(keys)))  # stable: equal keys keep source order
    same = np.ones(len(order) - 1, dtype=bool) if len(order) > 1 else np.zeros(0, dtype=bool)
    for k in keys:
        sk = k[order]
        same &= sk[1:] == sk[:-1]
    if not same.any():
        return None
    later = order[1:][same]
    earlier = order[:-1][same]
    i = int(np.argmin(later))
    pos, first = int(later[i]), int(earlier[i])
    # With several repeats of one key, report against the key's first occurrence.
    group_key = tuple(int(k[pos]) for k in keys)
    match = np.ones(len(keys[0]), dtype=bool)
    for k, v in zip(keys, group_key, strict=True):
        match &= k == v
    first = min(first, int(np.argmax(match)))
    value = label(pos)
    return CallingListError(
        f"row {pos + 1}, column {column!r}: {value!r} duplicates row {first + 1}",
        row=pos + 1,
        column=column,
        value=value,
    )


def _check_header(names: list[str]) -> str | None:
    """Refuse a header with duplicate, missing required, doubly-aliased or reserved columns; returns the
    column the record handles come from (``None``: numbered 1..N)."""
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise CallingListError(f"header: column {dup!r} appears twice", row=None, column=dup, value=dup)
    for c in REQUIRED_COLUMNS:
        if c not in names:
            raise CallingListError(
                f"header: required column {c!r} is missing (found: {', '.join(names) or 'no columns'})",
                row=None,
                column=c,
            )
    if _HANDLE in names and _HANDLE_ALIAS in names:
        raise CallingListError(
            f"header: both {_HANDLE!r} and its alias {_HANDLE_ALIAS!r} are present; keep one",
            row=None,
            column=_HANDLE_ALIAS,
        )
    reserved = [c for c in names if c.upper().startswith("GSW_")]
    if reserved:
        raise CallingListError(
            f"header: column {reserved[0]!r} uses the GSW_ prefix reserved for OCS/GWS attributes",
            row=None,
            column=reserved[0],
            value=reserved[0],
        )
    return _HANDLE if _HANDLE in names else _HANDLE_ALIAS if _HANDLE_ALIAS in names else None


def _int_columns(raw: pd.DataFrame) -> dict[str, _Col]:
    """The OCS integer columns, parsed, or their load defaults when absent."""
    n = len(raw)
    columns: dict[str, _Col] = {}
    for c in _INT_COLUMNS:
        nullable = c in _NULLABLE_INT
        if c in raw.columns:
            columns[c] = _parse_ints(raw[c], c, nullable)
            continue
        default = LOAD_DEFAULTS[c]
        if default is None:
            columns[c] = _Col("nint", np.zeros(n, dtype=np.int64), mask=np.ones(n, dtype=bool))
        else:
            columns[c] = _Col(
                "nint" if nullable else "int",
                np.full(n, default, dtype=np.int64),
                mask=np.zeros(n, dtype=bool) if nullable else None,
            )
    return columns


def _load(raw: pd.DataFrame, from_text: bool) -> tuple[dict[str, _Col], list[str]]:
    raw = raw.rename(columns=lambda c: str(c).strip())
    names = [str(c) for c in raw.columns]
    handle_source = _check_header(names)
    n = len(raw)
    columns: dict[str, _Col] = {"contact_info": _parse_contact_info(raw["contact_info"]), **_int_columns(raw)}
    unknown_tz = ~np.isin(columns["tz_dbid"].values, np.array(list(TIME_ZONES), dtype=np.int64))
    if unknown_tz.any():
        pos = int(np.argmax(unknown_tz))
        value = raw["tz_dbid"].iloc[pos] if "tz_dbid" in raw.columns else columns["tz_dbid"].values[pos]
        raise _fail(pos, "tz_dbid", value, f"is not a known time zone id ({sorted(TIME_ZONES)})")
    if handle_source is not None:
        columns[_HANDLE] = _parse_ints(raw[handle_source], _HANDLE, nullable=False)
        handles = columns[_HANDLE].values
        err = _duplicate_error([handles], handle_source, lambda p: raw[handle_source].iloc[p])
        if err is not None:
            raise err
    chain_id, chain_n = columns["chain_id"].values, columns["chain_n"].values
    err = _duplicate_error(
        [chain_id, chain_n], "chain_id, chain_n", lambda p: (int(chain_id[p]), int(chain_n[p]))
    )
    if err is not None:
        raise err

    custom = [c for c in names if c not in (*OCS_COLUMNS, _HANDLE, _HANDLE_ALIAS)]
    for c in custom:
        columns[c] = _parse_custom(raw[c], c, from_text)

    order = np.lexsort((chain_n, chain_id))
    columns = {c: col.take(order) for c, col in columns.items()}
    if handle_source is None:
        columns[_HANDLE] = _Col("int", np.arange(1, n + 1, dtype=np.int64))
    return columns, custom
