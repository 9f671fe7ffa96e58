"""Handles kept compact (gwsnb/handles.py): what parse_handles returns, the run's sorted view, a resumed
run's remaining handles; the same handles, order and duplicates as the list parse_handles used to return."""

from __future__ import annotations

import hashlib
import json
import pickle
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwsnb import errors, parse_handles
from gwsnb._engine.bulk import MAX_STREAMED_HANDLES
from gwsnb._engine.coverage import ChainCoverage
from gwsnb.handles import HandleList, as_handle_list
from gwsnb.runs import RunWriter, _fingerprint

MIB = 2**20


def reference(items: list[Any]) -> list[int]:
    """The list parse_handles returned before (a dict keeps the first occurrence, in order)."""
    seen: dict[int, None] = {}
    for item in items:
        if isinstance(item, tuple):
            for h in range(item[0], item[1] + 1):
                seen[h] = None
        else:
            seen[item] = None
    return list(seen)


def as_text(item: Any) -> Any:
    return f"{item[0]}-{item[1]}" if isinstance(item, tuple) else item


HANDLE = st.integers(1, 400)
ITEM = st.one_of(HANDLE, st.tuples(HANDLE, st.integers(0, 30)).map(lambda t: (t[0], t[0] + t[1])))


@settings(max_examples=300, deadline=None)
@given(st.lists(ITEM, min_size=1, max_size=40))
def test_same_handles_order_and_duplicates_as_the_list(items: list[Any]) -> None:
    expected = reference(items)
    got = parse_handles([as_text(i) for i in items])
    assert got == expected and expected == got
    assert list(got) == expected and len(got) == len(expected)
    assert [got[i] for i in range(-len(expected), len(expected))] == expected * 2
    assert list(reversed(got)) == expected[::-1]
    assert got[3:11] == expected[3:11] and got[::3] == expected[::3] and got[-5:] == expected[-5:]
    assert all(h in got for h in expected) and 0 not in got and 401 + 31 not in got
    assert got.sorted().ranges() == _ranges(sorted(expected))
    assert [got.sorted()[i] for i in range(len(expected))] == sorted(expected)
    assert all(got.sorted().position(h) == sorted(expected).index(h) for h in expected)
    done = _ranges(sorted(expected)[::4])
    assert got.without(done) == [h for h in expected if h not in set(sorted(expected)[::4])]


def _ranges(ascending: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for h in ascending:
        if out and h == out[-1][1] + 1:
            out[-1][1] = h
        else:
            out.append([h, h])
    return out


def test_a_handle_list_is_a_sequence_like_the_list_it_replaces() -> None:
    handles = parse_handles("7, 9, 20-23 9 7")
    assert handles == [7, 9, 20, 21, 22, 23] and handles == (7, 9, 20, 21, 22, 23)
    assert handles != [7, 9, 20] and handles != "7, 9"
    assert handles.index(21) == 3 and handles.count(9) == 1 and handles.count(8) == 0
    assert np.int64(21) in handles and handles.index(np.int64(21)) == 3 and "21" not in handles
    with pytest.raises(ValueError):
        handles.index(8)
    with pytest.raises(IndexError):
        handles[6]
    assert handles + [1] == [7, 9, 20, 21, 22, 23, 1] and [1] + handles == [1, 7, 9, 20, 21, 22, 23]
    assert json.dumps(list(handles)) == "[7, 9, 20, 21, 22, 23]"
    assert pickle.loads(pickle.dumps(handles)) == handles
    assert np.asarray(handles).tolist() == [7, 9, 20, 21, 22, 23]
    assert sorted(handles, reverse=True)[0] == 23 and max(handles) == 23 and set(handles) == {7, 9, 20, 21, 22, 23}
    assert handles.ranges() == [[7, 7], [9, 9], [20, 23]]
    assert repr(handles) == "HandleList(7, 9, 20-23; 6 handles)"
    with pytest.raises(TypeError):
        hash(handles)
    assert parse_handles(handles) is handles  # parsed already
    assert parse_handles(range(5, 9)) == [5, 6, 7, 8]
    with pytest.raises(errors.InvalidParameterError, match="between 1 and"):
        parse_handles(range(0, 3))


def test_out_of_order_duplicates_do_not_count_against_the_limit() -> None:
    assert parse_handles([3, 2, 1, 3, 2, 1], limit=3) == [3, 2, 1]
    assert parse_handles("1-6, 1-6, 7-10", limit=10) == list(range(1, 11))
    with pytest.raises(errors.InvalidParameterError, match="more than 3 handles"):
        parse_handles([3, 2, 1, 4], limit=3)


def test_a_million_handle_range_costs_under_a_mib_in_the_runs_handle_store(tmp_path: Any) -> None:
    """From parsing to the each-chain-once order to a resumed run's remaining handles (a list of ints was
    38 MiB, and its sorted copy 8 MiB more)."""
    tracemalloc.start()
    try:
        handles = parse_handles("1-1000000", limit=MAX_STREAMED_HANDLES)
        ordered = handles.sorted()
        remaining = handles.without([[1, 250_000], [400_000, 400_010]])
        fingerprint = _fingerprint(handles)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(handles) == len(ordered) == 1_000_000 and len(remaining) == 749_989
    assert ordered.position(1_000_000) == 999_999 and remaining[0] == 250_001
    assert held < MIB, f"{held / MIB:.2f} MiB held"
    assert peak < 2 * MIB, f"{peak / MIB:.2f} MiB at the peak"  # the fingerprint hashes the handles in chunks
    digest = hashlib.sha256()
    for h in range(1, 1_000_001):
        digest.update(h.to_bytes(8, "little"))
    assert fingerprint == digest.hexdigest()  # a run written before still resumes


def test_the_coverage_state_is_a_byte_per_handle_and_the_handles_as_runs() -> None:
    handles = parse_handles("1-1000000", limit=MAX_STREAMED_HANDLES)
    tracemalloc.start()
    try:
        coverage = ChainCoverage(handles, concurrency=16)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(coverage) == 1_000_000
    assert held < 1_000_000 + 64 * 1024, f"{held / MIB:.2f} MiB held"


def test_a_resumed_run_keeps_its_remaining_handles_as_runs(tmp_path: Any) -> None:
    pytest.importorskip("pyarrow")
    handles = parse_handles("1-100000, 300000-400000", limit=MAX_STREAMED_HANDLES)
    writer = RunWriter.open(tmp_path / "run", handles, campaign_name="c", application_id=1, device_path="/devices/d")
    writer.state["done"] = [[1, 5000], [300001, 300001]]
    remaining = writer.remaining(handles)
    assert isinstance(remaining, HandleList)
    assert remaining.ranges() == [[5001, 100000], [300000, 300000], [300002, 400000]]
    assert json.loads((tmp_path / "run" / "_run.json").read_text())["handles"] == [[1, 100000], [300000, 400000]]
    again = RunWriter.open(tmp_path / "run", as_handle_list(list(handles)), campaign_name="c", application_id=1,
                           device_path="/devices/d")  # the same handles given as a list: the same run
    assert again.meta["handles_sha256"] == writer.meta["handles_sha256"]
