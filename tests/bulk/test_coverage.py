"""Issue 20 item 5, each chain once: a run calls a handle only when no other call of the run brought its
record back; calls are counted on the sandbox's side (its GetChainedRecord requests by handle)."""

from __future__ import annotations

import asyncio
import io
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import gwsnb
from gwsnb.sandbox import Sandbox
from tests.chains import ChainIndex

from .conftest import PASSWORD, all_handles
from .test_cli import cli

RECORD_KEY = ["record_handle", "chain_id", "chain_n", "contact_info", "call_result", "record_status"]


def _run(client: gwsnb.GwsClient, sb: Sandbox, handles: list[int], **kwargs: Any) -> Any:
    return client.get_chained_records(handles, campaign_name=sb.campaign_name, application_id=sb.application_id,
                                      progress=False, **kwargs)


def _requests_during(sb: Sandbox, action: Any) -> tuple[Any, Counter[int]]:
    """What ``action()`` returns, and the GetChainedRecord requests the sandbox got meanwhile, by handle."""
    before = Counter(sb.chained_record_requests())
    out = action()
    after = Counter(sb.chained_record_requests())
    return out, after - before


def _record_set(frame: pd.DataFrame) -> set[tuple[Any, ...]]:
    return set(frame[RECORD_KEY].astype(str).itertuples(index=False, name=None))


def _calls_per_chain(requests: Counter[int], chains: ChainIndex) -> float:
    per_chain = Counter(chains.chain_of[h] for h in requests.elements())
    return sum(per_chain.values()) / len(per_chain)


def test_whole_list_calls_each_chain_about_once(sb: Sandbox, client: gwsnb.GwsClient, chains: ChainIndex) -> None:
    handles = all_handles(sb)
    batch, requests = _requests_during(sb, lambda: _run(client, sb, handles))
    assert batch.ok and not batch.skipped
    ratio = _calls_per_chain(requests, chains)
    assert ratio <= 1.1, ratio
    assert len(set(chains.chain_of.values())) == len({chains.chain_of[h] for h in requests})  # every chain came
    # every handle is called once or covered, never both; the sandbox saw exactly the called ones
    called = {r.record_handle for r in batch.results}
    covered = {c.record_handle: c.covered_by for c in batch.covered}
    assert called.isdisjoint(covered) and called | set(covered) == set(handles)
    assert set(requests) == called
    assert batch.called == len(called) and len(batch.covered) == len(handles) - len(called) > len(handles) / 3
    for handle, by in covered.items():  # covered by a call whose chain holds the handle's record
        assert by in called and chains.chain_of[handle] == chains.chain_of[by]
    records = batch.records_frame()
    assert not records.duplicated(["record_handle"]).any()  # each record once
    assert sorted(records["record_handle"]) == sorted(handles)

    every, every_requests = _requests_during(sb, lambda: _run(client, sb, handles, every_handle=True))
    assert every_requests == Counter(handles) and not every.covered and every.called == len(handles)
    assert every.records_frame()["record_handle"].duplicated().any()  # a chain per handle: records repeat
    assert _record_set(records) == _record_set(every.records_frame())

    calls = batch.calls_frame()
    assert len(calls) == len(handles) and calls["record_handle"].tolist() == handles
    marked = calls[calls["status"] == "covered"]
    assert dict(zip(marked["record_handle"], marked["covered_by"], strict=True)) == covered
    assert calls.loc[calls["status"] == "ok", "covered_by"].isna().all()
    assert f"called {len(called)}, covered {len(covered)}" in batch.summary()
    assert f"ok {len(handles)}, failed 0" in batch.summary()


def test_explicit_handles_in_any_order(sb: Sandbox, client: gwsnb.GwsClient, chains: ChainIndex) -> None:
    handles = all_handles(sb)[:120][::-1]
    handles = handles[1::2] + handles[::2]  # neither ascending nor descending
    batch, requests = _requests_during(sb, lambda: _run(client, sb, handles))
    assert batch.ok and batch.handles == handles
    assert _calls_per_chain(requests, chains) <= 1.1
    assert [c.record_handle for c in batch.covered] == [h for h in handles if h not in requests]
    assert sorted(batch.records_frame()["record_handle"]) == sorted({
        row["record_handle"] for h in handles for row in chains.chain(h)})


def _interleaved_list() -> pd.DataFrame:
    """Chains whose records are not neighbours: chain 1 holds handles 1 and 3, chain 2 holds 2 and 4."""
    rows = [(1, 1, 0), (3, 1, 1), (2, 2, 0), (4, 2, 1), (5, 3, 0)]
    return pd.DataFrame({"record_handle": [r[0] for r in rows], "chain_id": [r[1] for r in rows],
                         "chain_n": [r[2] for r in rows],
                         "contact_info": [f"+1212555010{r[0]}" for r in rows]})


def test_a_handle_missing_from_its_neighbours_chain_is_still_called() -> None:
    with Sandbox(calling_list=_interleaved_list(), password=PASSWORD) as own, \
            gwsnb.connect(own.url, own.username, PASSWORD, timeout=10.0) as c:
        batch = _run(c, own, [1, 2, 3, 4, 5])
        requests = Counter(own.chained_record_requests())
    # 1's chain (1, 3) does not hold its neighbour 2: 2 is called; 3 and 4 are covered by 1 and 2
    assert requests == Counter({1: 1, 2: 1, 5: 1})
    assert {(m.record_handle, m.covered_by) for m in batch.covered} == {(3, 1), (4, 2)}
    assert sorted(batch.records_frame()["record_handle"]) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("fault", ["error_handles", "drop_data_end_handles"])
