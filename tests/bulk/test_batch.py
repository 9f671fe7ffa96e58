"""get_chained_records against the sandbox over real sockets: faults, retries, fail_fast, interrupts."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from typing import Any

import pytest

import gwsnb
from gwsnb import errors
from gwsnb.sandbox import Faults, Sandbox
from tests.chains import ChainIndex

from .conftest import all_handles


def run(client: gwsnb.GwsClient, sb: Sandbox, handles: Any, **kwargs: Any) -> gwsnb.ChainedRecordBatch:
    """These tests are about each handle's own call (faults, retries, interrupts): every handle is called
    (each chain once, the default, is tested in test_coverage.py)."""
    kwargs.setdefault("progress", False)
    kwargs.setdefault("every_handle", True)
    return client.get_chained_records(handles, campaign_name=sb.campaign_name,
                                      application_id=sb.application_id, **kwargs)


def outbound_count(client: gwsnb.GwsClient) -> int:
    return sum(1 for e in client.event_log if e.channel == "/v2/me/outbound")


def assert_partition(batch: gwsnb.ChainedRecordBatch) -> None:
    """Every requested handle is in exactly one of results / failures / skipped, each in handle order."""
    ok = [r.record_handle for r in batch.results]
    failed = [f.record_handle for f in batch.failures]
    assert sorted(ok + failed + batch.skipped) == sorted(batch.handles)
    position = {h: i for i, h in enumerate(batch.handles)}
    for part in (ok, failed, batch.skipped):
        assert part == sorted(part, key=position.__getitem__)


class Recorder:
    """A tqdm-like progress object that counts updates and can raise KeyboardInterrupt at the n-th one."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.count = 0
        self.postfix: dict[str, Any] = {}
        self.interrupt_at = interrupt_at

    def update(self, n: int = 1) -> None:
        before, self.count = self.count, self.count + n
        # the bar advances by what finished since its last look: raise once, when the count crosses the mark
        if self.interrupt_at is not None and before < self.interrupt_at <= self.count:
            raise KeyboardInterrupt

    def set_postfix(self, refresh: bool = True, **kwargs: Any) -> None:
        self.postfix.update(kwargs)


def test_500_handles_with_errors_and_lost_data_end(client: gwsnb.GwsClient, sb: Sandbox, chains: ChainIndex) -> None:
    handles = all_handles(sb)[:500]
    random.Random(1).shuffle(handles)  # results must follow the order given, not the calling list's
    error_handles = set(handles[3::41])
    lost_handles = {h for h in handles[7::97] if h not in error_handles}
    sb.faults = Faults(error_handles=error_handles, drop_data_end_handles=lost_handles)
    progress = Recorder()
    # the timeout bounds every call, the healthy ones too: 1 s was too short once, when two suites shared the
    # 2 cores (26 healthy calls timed out together, the circuit breaker opened and rightly sent a lost handle a
    # third time); 3 s keeps a lost handle's two waits short and a loaded machine's healthy calls inside it
    batch = run(client, sb, handles, timeout=3.0, retries=1, concurrency=32, progress=progress)

    assert not batch.interrupted and not batch.skipped
    assert len(batch) == 500 and progress.count == 500
    assert_partition(batch)
    expected_ok = [h for h in handles if h not in error_handles | lost_handles]
    assert [r.record_handle for r in batch.results] == expected_ok
    for result in batch.results:
        assert result.complete and result.attempts == 1
        chains.assert_matches(result.record_handle, result.records)

    by_handle = {f.record_handle: f for f in batch.failures}
    assert set(by_handle) == error_handles | lost_handles
    for handle in error_handles:
        failure = by_handle[handle]
        assert isinstance(failure.error, errors.ChainedRecordError)
        assert failure.error.error_code == 104
        assert failure.attempts == 1  # a server verdict is not retried
        assert failure.reason == "ChainedRecordError (errorCode 104)"
    for handle in lost_handles:
        failure = by_handle[handle]
        assert isinstance(failure.error, errors.NotificationTimeout)
        assert failure.attempts == 2
        assert failure.result is not None and failure.result.attempts == 2
        assert failure.result.records  # the chain came, only DataEnd was lost
    assert batch.failures_by_reason() == {
        **({"ChainedRecordError (errorCode 104)": [h for h in handles if h in error_handles]}),
        "NotificationTimeout": [h for h in handles if h in lost_handles],
    }
    assert progress.postfix["failed"] == len(error_handles | lost_handles)
    # each lost handle was really sent twice: two distinct referenceIds answered for it.  ChainedRecord
    # notifications of *another* call may carry this handle too (same chain): only calls the server sent no
    # DataEnd for, i.e. the lost handles' own calls, are counted
    outbound = [e.data for e in client.event_log if e.channel == "/v2/me/outbound"]
    ended = {d["referenceId"] for d in outbound if d.get("notificationType") == "ChainedRecordsDataEnd"}
    lost_refs = {h: {d["referenceId"] for d in outbound
                     if d.get("notificationType") == "ChainedRecord" and d["record"]["recordHandle"] == h
                     and d["referenceId"] not in ended}
                 for h in lost_handles}
    assert all(len(refs) == 2 for refs in lost_refs.values()), lost_refs


