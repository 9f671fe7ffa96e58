"""Bad input: a clear CaptureError (or "no GWS traffic in this capture"), never a traceback."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

import gwsnb
from gwsnb.cli import main
from tests.capture.conftest import Recorded


def har(entries: list[Any], **log: Any) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, **log, "entries": entries}}


def other_site_entry(url: str = "https://example.org/index.html") -> dict[str, Any]:
    return {"startedDateTime": "2024-05-01T10:00:00.000Z", "time": 12.5,
            "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                        "queryString": [], "headersSize": -1, "bodySize": 0},
            "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                         "content": {"size": 5, "mimeType": "text/html", "text": "hello"}, "redirectURL": "",
                         "headersSize": -1, "bodySize": 5},
            "cache": {}, "timings": {"send": 0, "wait": 10, "receive": 2.5}}


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "does not start with a JSON object"),
    (b"[1, 2, 3]", "does not start with a JSON object"),
    (b"hello, this is text", "does not start with a JSON object"),
    (b'{"name": "not a har"}', "no 'log' object with 'entries'"),
    (b'{"log": {"version": "1.2", "creator": {"name": "x"}}}', "no 'log' object with 'entries'"),
    (json.dumps(har([])).encode(), "the log has no entries"),
    (json.dumps(har([{"request": "nonsense"}])).encode(), "none of its 1 entries is an HTTP exchange"),
    (json.dumps(har([other_site_entry()])).encode(), "no GWS traffic in this capture"),
    (b'{"log": {"version": "1.2", "entries": [{"startedDateTime": ', "cut short"),
    (b'{"log": {"entries": [}', "cannot be read"),
])
def test_bad_files_give_a_capture_error(tmp_path: Path, content: bytes, reason: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.har"
    path.write_bytes(content)
    with pytest.raises(gwsnb.CaptureError) as info:
        gwsnb.read_capture(path)
    assert reason in info.value.reason and str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert main(["capture", "show", str(path)]) == 2
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err


def test_a_truncated_capture_of_gws_is_cut_short(recorded: Recorded, tmp_path: Path) -> None:
    data = recorded.path.read_bytes()
    path = tmp_path / "truncated.har"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(gwsnb.CaptureError, match="cut short"):
        gwsnb.read_capture(path)


def test_missing_file_and_wrong_argument(tmp_path: Path) -> None:
    with pytest.raises(gwsnb.CaptureError, match="cannot read it"):
        gwsnb.read_capture(tmp_path / "nowhere.har")
    with pytest.raises(gwsnb.CaptureError, match="cannot read it"):
        gwsnb.read_capture(tmp_path)  # a folder
    with pytest.raises(gwsnb.InvalidParameterError, match="path"):
        gwsnb.read_capture(42)  # type: ignore[arg-type]


def test_binary_bodies_are_kept_as_binary_not_an_error(recorded: Recorded, tmp_path: Path,
                                                        read_quietly: Any) -> None:
    data = json.loads(recorded.path.read_text())
    entries = data["log"]["entries"]
    picture = other_site_entry(entries[0]["request"]["url"].rsplit("/api/", 1)[0] + "/favicon.ico")
    picture["response"]["content"] = {"size": 64, "mimeType": "image/x-icon", "encoding": "base64",
                                      "text": base64.b64encode(os.urandom(64) + b"\xff\xfe").decode()}
    picture["request"]["method"] = "POST"
    picture["request"]["postData"] = {"mimeType": "application/octet-stream", "encoding": "base64",
                                      "text": base64.b64encode(b"\x00\x01\xff" * 10).decode()}
    entries.append(picture)
    path = tmp_path / "binary.har"
    path.write_text(json.dumps(data))
    capture = read_quietly(path)
    binary = [e for e in capture.entries if e.path.endswith("favicon.ico")]
    assert len(binary) == 1 and binary[0].response_binary and binary[0].response_body is None
    assert binary[0].request_binary and not binary[0].is_gws
    assert len(capture.calls) == 4
    capture.redact(tmp_path / "binary-redacted.har")
    assert len(read_quietly(tmp_path / "binary-redacted.har").entries) == len(capture.entries)


def test_redact_to_a_missing_folder_is_a_capture_error(recorded: Recorded, tmp_path: Path,
                                                       read_quietly: Any) -> None:
    capture = read_quietly(recorded.path)
    with pytest.raises(gwsnb.CaptureError, match="cannot write it"):
        capture.redact(tmp_path / "no" / "such" / "folder.har")
