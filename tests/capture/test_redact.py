"""Redaction: no secret of the original survives in the redacted file (as bytes, base64 included), the
placeholders keep sessions and clients apart, and the redacted capture frames the same."""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path
from typing import Any

import pandas.testing as pdt
import pytest

import gwsnb
from gwsnb import frames
from gwsnb.capture import CaptureSecretsWarning
from gwsnb.cli import main
from gwsnb.sandbox import Sandbox
from tests.capture.conftest import Recorded, record_session


def forms(value: str) -> list[bytes]:
    """``value`` as it could appear in a file: raw, and base64 (at each of the three alignments)."""
    raw = value.encode()
    found = [raw]
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + raw)
        # the characters that depend only on ``value`` (not on the bytes around it in a longer body)
        found.append(encoded[(pad * 4 + 2) // 3 + 1:-4] if pad else encoded[:-4])
    return [f for f in found if len(f) >= 6]


def assert_gone(path: Path, secrets: dict[str, list[str]], user: str) -> None:
    data = path.read_bytes()
    for kind, values in secrets.items():
        for value in values:
            for form in forms(value):
                assert form not in data, f"{kind} left in {path.name} as {form[:4]!r}..."
    basic = base64.b64encode(f"{user}:{secrets['password'][0]}".encode())
    assert basic not in data


def test_the_fixture_capture_holds_every_kind_of_secret(recorded: Recorded) -> None:
    data = recorded.path.read_bytes()
    assert all(recorded.secrets[kind] for kind in ("password", "cookie", "csrf", "client_id"))
    for kind in ("cookie", "csrf", "client_id"):
        assert all(v.encode() in data for v in recorded.secrets[kind]), kind
    assert b"Basic " in data
    # the password travels only in base64 (the Basic header): the search finds it there
    assert recorded.secrets["password"][0].encode() not in data
    assert any(form in data for form in forms(recorded.secrets["password"][0]))


def test_redact_removes_every_secret_and_frames_the_same(recorded: Recorded, sandbox: Sandbox, tmp_path: Path,
                                                         read_quietly: Any) -> None:
    capture = read_quietly(recorded.path)
    out = tmp_path / "redacted.har"
    counts = capture.redact(out)
    assert {"authorization", "jsessionid", "csrf", "clientid"} <= set(counts)
    assert_gone(out, recorded.secrets, sandbox.username)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureSecretsWarning)  # a redacted capture holds nothing to warn of
        redacted = gwsnb.read_capture(out)
    for name in ("records_frame", "metrics_frame", "calls_frame", "requests_frame"):
        pdt.assert_frame_equal(getattr(redacted, name)(), getattr(capture, name)(), obj=name)
    pdt.assert_frame_equal(redacted.messages_frame().drop(columns="payload"),
                           capture.messages_frame().drop(columns="payload"))
    assert redacted.sessions == capture.sessions and redacted.clients == capture.clients
    assert "redacted by gwsnb" in (redacted.comment or "")


def test_placeholders_are_stable_and_distinct(tmp_path: Path, sandbox: Sandbox, read_quietly: Any) -> None:
    # two clients one after the other: two sessions, two CometD clients, kept apart after redaction
    first = record_session(sandbox, tmp_path / "a.har", secrets=True)
    second = record_session(sandbox, tmp_path / "b.har", secrets=True)
    merged = json.loads(first.path.read_text())
    merged["log"]["entries"] += json.loads(second.path.read_text())["log"]["entries"]
    both = tmp_path / "both.har"
    both.write_text(json.dumps(merged))
    capture = read_quietly(both)
    out = tmp_path / "both-redacted.har"
    capture.redact(out)
    text = out.read_text()
    placeholders = {p for p in text.split('"') if p.startswith("gwsnb-redacted-clientid-")}
    assert len(placeholders) == 2
    redacted = gwsnb.read_capture(out)
    assert len(redacted.sessions) == len(capture.sessions) == 2
    assert len(redacted.clients) == 2
    assert_gone(out, {k: first.secrets[k] + second.secrets[k] for k in first.secrets}, sandbox.username)


def test_customer_data_masks_phones_and_custom_fields(recorded: Recorded, tmp_path: Path,
                                                      read_quietly: Any) -> None:
    capture = read_quietly(recorded.path)
    records = capture.records_frame()
    phones = [p for p in records["contact_info"].dropna() if len(p) >= 6]
    assert phones
    out = tmp_path / "masked.har"
    counts = capture.redact(out, customer_data=True)
    assert counts.get("phone", 0) >= len(phones)
    data = out.read_bytes()
    assert not any(p.encode() in data for p in phones)
    masked = read_quietly(out).records_frame()
    assert masked["contact_info"].str.startswith("gwsnb-redacted-phone-").all()
    pdt.assert_series_equal(masked["record_handle"], records["record_handle"])
    pdt.assert_series_equal(masked["chain_n"], records["chain_n"])


def test_reading_secrets_warns_once_naming_kinds_never_values(recorded: Recorded) -> None:
    with pytest.warns(CaptureSecretsWarning) as caught:
        gwsnb.read_capture(recorded.path)
    assert len([w for w in caught if w.category is CaptureSecretsWarning]) == 1
    message = str(caught[0].message)
    assert "Authorization header" in message and "cookie values" in message and "CSRF token" in message
    for values in recorded.secrets.values():
        assert not any(v in message for v in values)


def test_own_capture_is_redacted_unless_secrets_are_asked_for(sandbox: Sandbox, tmp_path: Path) -> None:
    own = record_session(sandbox, tmp_path / "own.har", secrets=False)
    assert_gone(own.path, own.secrets, sandbox.username)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureSecretsWarning)
        capture = gwsnb.read_capture(own.path)
    pdt.assert_frame_equal(capture.records_frame(), frames.records_frame(own.results))


def test_cli_redact(recorded: Recorded, sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.har"
    assert main(["capture", "redact", str(recorded.path), "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["out"] == str(out) and report["replaced"]["clientid"] >= 1
    assert_gone(out, recorded.secrets, sandbox.username)
    assert main(["capture", "redact", str(recorded.path), "-o", str(recorded.path)]) == 2
    assert "must not overwrite" in capsys.readouterr().err


def test_a_client_id_in_a_url_is_replaced_too(recorded: Recorded, sandbox: Sandbox, tmp_path: Path,
                                              read_quietly: Any) -> None:
    # long-polling transports other than gwsnb's put the clientId (and the messages) in the query string
    data = json.loads(recorded.path.read_text())
    client_id = recorded.secrets["client_id"][0]
    connects = [e for e in data["log"]["entries"] if "/meta/connect" in e["request"].get("postData", {}).get("text", "")]
    for entry in connects:
        entry["request"]["url"] += f"?clientId={client_id}&jsonp=cb"
        entry["request"]["queryString"] = [{"name": "clientId", "value": client_id}, {"name": "jsonp", "value": "cb"}]
    path = tmp_path / "query.har"
    path.write_text(json.dumps(data))
    capture = read_quietly(path)
    assert sum(("clientId", client_id) in e.query for e in capture.entries) == len(connects) > 0
    out = tmp_path / "query-redacted.har"
    capture.redact(out)
    assert_gone(out, recorded.secrets, sandbox.username)
    assert "clientId=gwsnb-redacted-clientid-" in out.read_text()