def test_handle_string_order_and_duplicates(client: gwsnb.GwsClient, sb: Sandbox, chains: ChainIndex) -> None:
    batch = run(client, sb, "20-23, 7, 21, 3")
    assert batch.handles == [20, 21, 22, 23, 7, 3]
    assert [r.record_handle for r in batch.results] == batch.handles
    assert batch.ok and not batch.failures
    for result in batch.results:
        chains.assert_matches(result.record_handle, result.records)


def test_fail_fast_stops_and_cancels_in_flight(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handles = all_handles(sb)[:200]
    bad = handles[10]
    sb.faults = Faults(error_handles={bad})
    batch = run(client, sb, handles, concurrency=4, fail_fast=True)
    assert [f.record_handle for f in batch.failures] == [bad]
    assert batch.skipped and not batch.interrupted and not batch.ok
    assert len(batch.results) < 200 - 1
    assert all(r.complete for r in batch.results)
    assert_partition(batch)
    # the cancelled calls left nothing behind and the session still works
    assert len(client._correlator) == 0
    again = run(client, sb, handles[-3:])
    assert again.ok and len(again.results) == 3


def test_retry_succeeds_when_the_fault_is_lifted(client: gwsnb.GwsClient, sb: Sandbox,
                                                chains: ChainIndex) -> None:
    handle = all_handles(sb)[42]
    sb.faults = Faults(drop_data_end_handles={handle})

    class LiftFault(logging.Handler):
        """Runs on the client's loop thread when the first attempt timed out: lift the fault there."""

        def emit(self, record: logging.LogRecord) -> None:
            if "retrying" in record.getMessage():
                sb.faults = Faults()

    logger = logging.getLogger("gwsnb.client")
    handler = LiftFault(logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        batch = run(client, sb, [handle], timeout=1.0, retries=2)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert batch.ok, batch.failures
    (result,) = batch.results
    assert result.attempts == 2
    chains.assert_matches(handle, result.records)
    assert batch.calls_frame()["attempts"].tolist() == [2]


def test_retries_zero_and_verdicts_not_retried(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    lost, verdict = all_handles(sb)[50], all_handles(sb)[51]
    sb.faults = Faults(drop_data_end_handles={lost}, error_handles={verdict})
    batch = run(client, sb, [lost], timeout=0.5, retries=0)
    assert [(f.record_handle, type(f.error), f.attempts) for f in batch.failures] == [
        (lost, errors.NotificationTimeout, 1)]
    before = outbound_count(client)
    batch = run(client, sb, [verdict], retries=2)
    assert [(f.record_handle, type(f.error), f.attempts) for f in batch.failures] == [
        (verdict, errors.ChainedRecordError, 1)]
    errors_seen = [e for e in list(client.event_log)[-50:] if e.channel == "/v2/me/outbound"]
    assert outbound_count(client) - before == 1 and errors_seen[-1].data["notificationType"] == "Error"


def test_keyboard_interrupt_keeps_what_finished(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handles = all_handles(sb)[:300]
    progress = Recorder(interrupt_at=25)
    batch = run(client, sb, handles, concurrency=4, progress=progress)
    assert batch.interrupted and not batch.ok
    assert len(batch.results) + len(batch.failures) >= 25
    assert batch.skipped, "the run should have stopped well before 300 handles"
    assert_partition(batch)
    assert all(r.complete for r in batch.results)
    assert "interrupted" in repr(batch) and "interrupted" in batch._repr_html_()
    assert len(client._correlator) == 0
    assert run(client, sb, handles[:2]).ok  # the client is still usable


async def test_async_twin_and_cancellation(client: gwsnb.GwsClient, sb: Sandbox, chains: ChainIndex) -> None:
    batch = await client.get_chained_records_async(
        "5, 1-3", campaign_name=sb.campaign_name, application_id=sb.application_id, progress=False,
        every_handle=True)
    assert [r.record_handle for r in batch.results] == [5, 1, 2, 3]
    for result in batch.results:
        chains.assert_matches(result.record_handle, result.records)

    progress = Recorder()
    task = asyncio.create_task(client.get_chained_records_async(
        all_handles(sb)[:300], campaign_name=sb.campaign_name, application_id=sb.application_id,
        concurrency=4, progress=progress, every_handle=True))
    deadline = asyncio.get_running_loop().time() + 30
    while progress.count < 20:
        assert asyncio.get_running_loop().time() < deadline and not task.done()
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as info:
        await task
    # Python 3.10's asyncio raises a fresh CancelledError from `await task`, chained to ours (documented)
    carrier = info.value if sys.version_info >= (3, 11) else info.value.__context__
    partial = carrier.batch  # type: ignore[union-attr]
    assert isinstance(partial, gwsnb.ChainedRecordBatch)
    assert partial.interrupted and partial.skipped
    assert len(partial.results) + len(partial.failures) >= 20
    assert_partition(partial)
    assert len(client._correlator) == 0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"handles": "7, x"}, "record_handles"),
    ({"handles": "9-3"}, "record_handles"),
    ({"handles": []}, "record_handles"),
    ({"campaign_name": ""}, "campaign_name"),
    ({"application_id": 0}, "application_id"),
    ({"device_path": "devices/x"}, "device_path"),
    ({"timeout": -1}, "timeout"),
    ({"concurrency": 0}, "concurrency"),
    ({"concurrency": True}, "concurrency"),
    ({"retries": -1}, "retries"),
    ({"retries": 1.5}, "retries"),
    ({"fail_fast": "yes"}, "fail_fast"),
    ({"progress": 5}, "progress"),
])
def test_bad_arguments_raise_before_sending(client: gwsnb.GwsClient, sb: Sandbox, kwargs: dict[str, Any],
                                            field: str) -> None:
    args: dict[str, Any] = {"handles": "1-3", "campaign_name": sb.campaign_name,
                            "application_id": sb.application_id, "progress": False}
    args.update(kwargs)
    handles = args.pop("handles")
    before = outbound_count(client)
    with pytest.raises(errors.InvalidParameterError) as info:
        client.get_chained_records(handles, **args)
    assert info.value.field == field
    assert outbound_count(client) == before


def test_default_progress_bar_on_stderr(client: gwsnb.GwsClient, sb: Sandbox,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    batch = client.get_chained_records([1, 2], campaign_name=sb.campaign_name, application_id=sb.application_id)
    assert batch.ok
    err = capsys.readouterr().err
    assert "GetChainedRecord" in err and "2/2" in err


def test_closed_client_refuses(sb: Sandbox) -> None:
    from .conftest import PASSWORD

    c = gwsnb.connect(sb.url, sb.username, PASSWORD)
    c.close()
    with pytest.raises(errors.TransportError):
        c.get_chained_records([1], campaign_name=sb.campaign_name, application_id=sb.application_id)
