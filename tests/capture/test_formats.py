"""What other HAR writers do differently, applied to a real capture: the calls read the same.

Each rewrite below follows the writer's published behaviour (Chrome/Edge: base64 bodies, ``_transferSize``,
entries not in start order, and in recent versions a sanitized default export without ``Cookie``,
``Set-Cookie`` and ``Authorization``; Firefox: local times with an offset, several ``Set-Cookie`` joined by
newlines in one header).  The real producers are tested elsewhere: mitmproxy here (test_mitmproxy.py),
Chromium's recorder in the diagnosis tests.
"""

from __future__ import annotations

import base64
import json
import random
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas.testing as pdt
import pytest

import gwsnb
from gwsnb.capture import CaptureSecretsWarning
from tests.capture.conftest import Recorded

SAME = ["record_handle", "reference_id", "status", "records"]


def rewrite(recorded: Recorded, tmp_path: Path, name: str, change: Any) -> Path:
    data = json.loads(recorded.path.read_text())
    change(data["log"])
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def chrome(log: dict[str, Any]) -> None:
    log["creator"] = {"name": "WebInspector", "version": "537.36"}
    for entry in log["entries"]:
        content = entry["response"]["content"]
        if "text" in content:
            entry["response"]["_transferSize"] = len(content["text"]) + 200
            content["text"] = base64.b64encode(content["text"].encode()).decode()
            content["encoding"] = "base64"
        moment = datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00"))
        entry["startedDateTime"] = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    random.Random(7).shuffle(log["entries"])


def sanitize(log: dict[str, Any]) -> None:
    chrome(log)
    for entry in log["entries"]:
        for side in ("request", "response"):
            entry[side]["headers"] = [h for h in entry[side]["headers"]
                                      if h["name"].lower() not in ("cookie", "set-cookie", "authorization")]
            entry[side]["cookies"] = []


def firefox(log: dict[str, Any]) -> None:
    log["creator"] = {"name": "Firefox", "version": "128.0"}
    log["browser"] = {"name": "Firefox", "version": "128.0"}
    for entry in log["entries"]:
        moment = datetime.fromisoformat(entry["startedDateTime"].replace("Z", "+00:00"))
        local = moment.astimezone(timezone(timedelta(hours=2)))
        entry["startedDateTime"] = local.isoformat(timespec="milliseconds")
        headers = entry["response"]["headers"]
        cookies = [h["value"] for h in headers if h["name"].lower() == "set-cookie"]
        if cookies:
            headers[:] = [h for h in headers if h["name"].lower() != "set-cookie"]
            headers.append({"name": "Set-Cookie", "value": "\n".join(cookies + ["theme=dark; Path=/"])})


def read(path: Path) -> gwsnb.Capture:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureSecretsWarning)
        return gwsnb.read_capture(path)


def test_chrome_export_reads_the_same(recorded: Recorded, tmp_path: Path) -> None:
    original = read(recorded.path)
    capture = read(rewrite(recorded, tmp_path, "chrome.har", chrome))
    assert capture.creator.kind == "chrome"
    assert [e.index for e in capture.entries] != sorted(e.index for e in capture.entries)  # shuffled in the file
    assert [e.started for e in capture.entries] == sorted(e.started for e in capture.entries)
    pdt.assert_frame_equal(capture.records_frame(), original.records_frame())
    pdt.assert_frame_equal(capture.calls_frame()[SAME], original.calls_frame()[SAME])
    assert capture.sessions == original.sessions
    assert capture.requests_frame()["response_bytes"].notna().all()


def test_chrome_sanitized_export_still_gives_the_calls(recorded: Recorded, tmp_path: Path) -> None:
    path = rewrite(recorded, tmp_path, "sanitized.har", sanitize)
    with pytest.warns(CaptureSecretsWarning) as caught:
        capture = gwsnb.read_capture(path)
    message = str(caught[0].message)  # Chrome keeps the CSRF header: only that is left to warn of
    assert "CSRF token" in message and "cookie" not in message and "Authorization" not in message
    assert capture.sanitized and not capture.sessions
    assert "Authorization header" not in capture.secrets() and "cookie values" not in capture.secrets()
    pdt.assert_frame_equal(capture.records_frame(), read(recorded.path).records_frame())
    assert "sanitized" in capture.text()