def test_a_failed_call_covers_nothing(sb: Sandbox, client: gwsnb.GwsClient, chains: ChainIndex, fault: str) -> None:
    """An Error notification, or the chain's records without ChainedRecordsDataEnd (the call fails after
    its records came back): the failed handle is not covered, and its call covers none of its mates."""
    mates = next(keys for keys in ([row["record_handle"] for row in rows] for rows in chains.rows.values())
                 if len(keys) >= 3)
    first = min(mates)  # called first: the first lane starts at the lowest handle
    setattr(sb.faults, fault, {first})
    batch, requests = _requests_during(sb, lambda: _run(client, sb, mates, retries=0, timeout=2.0))
    assert [f.record_handle for f in batch.failures] == [first]  # failed, not covered by a mate's chain
    assert first not in {c.record_handle for c in batch.covered}
    # the failed call covered none of its mates: one of them was called and covered the others
    ok = [r.record_handle for r in batch.results]
    assert len(ok) == 1 and requests == Counter({first: 1, ok[0]: 1})
    assert {c.record_handle for c in batch.covered} == set(mates) - {first, ok[0]}


async def _interrupted(client: gwsnb.GwsClient, sb: Sandbox, handles: list[int], out: Path) -> Any:
    """The streamed run, cancelled once the sandbox got requests for about a third of the chains."""
    task = asyncio.create_task(client.get_chained_records_async(
        handles, campaign_name=sb.campaign_name, application_id=sb.application_id, progress=False, out=out,
        concurrency=4))
    start = sum(sb.chained_record_requests().values())
    while sum(sb.chained_record_requests().values()) - start < len(set(ChainIndex(sb).chain_of.values())) // 3:
        assert not task.done()
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as stopped:
        await task
    # Python 3.10's asyncio raises a fresh CancelledError from `await task`, chained to ours (documented)
    carrier = stopped.value if sys.version_info >= (3, 11) else stopped.value.__context__
    return carrier.batch  # type: ignore[union-attr]


def test_a_resumed_streamed_run_keeps_the_coverage(sb: Sandbox, client: gwsnb.GwsClient, chains: ChainIndex,
                                                   tmp_path: Path) -> None:
    handles = all_handles(sb)
    out = tmp_path / "run"
    first, first_requests = _requests_during(sb, lambda: asyncio.run(_interrupted(client, sb, handles, out)))
    assert first.interrupted and first.covered > 0 and first.remaining > 0
    first_calls = first.calls_frame()
    # resumed as a new process would: another client, the same folder
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0) as again_client:
        run, requests = _requests_during(sb, lambda: _run(again_client, sb, handles, out=out))
    assert run.ok and run.done == len(handles) and run.covered >= first.covered
    assert _calls_per_chain(first_requests + requests, chains) <= 1.1
    calls = run.calls_frame()
    assert sorted(calls["record_handle"]) == sorted(handles)  # each handle finished once over both runs
    # the marks of the first run are still there, and the resumed run called none of its finished handles
    kept = first_calls[first_calls["status"] == "covered"]
    again = calls.set_index("record_handle").loc[kept["record_handle"]]
    assert (again["status"] == "covered").all() and again["covered_by"].tolist() == kept["covered_by"].tolist()
    assert not set(requests) & set(first_calls["record_handle"])
    assert (run.called, run.covered) == ((calls["status"] != "covered").sum(), (calls["status"] == "covered").sum())
    records = run.records_frame()
    assert not records.duplicated(["record_handle"]).any() and sorted(records["record_handle"]) == sorted(handles)
    assert f"called {run.called}, covered {run.covered}" in run.summary()


def test_every_handle_is_checked(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    with pytest.raises(gwsnb.InvalidParameterError, match="every_handle"):
        _run(client, sb, [1, 2], every_handle="yes")



def test_cli_each_chain_once_and_every_handle(sb: Sandbox, chains: ChainIndex, tmp_path: Path) -> None:
    handles = all_handles(sb)[:60]
    text = f"{handles[0]}-{handles[-1]}"
    proc, requests = _requests_during(sb, lambda: cli(sb, "--format", "csv", "--no-progress", handles=text,
                                                      every_handle=False))
    assert proc.returncode == 0, proc.stderr
    assert _calls_per_chain(requests, chains) <= 1.1 and len(requests) < len(handles)
    assert f"ok 60, failed 0, called {len(requests)}, covered {60 - len(requests)}" in proc.stderr
    written = pd.read_csv(io.StringIO(proc.stdout))["record_handle"]
    assert not written.duplicated().any()

    proc, requests = _requests_during(sb, lambda: cli(sb, "--format", "csv", "--no-progress", handles=text))
    assert proc.returncode == 0 and requests == Counter(handles)  # cli() passes --every-handle
    assert "ok 60, failed 0, called 60, covered 0" in proc.stderr

    out = tmp_path / "run"
    proc, requests = _requests_during(sb, lambda: cli(sb, "--out-dir", str(out), "--no-progress", handles=text,
                                                      every_handle=False))
    assert proc.returncode == 0, proc.stderr
    run = gwsnb.open_run(out)
    assert (run.called, run.covered) == (len(requests), 60 - len(requests)) and run.ok
    assert f"called {run.called}, covered {run.covered}" in proc.stderr
