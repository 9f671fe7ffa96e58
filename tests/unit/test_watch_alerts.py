"""The watch's alert rules on finished connects and meta replies (the logic alone; the same alerts against
real servers are in tests/client/test_clock_watch.py)."""

from __future__ import annotations

from gwsnb._engine.watch import OwnReferences, WatchCore
from gwsnb._wire.cometd import ConnectReport
from gwsnb.results import Event

HOLD_MS = 30_000.0


def _kinds(*reports: ConnectReport) -> list[str]:
    core = WatchCore(OwnReferences("gwsnb-x-"))
    for report in reports:
        core.connect_finished(report)
    return [a.kind for a in core.alert_list()]


def _report(started: float, duration: float, outcome: str = "ok", *, held: bool = True, messages: int = 0,
            error: str | None = None) -> ConnectReport:
    return ConnectReport(started, started + duration, outcome, held, HOLD_MS, messages, error)


def test_a_held_connect_cut_by_a_proxy_is_told_from_a_refused_one() -> None:
    assert _kinds(_report(0, 5.0, "error", error="ServerDisconnectedError")) == ["cut"]
    assert _kinds(_report(0, 5.0, "refused", error="HTTP 504")) == ["cut"]  # a proxy's gateway timeout
    assert _kinds(_report(0, 5.0, "ok")) == ["cut"]  # answered empty long before the hold
    assert _kinds(_report(0, 0.01, "error", error="ClientConnectorError")) == []  # refused at once: no hold
    assert _kinds(_report(0, 0.2, "refused", error="402::Unknown client")) == []  # the 402 alert tells that one
    assert _kinds(_report(0, 0.5, "ok", messages=3)) == []  # notifications end a hold early, as they should
    assert _kinds(_report(0, 29.5, "ok")) == []  # the full hold
    assert _kinds(_report(0, 0.01, "ok", held=False)) == []  # the first connect after a handshake asks for 0
    assert _kinds(_report(0, 36.0, "silent")) == ["silent"]


def test_a_pause_between_connects_is_a_gap() -> None:
    assert _kinds(_report(0, 30.0), _report(30.1, 30.0)) == []
    assert _kinds(_report(0, 30.0), _report(35.0, 30.0)) == ["gap"]
    # attempts that failed in between (a server down, the client backing off) are part of the gap
    failed = [_report(30.0 + 0.8 * i, 0.01, "error", error="ClientConnectorError") for i in range(6)]
    assert _kinds(_report(0, 30.0), *failed, _report(35.0, 30.0)) == ["gap"]


def test_meta_replies_402_refused_and_multiple_clients() -> None:
    core = WatchCore(OwnReferences("gwsnb-x-"))
    core.received([
        Event(1.0, {"channel": "/meta/connect", "successful": False, "error": "402::Unknown client",
                    "advice": {"reconnect": "handshake"}}),
        Event(2.0, {"channel": "/meta/subscribe", "successful": False, "error": "403::Forbidden"}),
        Event(3.0, {"channel": "/meta/connect", "successful": True, "advice": {"multiple-clients": True}}),
        Event(4.0, {"channel": "/meta/connect", "successful": True, "advice": {"timeout": 30000}}),
    ])
    assert [a.kind for a in core.alert_list()] == ["402", "refused", "multiple-clients"]
    assert core.alert_list(since=2)[0].kind == "multiple-clients" and core.alert_total == 3