def test_firefox_export_reads_the_same(recorded: Recorded, tmp_path: Path) -> None:
    original = read(recorded.path)
    capture = read(rewrite(recorded, tmp_path, "firefox.har", firefox))
    assert capture.creator.kind == "firefox"
    assert capture.start == original.start.replace(microsecond=original.start.microsecond // 1000 * 1000)
    setting = [e for e in capture.entries if e.cookies_set]
    assert setting and all("theme" in e.cookies_set for e in setting)
    assert [e.session_set_hash for e in setting] == [e.session_set_hash for e in original.entries if e.cookies_set]
    pdt.assert_frame_equal(capture.records_frame(), original.records_frame())
    pdt.assert_frame_equal(capture.calls_frame()[SAME], original.calls_frame()[SAME])


def test_metadata_after_the_entries_is_still_read(recorded: Recorded, tmp_path: Path) -> None:
    data = json.loads(recorded.path.read_text())
    log = data["log"]
    data["log"] = {"entries": log["entries"], "version": "1.2", "creator": {"name": "mitmproxy", "version": "11"},
                   "pages": [{"id": "page_1", "title": "WWE", "startedDateTime": log["entries"][0]["startedDateTime"]}]}
    path = tmp_path / "late-metadata.har"
    path.write_text(json.dumps(data))
    capture = read(path)
    assert capture.creator.kind == "mitmproxy"  # found by a second pass, for the creator alone
    assert len(capture.calls) == len(read(recorded.path).calls)


def websocket(log: dict[str, Any]) -> None:
    """The long polls as one CometD-over-WebSocket entry, as Chrome exports it (``_webSocketMessages``)."""
    from gwsnb._capture.har import parse_started

    bayeux = [e for e in log["entries"] if e["request"]["url"].endswith("/notifications")]
    frames: list[dict[str, Any]] = []
    for entry in bayeux:
        start = parse_started(entry["startedDateTime"]).timestamp()  # type: ignore[union-attr]
        frames.append({"type": "send", "time": start, "opcode": 1, "data": entry["request"]["postData"]["text"]})
        frames.append({"type": "receive", "time": start + entry["time"] / 1000.0, "opcode": 1,
                       "data": entry["response"]["content"]["text"]})
    socket = json.loads(json.dumps(bayeux[0]))
    socket["request"].update(method="GET", url=socket["request"]["url"].replace("http://", "ws://"))
    del socket["request"]["postData"]
    socket["response"].update(status=101, statusText="Switching Protocols", content={"size": 0, "mimeType": "x-unknown"})
    socket["_resourceType"] = "websocket"
    socket["_webSocketMessages"] = frames
    log["entries"] = [e for e in log["entries"] if e not in bayeux] + [socket]


def test_cometd_over_websocket_reads_the_same(recorded: Recorded, tmp_path: Path) -> None:
    original = read(recorded.path)
    capture = read(rewrite(recorded, tmp_path, "websocket.har", websocket))
    sockets = [e for e in capture.entries if e.websocket is not None]
    assert len(sockets) == 1 and sockets[0].status == 101 and sockets[0].is_bayeux
    pdt.assert_frame_equal(capture.records_frame(), original.records_frame())
    pdt.assert_frame_equal(capture.metrics_frame(), original.metrics_frame())
    pdt.assert_frame_equal(capture.calls_frame()[SAME], original.calls_frame()[SAME])
    assert len(capture.messages) == len(original.messages)
    assert set(capture.messages_frame()["client_id"].dropna()) == set(original.messages_frame()["client_id"].dropna())
    out = tmp_path / "websocket-redacted.har"
    capture.redact(out)
    assert recorded.secrets["client_id"][0] not in out.read_text()
    pdt.assert_frame_equal(read(out).records_frame(), original.records_frame())
