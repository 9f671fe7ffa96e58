"""Issue 26, item 3: opening a run reads its handle ranges (``_run.json``'s ``handles``, ``_state.json``'s
``done``) as compact int64 arrays, not as Python lists: a run of every chain's head once has one range
per handle, and ``kpis``/``compare_runs`` of a 1,000,000-record list paid ~170 MiB for them as lists."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gwsnb.runs import _read_json_ranges, _write_json, in_ranges


@pytest.mark.parametrize("ranges", [[], [[7, 7]], [[-3, -1], [1, 5], [7, 7], [10, 12]]])
def test_the_ranges_read_back_as_written(tmp_path: Path, ranges: list[list[int]]) -> None:
    _write_json(tmp_path / "s.json", {"parts": ["part-000001"], "done": ranges, "ok": 3, "note": "a],[b"})
    read = _read_json_ranges(tmp_path / "s.json", "done")
    assert isinstance(read["done"], np.ndarray) and read["done"].dtype == np.int64
    assert read["done"].tolist() == ranges and read["done"].shape == (len(ranges), 2)
    assert {k: v for k, v in read.items() if k != "done"} == {"parts": ["part-000001"], "ok": 3, "note": "a],[b"}
    contains = in_ranges(read["done"])  # what Run.remaining_handles does with them
    assert all(contains(h) == any(a <= h <= b for a, b in ranges) for h in range(-5, 15))


@pytest.mark.parametrize("text", ['{"done":[[1,2.5]]}', '{"done":[[1,2,3]]}', '{"done":[["1","2"]]}',
                                  '{"a":{"done":[[1,2]]},"done":[[3,4]]}'])
def test_anything_else_is_read_by_json(tmp_path: Path, text: str) -> None:
    (tmp_path / "s.json").write_text(text, encoding="utf-8")
    assert _read_json_ranges(tmp_path / "s.json", "done") == json.loads(text)


def _peak(read: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        value = read()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_hundred_thousand_ranges_cost_a_fraction_of_json(tmp_path: Path) -> None:
    heads = [[h, h] for h in range(0, 3 * 100_000, 3)]  # every third handle: one range each
    _write_json(tmp_path / "s.json", {"done": heads})
    read, peak = _peak(lambda: _read_json_ranges(tmp_path / "s.json", "done"))
    assert read["done"].shape == (100_000, 2) and read["done"][-1].tolist() == heads[-1]
    # json.load holds ~13 MiB of lists and ints for these; the text, its copies and the array much less
    # (compared in the same process: the interpreter's own allocations differ from one Python to another)
    _, json_peak = _peak(lambda: json.loads((tmp_path / "s.json").read_text(encoding="utf-8")))
    assert peak < 0.75 * json_peak, (peak, json_peak)
