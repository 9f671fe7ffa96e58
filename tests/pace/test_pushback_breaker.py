"""Server pushback (HTTP 429/503 with ``Retry-After``) and the circuit breaker, against the sandbox over real
sockets: what the server saw (its request log) and what the run made of it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

from .conftest import PASSWORD, all_handles, target

#: a small list: each test's calls stay under a second or two of the sandbox's time
CHAINS = 200


def _client(sb: Sandbox) -> gwsnb.GwsClient:
    return gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0)


def _served_once(sb: Sandbox, handles: list[int]) -> None:
    """Every handle was served exactly once (refused requests are in the log as refused, not served)."""
    served = Counter(e["handle"] for e in sb.request_log() if e["outcome"] == "served")
    assert sorted(served) == sorted(handles) and max(served.values()) == 1


def _refusal_gaps(sb: Sandbox, outcome: str) -> list[float]:
    """For each refusal that started a pause (the first after an accepted request), the seconds until the
    next request that arrived after the calls already in flight (0.2 s of slack) and was not refused."""
    log = sb.request_log()
    gaps = []
    for i, entry in enumerate(log):
        if entry["outcome"] != outcome or (i and log[i - 1]["outcome"] == outcome):
            continue
        later = [e["t_mono"] for e in log[i + 1:] if e["t_mono"] > entry["t_mono"] + 0.2]
        if later:
            gaps.append(later[0] - entry["t_mono"])
    return gaps


@pytest.mark.parametrize("kind", ["429", "503"])
def test_pushback_pauses_the_run_and_spends_no_retry(kind: str) -> None:
    """A throttle (429) or a full queue (503), each with ``Retry-After: 0.5``: no handle failed, none lost or
    served twice, no attempt charged, and after each refusal nothing new arrived for the pause."""
    settings: dict[str, Any] = ({"throttle_429": 40.0} if kind == "429"
                                else {"capacity": 1, "service_ms": 5.0, "queue_limit": 2})
    with Sandbox(chains=CHAINS, seed=31, password=PASSWORD, retry_after_s=0.5, **settings) as sb:
        handles = all_handles(sb)[:120 if kind == "429" else 40]
        with _client(sb) as client:
            batch = client.get_chained_records(handles, **target(sb), progress=False, every_handle=True,
                                               concurrency=8 if kind == "429" else 4)
        stats = sb.stats()
        refused = stats["rejected_429" if kind == "429" else "rejected_503"]
        assert refused > 0, "the server pushed back"
        assert not batch.failures and not batch.skipped
        assert all(r.attempts == 1 for r in batch.results)
        _served_once(sb, handles)
        gaps = _refusal_gaps(sb, "refused_" + kind)
        assert gaps and min(gaps) >= 0.5 * 0.95, gaps  # the pause lasted Retry-After (the log's clock: ±5%)


def test_a_streamed_run_under_pushback_equals_an_undisturbed_one(tmp_path: Path) -> None:
    with Sandbox(chains=CHAINS, seed=32, password=PASSWORD) as quiet, \
            Sandbox(chains=CHAINS, seed=32, password=PASSWORD, throttle_429=40.0, retry_after_s=0.3) as busy:
        runs = []
        for sb, name in ((quiet, "quiet"), (busy, "busy")):
            with _client(sb) as client:
                runs.append(client.get_chained_records(all_handles(sb), **target(sb), progress=False,
                                                       concurrency=8, out=tmp_path / name))
        assert busy.stats()["rejected_429"] > 0
    # the records, each once, in the same rows; only the referenceIds (one per call, random) differ
    frames = [run.records_frame().drop(columns="reference_id").sort_values(["record_handle", "chain_n"])
              .reset_index(drop=True) for run in runs]
    assert len(frames[0]) > 0 and frames[0].equals(frames[1])
    calls = [run.calls_frame() for run in runs]
    assert (calls[1]["status"] == "ok").sum() == (calls[0]["status"] == "ok").sum()


def test_a_retry_after_beyond_max_outage_stops_the_run_cleanly(tmp_path: Path) -> None:
    """The server asks for 30 s, the run may wait 5: it stops at once, cleanly; resumed later (against the
    same list served without a throttle) it finishes the handles left."""
    with Sandbox(chains=CHAINS, seed=33, password=PASSWORD, throttle_429=20.0, retry_after_s=30.0) as sb:
        handles = all_handles(sb)
        with _client(sb) as client, pytest.raises(gwsnb.ServerUnavailableError, match="Retry-After") as info:
            client.get_chained_records(handles, **target(sb), progress=False, concurrency=4, max_outage=5.0,
                                       out=tmp_path / "run")
        run = info.value.batch
        assert run is not None and run.failed == 0 and 0 < run.remaining < len(handles)
    with Sandbox(chains=CHAINS, seed=33, password=PASSWORD) as later, _client(later) as client:
        resumed = client.get_chained_records(handles, **target(later), progress=False, concurrency=4,
                                             out=tmp_path / "run")
    assert resumed.failed == 0 and resumed.remaining == 0


@pytest.mark.main_only
def test_the_breaker_rides_out_ten_seconds_of_failing_calls() -> None:
    """Every call answered HTTP 500 for 10 s (the issue's figure: long enough for several probes): the
    breaker opens, probes, closes when the server is back; no handle failed, none spent a retry on it."""
    with Sandbox(chains=CHAINS, seed=34, password=PASSWORD) as sb:
        handles = all_handles(sb)
        sb.fail_calls_for(10.0, "http500")
        with _client(sb) as client:
            batch = client.get_chained_records(handles, **target(sb), progress=False, every_handle=True,
                                               concurrency=8, max_outage=60.0)
        log = sb.request_log()
    assert not batch.failures and not batch.skipped
    assert all(r.attempts <= 3 for r in batch.results)
    failed = [e for e in log if e["outcome"] == "http500"]
    assert failed and len(failed) < 100, "the breaker stopped sending: a few probes, not the whole list"


@pytest.mark.main_only
def test_a_server_that_keeps_failing_stops_the_run_after_max_outage_and_it_resumes(tmp_path: Path) -> None:
    with Sandbox(chains=CHAINS, seed=35, password=PASSWORD) as sb:
        handles = all_handles(sb)
        sb.faults.fail_calls = "http500"
        with _client(sb) as client:
            with pytest.raises(gwsnb.ServerFailingError, match="other") as info:
                client.get_chained_records(handles, **target(sb), progress=False, concurrency=8, max_outage=2.0,
                                           out=tmp_path / "run")
            assert info.value.failures.get("other", 0) >= 10  # the HTTP 500s that opened it, and the probes
            assert info.value.batch.failed == 0
            sb.faults.fail_calls = None
            resumed = client.get_chained_records(handles, **target(sb), progress=False, concurrency=8,
                                                 out=tmp_path / "run")
        assert resumed.failed == 0 and resumed.remaining == 0


@pytest.mark.main_only
def test_handles_that_always_time_out_do_not_keep_the_breaker_excusing_them() -> None:
    """Two handles in three never get their DataEnd while the others succeed: their timeouts open the
    breaker, which probes with a handle the server answered and reopens.  The run ends with exactly those
    handles failed (timed out), not stopped as a failing server, and no handle is sent more than its own
    attempts plus ``MAX_EXCUSED`` calls excused by the breaker."""
    from gwsnb._engine.bulk import MAX_EXCUSED

    with Sandbox(chains=CHAINS, seed=33, password=PASSWORD) as sb:
        handles = all_handles(sb)[:24]
        bad = {h for i, h in enumerate(handles) if i % 3}  # two of three
        sb.faults.drop_data_end_handles = bad
        with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=0.4) as client:
            batch = client.get_chained_records(handles, **target(sb), progress=False, every_handle=True,
                                               concurrency=8, retries=1, max_outage=60)
        sent = Counter(e["handle"] for e in sb.request_log())
    assert {f.record_handle for f in batch.failures} == bad
    assert all(type(f.error).__name__ == "NotificationTimeout" for f in batch.failures)
    assert {r.record_handle for r in batch.results} == set(handles) - bad
    # each bad handle: its own two attempts plus at most MAX_EXCUSED excused ones (the probe uses good ones)
    assert all(2 <= sent[h] <= 2 + MAX_EXCUSED for h in bad), {h: sent[h] for h in bad}
