"""The sandbox's capacity (issue 24 item 7; docs/guides/sandbox.md#capacity-and-pushback), over real sockets
with the hand-written peer: at most N requests in service, a FIFO queue whose wait the notifications show,
503 past the queue limit, 429 above the throttle, the capacity schedule, ``set_capacity``, ``fail_calls``,
the request log, the admin route and ``remote_stats``, the command line's flags, and bad values.

Service times are long (hundreds of ms) against the few ms a POST takes here, so that the order of events
does not hang on the machine's load; every wait is on a condition with a bound.
"""

from __future__ import annotations

import email.utils
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from gwsnb.cli import main
from gwsnb.sandbox import (
    Faults,
    Sandbox,
    remote_fail_calls_for,
    remote_reset_stats,
    remote_restart_schedule,
    remote_set_capacity,
    remote_stats,
)

from .conftest import RawGws, data_end_seen


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> float:
    """Poll ``predicate`` every 10 ms; the monotonic time it first held (fails after ``timeout`` s)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return time.monotonic()
        time.sleep(0.01)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture
def make_sb() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sb = Sandbox(chains=40, seed=3, **kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


def _post_all(gws: RawGws, handles: list[int]) -> list[requests.Response]:
    return [gws.get_chained_record(h) for h in handles]


def test_capacity_limits_concurrency_and_the_queue_is_fifo(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(capacity=2, service_ms=400)
    gws = RawGws(sb)
    answers = _post_all(gws, [1, 2, 3, 4, 5, 6])
    assert [r.status_code for r in answers] == [200] * 6
    assert all(r.json() == {"statusCode": 0} for r in answers)  # acknowledged as ever: the wait comes after
    live = sb.stats()
    assert live["in_service"] == 2 and live["queued"] == 4, live
    wait_until(lambda: sb.stats()["processed"] == 6, what="six requests served")
    stats = sb.stats()
    assert stats["max_in_service"] == 2 and stats["max_queued"] == 4, stats
    log = sb.request_log()
    assert [e["handle"] for e in log] == [1, 2, 3, 4, 5, 6]
    assert all(e["outcome"] == "served" and e["http_status"] == 200 for e in log)
    waits = [e["queue_wait_ms"] for e in log]
    services = [e["service_ms"] for e in log]
    assert all(s >= 399 for s in services), services
    # on the server's clock (t_mono is taken at admission, the wait counted from there): FIFO with two slots
    starts = [e["t_mono"] + e["queue_wait_ms"] / 1000 for e in log]
    ends = [start + e["service_ms"] / 1000 for start, e in zip(starts, log, strict=True)]
    assert waits[0] == 0.0 and waits[1] == 0.0 and all(w > 0 for w in waits[2:]), waits
    assert starts == sorted(starts)  # served in the order they came
    for i in range(2, 6):  # each waiting request started when a slot freed: an earlier request's end
        assert min(abs(ends[j] - starts[i]) for j in range(i)) < 0.002, (i, starts, ends)
    for instant in starts:  # never more than two in service
        assert sum(s <= instant < e for s, e in zip(starts, ends, strict=True)) <= 2
    # what FIFO predicts from the arrivals: requests 3-4 wait one service, 5-6 two, less their later arrival
    for i, wait in enumerate(waits):
        offset_ms = (log[i]["t_mono"] - log[0]["t_mono"]) * 1000
        assert (i // 2) * min(services) - offset_ms - 5 <= wait <= (i // 2) * max(services) + 5, (i, waits)
    assert stats["queue_wait_ms"]["count"] == 6 and stats["queue_wait_ms"]["max"] == pytest.approx(max(waits))
    gws.close()


def test_notifications_come_late_by_the_wait_and_metrics_show_it(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(capacity=1, service_ms=250)
    gws = RawGws(sb)
    gws.open()
    sent = time.monotonic()
    assert [r.status_code for r in _post_all(gws, [1, 2])] == [200, 200]
    messages = gws.collect(lambda ms: sum(
        m.get("data", {}).get("notificationType") == "ChainedRecordsDataEnd" for m in ms) == 2
        and data_end_seen(ms), deadline_s=10)
    arrived = time.monotonic() - sent
    assert arrived >= 0.5  # the second call waited one service before its own
    ends = [m for m in messages if m.get("channel") == "/me/internal"
            and m["data"]["userData"].get("GSW_USER_EVENT") == "ChainedRecordsDataEnd"]
    by_handle = {m["data"]["userData"]["GSW_RECORD_HANDLE"]: m["data"]["metrics"]["eventProcessing"] for m in ends}
    first, second = by_handle[1], by_handle[2]
    log = {e["handle"]: e for e in sb.request_log()}
    wait2 = log[2]["queue_wait_ms"]
    assert wait2 > 100  # the second waited (most of) the first one's service
    # the node's own processing is the service alone: at least the 250 ms, at most the slot's whole time
    for metrics, handle in ((first, 1), (second, 2)):
        assert 250e6 <= metrics["nodeProcessingTimeNanos"] <= (log[handle]["service_ms"] + 1) * 1e6
    # the total since receipt holds the queue wait too (receipt is a little before admission, and floored)
    queued2 = second["serverProcessingTimeTotalMs"] - second["nodeProcessingTimeNanos"] / 1e6
    queued1 = first["serverProcessingTimeTotalMs"] - first["nodeProcessingTimeNanos"] / 1e6
    assert wait2 - 1 <= queued2 <= wait2 + 100 and queued1 < queued2, (queued1, queued2, wait2)
    gws.close()


def test_past_the_queue_limit_503_with_retry_after_and_nothing_queued(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(capacity=1, service_ms=1000, queue_limit=2, retry_after_s=3)
    gws = RawGws(sb)
    answers = _post_all(gws, [1, 2, 3, 4, 5])
    assert [r.status_code for r in answers] == [200, 200, 200, 503, 503]
    for refused in answers[3:]:
        assert refused.headers["Retry-After"] == "3"
        body = refused.json()
        assert body["statusCode"] == 4 and "queue limit" in body["statusMessage"], body
    stats = sb.stats()
    assert stats["rejected_503"] == 2 and stats["queued"] == 2 and stats["max_queued"] == 2, stats
    assert sb.chained_record_requests() == {1: 1, 2: 1, 3: 1}  # the refused ones never reached OCS
    log = sb.request_log()
    assert [(e["handle"], e["http_status"], e["outcome"]) for e in log[3:]] == [
        (4, 503, "refused_503"), (5, 503, "refused_503")]
    assert all(e["queue_wait_ms"] is None for e in log[3:])
    gws.close()


def test_throttle_429_above_the_rate(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(throttle_429=10, retry_after_s=0.5)
    gws = RawGws(sb)
    t0 = time.monotonic()
    answers = _post_all(gws, list(range(1, 31)))
    elapsed = time.monotonic() - t0
    accepted = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code == 429]
    assert len(accepted) + len(refused) == 30
    # a bucket of one second's worth (10), refilled at 10/s while the POSTs went out
    assert 10 <= len(accepted) <= 10 + int(elapsed * 10) + 1, (len(accepted), elapsed)
    assert refused, elapsed
    assert all(r.headers["Retry-After"] == "0.5" and r.json()["statusCode"] == 4 for r in refused)
    assert "per second" in refused[0].json()["statusMessage"]
    stats = sb.stats()
    assert stats["rejected_429"] == len(refused) and stats["requests"] == 30
    assert sum(sb.chained_record_requests().values()) == len(accepted)
    # after a pause the bucket holds tokens again
    time.sleep(0.3)
    assert gws.get_chained_record(1).status_code == 200
    gws.close()


def test_retry_after_as_an_http_date(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(capacity=1, service_ms=1000, queue_limit=0, retry_after_s=3, retry_after_date=True,
                 faults=Faults(clock_offset_ms=60_000))
    gws = RawGws(sb)
    assert gws.get_chained_record(1).status_code == 200
    before = time.time()
    refused = gws.get_chained_record(2)
    after = time.time()
    assert refused.status_code == 503
    when = email.utils.parsedate_to_datetime(refused.headers["Retry-After"]).timestamp()
    # on the server's clock (a minute ahead here), at least the 3 s later, rounded up to the second
    assert before + 60 + 3 - 0.002 <= when <= after + 60 + 3 + 1, (before, when, after)  # ms floor
    with pytest.raises(ValueError, match="retry_after_date"):
        Sandbox(chains=5, retry_after_date="yes")  # type: ignore[arg-type]
    gws.close()


def test_capacity_schedule_changes_capacity_at_its_times() -> None:
    sb = Sandbox(chains=20, seed=3, capacity_schedule="0:2,0.4:5,0.8:1")
    before = time.monotonic()
    sb.start()
    after = time.monotonic()
    try:
        assert sb.capacity in (2, 5)
        at5 = wait_until(lambda: sb.capacity == 5, 5, "capacity 5")
        at1 = wait_until(lambda: sb.capacity == 1, 5, "capacity 1")
        assert at5 >= before + 0.4 and at1 >= before + 0.8
        assert at5 <= after + 0.4 + 1.0 and at1 <= after + 0.8 + 1.0  # a slack for a loaded machine
        stats = sb.stats()
        assert stats["capacity"] == 1
        changes = stats["capacity_changes"]
        assert [c["capacity"] for c in changes] == [2, 5, 1]
        assert changes[1]["t_mono"] >= before + 0.4 and changes[2]["t_mono"] >= before + 0.8
        sb.restart_schedule()  # second 0 again: capacity 2, then 5
        wait_until(lambda: sb.capacity == 5, 5, "capacity 5 after the restart")
        sb.set_capacity(3)  # by hand: the schedule stops
        time.sleep(0.6)
        assert sb.capacity == 3
    finally:
        sb.stop()


def test_set_capacity_starts_waiting_requests_at_once(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(capacity=1, service_ms=600)
    gws = RawGws(sb)
    assert [r.status_code for r in _post_all(gws, [1, 2, 3])] == [200, 200, 200]
    assert sb.stats()["queued"] == 2
    sb.set_capacity(3)
    stats = sb.stats()
    assert stats["queued"] == 0 and stats["in_service"] == 3 and stats["capacity"] == 3
    wait_until(lambda: sb.stats()["processed"] == 3, what="three served")
    waits = [e["queue_wait_ms"] for e in sb.request_log()]
    assert waits[0] == 0.0 and 0 < waits[1] < 500 and 0 < waits[2] < 500, waits  # not 600/1200 ms as at 1
    sb.set_capacity(None)
    assert sb.capacity is None
    gws.close()


def test_fail_calls_http500_and_timeout(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(faults=Faults(fail_calls="http500"))
    gws = RawGws(sb)
    gws.open()
    failed = gws.get_chained_record(1)
    assert failed.status_code == 500
    assert failed.json()["statusCode"] == 4 and "fail_calls" in failed.json()["statusMessage"]
    assert sb.chained_record_requests() == {}
    sb.faults.fail_calls = "timeout"
    dropped = gws.get_chained_record(2)
    assert dropped.status_code == 200 and dropped.json() == {"statusCode": 0}
    assert gws.collect_for(0.6) == []  # acknowledged, never answered
    stats = sb.stats()
    assert stats["failed_500"] == 1 and stats["dropped"] == 1 and stats["processed"] == 0
    assert [e["outcome"] for e in sb.request_log()] == ["http500", "dropped"]
    sb.faults.fail_calls = None
    assert gws.get_chained_record(3).status_code == 200
    assert data_end_seen(gws.collect(data_end_seen))
    with pytest.raises(ValueError, match="fail_calls"):
        sb.faults.fail_calls = "http503"
    with pytest.raises(ValueError, match="fail_calls"):
        Faults(fail_calls="slow")
    gws.close()


def test_fail_calls_for_switches_off_after_the_time(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb()
    gws = RawGws(sb)
    switched = time.monotonic()
    sb.fail_calls_for(0.4, "http500")
    assert sb.faults.fail_calls == "http500"
    assert gws.get_chained_record(1).status_code == 500
    off = wait_until(lambda: sb.faults.fail_calls is None, 5, "fail_calls off")
    assert off - switched >= 0.4
    assert gws.get_chained_record(2).status_code == 200
    sb.fail_calls_for(5, "timeout")
    sb.fail_calls_for(0.2, "http500")  # replaces the earlier one
    wait_until(lambda: sb.faults.fail_calls is None, 5, "replaced switch off")
    with pytest.raises(ValueError, match="seconds"):
        sb.fail_calls_for(0)
    with pytest.raises(ValueError, match="kind"):
        sb.fail_calls_for(1, "http404")
    gws.close()


def test_request_log_timestamps_and_bound(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(request_log_limit=3)
    gws = RawGws(sb)
    spans = []
    for handle in (1, 2, 3, 4, 5):
        t0, m0 = time.time(), time.monotonic()
        assert gws.get_chained_record(handle).status_code == 200
        spans.append((t0, time.time(), m0, time.monotonic()))
    log = sb.request_log()
    assert [e["handle"] for e in log] == [3, 4, 5]
    for entry, (t0, t1, m0, m1) in zip(log, spans[2:], strict=True):
        assert t0 <= entry["t"] <= t1 and m0 <= entry["t_mono"] <= m1
        assert entry["http_status"] == 200 and entry["queue_wait_ms"] == 0.0
    assert sb.request_log(last=1)[0]["handle"] == 5
    stats = sb.stats()
    assert stats["requests"] == 5 and stats["log_dropped"] == 2 and stats["log_size"] == 3
    sb.reset_stats()
    assert sb.request_log() == [] and sb.stats()["requests"] == 0
    gws.close()


def test_admin_route_and_remote_stats(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(capacity=4, service_ms=1, queue_limit=9, throttle_429=500, retry_after_s=2)
    gws = RawGws(sb)
    assert gws.get_chained_record(1).status_code == 200
    wait_until(lambda: sb.stats()["processed"] == 1)
    remote = remote_stats(sb.url, sb.username, sb.password)
    assert (remote["capacity"], remote["service_ms"], remote["queue_limit"], remote["throttle_429"],
            remote["retry_after_s"]) == (4, 1.0, 9, 500.0, 2.0)
    assert remote["requests"] == 1 and remote["processed"] == 1 and "request_log" not in remote
    with_log = remote_stats(sb.url, sb.username, sb.password, log="all")
    assert [e["handle"] for e in with_log["request_log"]] == [1]
    assert remote_stats(sb.url, sb.username, sb.password, log=0)["request_log"] == []
    before = remote_reset_stats(sb.url, sb.username, sb.password)
    assert before["requests"] == 1 and sb.stats()["requests"] == 0
    base = sb.url[: -len("/api/v2")]
    assert requests.get(base + "/sandbox/stats", timeout=10).status_code == 401
    assert requests.get(base + "/sandbox/stats?log=x", auth=(sb.username, sb.password), timeout=10).status_code == 400
    with pytest.raises(PermissionError):
        remote_stats(sb.url, sb.username, "wrong")
    with pytest.raises(ValueError, match="log"):
        remote_stats(sb.url, sb.username, sb.password, log=-1)
    with pytest.raises(ValueError, match="url"):
        remote_stats("ftp://x", sb.username, sb.password)
    gws.close()


def test_remote_control_routes(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb(capacity=2, capacity_schedule="0:2,30:1")
    user, password = sb.username, sb.password
    assert remote_set_capacity(sb.url, user, password, 6)["capacity"] == 6
    assert sb.capacity == 6
    assert remote_restart_schedule(sb.url, user, password)["capacity"] in (2, 6)
    wait_until(lambda: sb.capacity == 2, 5, "the schedule's second 0 applied")
    assert remote_set_capacity(sb.url, user, password, None)["capacity"] is None
    remote_fail_calls_for(sb.url, user, password, 0.3, "timeout")
    assert sb.faults.fail_calls == "timeout"
    wait_until(lambda: sb.faults.fail_calls is None, 5, "fail_calls off")
    with pytest.raises(ValueError, match="capacity"):
        remote_set_capacity(sb.url, user, password, 0)
    with pytest.raises(ValueError, match="kind"):
        remote_fail_calls_for(sb.url, user, password, 1, "http404")
    with pytest.raises(PermissionError):
        remote_set_capacity(sb.url, user, "wrong", 3)
    base = sb.url[: -len("/api/v2")]
    refused = requests.post(base + "/sandbox/fail-calls", json={"seconds": -1}, auth=(user, password), timeout=10)
    assert refused.status_code == 400 and "seconds" in refused.json()["error"]
    refused = requests.post(base + "/sandbox/capacity", json={"x": 1}, auth=(user, password), timeout=10)
    assert refused.status_code == 400 and "capacity" in refused.json()["error"]
    plain = make_sb()
    with pytest.raises(ValueError, match="capacity_schedule"):
        remote_restart_schedule(plain.url, plain.username, plain.password)


def _gwsnb() -> list[str]:
    exe = Path(sys.executable).with_name("gwsnb")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "gwsnb.cli"]


def test_cli_capacity_flags() -> None:
    proc = subprocess.Popen(
        [*_gwsnb(), "sandbox", "--port", "0", "--chains", "20", "--capacity", "1", "--service-ms", "600",
         "--queue-limit", "1", "--capacity-schedule", "0:1,60:2", "--throttle-429", "100", "--retry-after", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        banner = ""
        while "Press Ctrl-C" not in banner:
            line = proc.stdout.readline()
            assert line, banner + (proc.stderr.read() if proc.stderr else "")
            banner += line
        match = re.search(r"running at (\S+)", banner)
        assert match is not None and "capacity" in banner, banner
        url = match.group(1)
        stats = remote_stats(url, "agent", "agent")
        assert (stats["capacity"], stats["service_ms"], stats["queue_limit"], stats["throttle_429"],
                stats["retry_after_s"]) == (1, 600.0, 1, 100.0, 2.0)
        http = requests.Session()
        token = http.get(url + "/me", auth=("agent", "agent"), timeout=10).headers["X-CSRF-TOKEN"]
        device = http.get(url + "/me/devices", timeout=10).json()["devices"][0]["id"]
        body = {"operationName": "GetChainedRecord", "applicationId": 134, "campaignName": "Campaign1",
                "devicePath": f"/devices/{device}"}
        statuses = [http.post(f"{url}/me/outbound-records/{h}", json=body, headers={"X-CSRF-TOKEN": token},
                              timeout=10).status_code for h in (1, 2, 3)]
        assert statuses == [200, 200, 503]
        wait_until(lambda: remote_stats(url, "agent", "agent")["processed"] == 2, what="two served")
        proc.send_signal(signal.SIGINT)
        out, _err = proc.communicate(timeout=30)
        assert "2 served" in out and "1 answered 503" in out, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def test_cli_bad_capacity_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--port", "0", "--chains", "5", "--capacity-schedule", "0:3,x"]) == 2
    assert "capacity_schedule" in capsys.readouterr().err
    assert main(["sandbox", "--port", "0", "--chains", "5", "--throttle-429", "0"]) == 2
    assert "throttle_429" in capsys.readouterr().err
    for flag, value, reason in (("--capacity", "0", "must be >= 1, got '0'"),
                                ("--capacity", "1.5", "expected an integer, got '1.5'"),
                                ("--service-ms", "-1", "must be >= 0, got '-1'"),
                                ("--latency-ms", "nan", "must be >= 0, got 'nan'"),
                                ("--fail-calls", "slow", "invalid choice")):
        with pytest.raises(SystemExit) as exited:
            main(["sandbox", flag, value])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert flag in err and reason in err


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"capacity": 0}, "capacity"),
    ({"capacity": 2.5}, "capacity"),
    ({"capacity": True}, "capacity"),
    ({"service_ms": -1}, "service_ms"),
    ({"service_ms": float("nan")}, "service_ms"),
    ({"service_ms": "5"}, "service_ms"),
    ({"queue_limit": -1}, "queue_limit"),
    ({"queue_limit": 1.5}, "queue_limit"),
    ({"capacity_schedule": "0:32,20"}, "capacity_schedule"),
    ({"capacity_schedule": "0:32,20:0"}, "capacity_schedule"),
    ({"capacity_schedule": "10:4,5:2"}, "capacity_schedule"),
    ({"capacity_schedule": ""}, "capacity_schedule"),
    ({"capacity_schedule": [(0, 4), (-1, 2)]}, "capacity_schedule"),
    ({"capacity_schedule": [(0, "a")]}, "capacity_schedule"),
    ({"throttle_429": 0}, "throttle_429"),
    ({"throttle_429": -3}, "throttle_429"),
    ({"retry_after_s": -1}, "retry_after_s"),
    ({"retry_after_s": float("inf")}, "retry_after_s"),
    ({"request_log_limit": 0}, "request_log_limit"),
])
def test_bad_values_name_the_parameter(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Sandbox(chains=5, **kwargs)


def test_bad_set_capacity_and_schedule_restart() -> None:
    sb = Sandbox(chains=5)
    with pytest.raises(ValueError, match="capacity"):
        sb.set_capacity(0)
    with pytest.raises(RuntimeError, match="capacity_schedule"):
        sb.restart_schedule()


def test_capacity_none_keeps_todays_behaviour(make_sb: Callable[..., Sandbox]) -> None:
    sb = make_sb()
    gws = RawGws(sb)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(gws.get_chained_record, range(1, 17)))
    assert all(r.status_code == 200 for r in answers)
    wait_until(lambda: sb.stats()["processed"] == 16)
    stats = sb.stats()
    assert stats["capacity"] is None and stats["queued"] == 0 and stats["max_queued"] == 0
    assert all(e["queue_wait_ms"] == 0.0 for e in sb.request_log())
    gws.close()
