"""The event log, the received-message hygiene and the advice tracking, on their own."""

from __future__ import annotations

import threading

import pytest

from gwsnb._wire.eventlog import EventLog
from gwsnb._wire.hygiene import INVALID_MESSAGE_KEY, MalformedBody, is_unknown_client, parse_body
from gwsnb._wire.reconnect import DEFAULT_ADVICE_TIMEOUT_MS, Advice
from gwsnb.results import Event


def _events(n: int, start: int = 0) -> list[Event]:
    return [Event(float(i), {"channel": "/x", "id": i}) for i in range(start, start + n)]


def test_append_keeps_order_and_counts_what_overflow_drops() -> None:
    log = EventLog(3)
    for event in _events(5):
        log.append(event)
    assert [e.message["id"] for e in log] == [2, 3, 4]
    assert (len(log), log.total, log.dropped, log.maxlen) == (3, 5, 2, 3)


def test_extend_counts_like_append() -> None:
    log = EventLog(4)
    log.extend(_events(3))
    log.extend(_events(3, start=3))
    assert [e.message["id"] for e in log.snapshot()] == [2, 3, 4, 5]
    assert (log.total, log.dropped) == (6, 2)
    log.extend([])
    assert (log.total, log.dropped) == (6, 2)
    log.clear()
    assert len(log) == 0 and log.total == 6 and "0/4 messages, 2 dropped" in repr(log)


@pytest.mark.parametrize("size", [0, -1, True, 2.5])
def test_bad_size(size: object) -> None:
    with pytest.raises(ValueError):
        EventLog(size)  # type: ignore[arg-type]


def test_snapshots_from_another_thread_while_appending() -> None:
    log = EventLog(1000)
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
        for _ in range(2000):
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
