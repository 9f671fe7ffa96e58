"""The event log, the received-message hygiene and the advice tracking, on their own."""

from __future__ import annotations

import json
import threading

import pytest

from gwsnb._wire.eventlog import ENTRY_OVERHEAD, EventLog
from gwsnb._wire.hygiene import INVALID_MESSAGE_KEY, MalformedBody, is_unknown_client, parse_body
from gwsnb._wire.reconnect import DEFAULT_ADVICE_TIMEOUT_MS, Advice
from gwsnb.results import Event


def _events(n: int, start: int = 0) -> list[Event]:
    return [Event(float(i), {"channel": "/x", "id": i}) for i in range(start, start + n)]


def _body(ids: range) -> bytes:
    return json.dumps([{"channel": "/x", "id": i, "data": {"payload": "p" * 50}} for i in ids]).encode()


def test_message_cap_keeps_order_and_counts_what_overflow_drops() -> None:
    log = EventLog(max_messages=3)
    for event in _events(5):
        log.append(event)
    assert [e.message["id"] for e in log] == [2, 3, 4]
    assert (len(log), log.total, log.dropped, log.maxlen) == (3, 5, 2, 3)


def test_message_cap_cuts_into_a_received_body() -> None:
    log = EventLog(max_messages=4)
    log.add_raw(1.0, _body(range(0, 3)), 3)
    log.add_raw(2.0, _body(range(3, 6)), 3)
    assert [e.message["id"] for e in log.snapshot()] == [2, 3, 4, 5]
    assert (log.total, log.dropped, len(log)) == (6, 2, 4)
    log.extend([])
    assert (log.total, log.dropped) == (6, 2)
    log.clear()
    assert len(log) == 0 and log.total == 6 and "0 messages" in repr(log) and "2 dropped" in repr(log)


def test_raw_bodies_are_decoded_when_read_and_the_byte_budget_holds() -> None:
    per_body = len(_body(range(40, 50))) + ENTRY_OVERHEAD  # each body below is this long
    log = EventLog(per_body * 3 + 10)
    for n in range(5):
        log.add_raw(float(n), _body(range(n * 10, n * 10 + 10)), 10)
        assert log.nbytes <= log.max_bytes
    events = log.snapshot()
    assert [e.message["id"] for e in events] == list(range(20, 50))  # the newest three bodies
    assert events[-1].message["data"] == {"payload": "p" * 50} and events[-1].received_at == 4.0
    assert (log.total, log.dropped, len(log)) == (50, 20, 30)


def test_blocks_are_compressed_and_read_back_whole() -> None:
    log = EventLog(64 * 2**20)
    for n in range(2000):  # about 2 MiB of text: several blocks, all sealed but the newest
        log.add_raw(float(n), _body(range(n * 5, n * 5 + 5)), 5)
    assert [e.message["id"] for e in log.snapshot()] == list(range(10_000))
    assert log.held_bytes() < log.nbytes / 5 and log.dropped == 0


def test_a_body_larger_than_the_budget_is_counted_not_kept() -> None:
    log = EventLog(100)
    log.add_raw(1.0, _body(range(10)), 10)
    assert (len(log), log.total, log.dropped) == (0, 10, 10)


def test_a_zero_budget_turns_the_log_off() -> None:
    log = EventLog(0)
    log.add_raw(1.0, _body(range(3)), 3)
    log.append(Event(1.0, {"channel": "/gwsnb/sent"}))
    assert (len(log), log.total, log.dropped, log.enabled) == (0, 4, 4, False)
    assert log.snapshot() == [] and "off" in repr(log)


@pytest.mark.parametrize("size", [-1, True, 2.5, "1"])
def test_bad_budget(size: object) -> None:
    with pytest.raises(ValueError):
        EventLog(size)  # type: ignore[arg-type]


@pytest.mark.parametrize("cap", [0, -1, True, 2.5])
def test_bad_cap(cap: object) -> None:
    with pytest.raises(ValueError):
        EventLog(max_messages=cap)  # type: ignore[arg-type]


def test_snapshots_from_another_thread_while_appending() -> None:
    log = EventLog(max_messages=1000)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            log.append(Event(float(i), {"channel": "/x"}))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(300):  # each snapshot decodes up to 1,000 messages
            try:
                snapshot = log.snapshot()
                assert len(snapshot) <= 1000
            except BaseException as exc:  # noqa: BLE001 - collected and reported below
                errors.append(exc)
    finally:
        stop.set()
        thread.join()
    assert errors == []


def test_parse_body_wraps_and_counts_invalid_elements() -> None:
    messages, invalid = parse_body(b'[{"channel": "/a"}, 3, "x", {"data": {}}, null]')
    assert invalid == 4
    assert messages == [{"channel": "/a"}, {INVALID_MESSAGE_KEY: 3}, {INVALID_MESSAGE_KEY: "x"}, {"data": {}},
                        {INVALID_MESSAGE_KEY: None}]
    assert parse_body(b'{"channel": "/a"}') == ([{"channel": "/a"}], 0)  # one object: a one-element array
    assert parse_body(b"") == ([], 0)
    with pytest.raises(MalformedBody):
        parse_body(b"<html>")


@pytest.mark.parametrize(("error", "unknown"), [
    ("402::Unknown client", True), ("401:abc:Unknown client", True), ("402::unknown CLIENT", True),
    ("403::Unknown client", False), ("401::No authenticated HTTP session", False), (None, False), (402, False),
])
def test_unknown_client(error: object, unknown: bool) -> None:
    assert is_unknown_client({"channel": "/meta/connect", "successful": False, "error": error}) is unknown


def test_advice_keeps_what_a_reply_omits() -> None:
    advice = Advice()
    assert advice.timeout_ms == DEFAULT_ADVICE_TIMEOUT_MS and advice.reconnect == "retry"
    advice.update({"reconnect": "handshake", "interval": 500, "timeout": 2000})
    assert (advice.reconnect, advice.interval_s, advice.timeout_ms) == ("handshake", 0.5, 2000)
    advice.update({"reconnect": "retry"})  # a 402 reply's advice usually names no timeout
    assert advice.timeout_ms == 2000 and advice.poll_deadline_s == pytest.approx(2.4)
    advice.update({"reconnect": "sideways", "timeout": "soon", "interval": -1})  # nonsense is ignored
    assert (advice.reconnect, advice.interval_s, advice.timeout_ms) == ("retry", 0.5, 2000)
    advice.update(None)
    assert advice.reconnect == "retry"
