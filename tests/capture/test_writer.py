"""gwsnb's own HAR writer: valid HAR 1.2 for a published validator, bounded, written by the client, the
bulk command and the doctor, with a failed request kept as status 0."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

import gwsnb
from gwsnb._capture.writer import HarRecorder
from gwsnb.cli import main
from gwsnb.sandbox import Sandbox
from tests.capture.conftest import PEERS, Recorded, record_session

needs_validator = pytest.mark.skipif(shutil.which("node") is None
                                     or not (PEERS / "node_modules" / "har-validator").is_dir(),
                                     reason="needs `make peers` (har-validator)")


def validate(path: Path) -> dict[str, object]:
    done = subprocess.run(["node", str(PEERS / "har_validate.js"), str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    return json.loads(done.stdout)


@pytest.mark.node
@needs_validator
@pytest.mark.parametrize("secrets", [True, False])
def test_own_capture_is_valid_har(sandbox: Sandbox, tmp_path: Path, secrets: bool) -> None:
    own = record_session(sandbox, tmp_path / "own.har", secrets=secrets, error_handle=987654)
    assert validate(own.path) == {"valid": True, "entries": len(json.loads(own.path.read_text())["log"]["entries"])}


@pytest.mark.node
@needs_validator
def test_the_validator_refuses_a_broken_har(recorded: Recorded, tmp_path: Path) -> None:
    data = json.loads(recorded.path.read_text())
    del data["log"]["entries"][0]["request"]["method"]
    broken = tmp_path / "broken.har"
    broken.write_text(json.dumps(data))
    assert validate(broken)["valid"] is False


def test_the_capture_is_bounded_and_says_how_many_were_dropped(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "bounded.har"
    with gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, timeout=10.0, capture=str(path)) as client:
        recorder = client.capture_recorder
        assert isinstance(recorder, HarRecorder)
        recorder.max_bytes = 30_000
        for handle in sandbox.record_handles[:3] * 4:
            client.get_chained_record(handle, campaign_name=sandbox.campaign_name,
                                      application_id=sandbox.application_id)
    dropped = recorder.dropped
    assert dropped > 0
    capture = gwsnb.read_capture(path)
    assert f"{dropped} oldest entries dropped" in (capture.comment or "")
    assert "bounded to 30000 bytes" in (capture.comment or "")
    kept = json.loads(path.read_text())["log"]["entries"]
    assert len(kept) == len(capture.entries) < 12 * 3
    assert sum(len(e["response"]["content"].get("text", "")) for e in kept) <= 30_000


def test_capture_arguments_are_checked_before_anything_is_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(gwsnb.InvalidParameterError, match="capture"):
        gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, capture=42)  # type: ignore[arg-type]
    with pytest.raises(gwsnb.InvalidParameterError, match="does not exist"):
        gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, capture=str(tmp_path / "no" / "x.har"))
    with pytest.raises(gwsnb.InvalidParameterError, match="capture_secrets"):
        gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, capture=str(tmp_path / "x.har"),
                      capture_secrets="yes")  # type: ignore[arg-type]
    assert not (tmp_path / "x.har").exists()


def test_a_refused_connection_is_kept_as_status_0(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "refused.har"
    with pytest.raises(gwsnb.TransportError):
        gwsnb.connect(f"http://127.0.0.1:{port}/api/v2", "agent", "pw", timeout=2.0, capture=str(path))
    capture = gwsnb.read_capture(path)
    frame = capture.requests_frame()
    assert frame["status"].tolist() == [0] and frame["error"].str.contains("Connect|refused", regex=True).all()
    assert "HTTP and Bayeux errors: 1" in capture.text()


def test_chained_records_and_doctor_write_captures(sandbox: Sandbox, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CAPTURE_TEST_PW", sandbox.password)
    bulk = tmp_path / "bulk.har"
    handles = ",".join(str(h) for h in sandbox.record_handles[:3])
    assert main(["chained-records", "--url", sandbox.url, "--user", sandbox.username, "--password-env",
                 "CAPTURE_TEST_PW", "--campaign", sandbox.campaign_name, "--application-id",
                 str(sandbox.application_id), "--handles", handles, "--every-handle", "--no-progress",
                 "--format", "json", "--capture", str(bulk)]) == 0
    capsys.readouterr()
    capture = gwsnb.read_capture(bulk)
    assert sorted(capture.calls_frame()["record_handle"].tolist()) == sorted(sandbox.record_handles[:3])
    assert sandbox.password.encode() not in bulk.read_bytes()
    doctor = tmp_path / "doctor.har"
    assert main(["doctor", "--url", sandbox.url, "--user", sandbox.username, "--password-env", "CAPTURE_TEST_PW",
                 "--quick", "--capture", str(doctor)]) == 0
    capsys.readouterr()
    checked = gwsnb.read_capture(doctor)
    assert checked.creator.kind == "gwsnb" and any(e.path.endswith("/me") for e in checked.entries)
    assert any(e.is_bayeux for e in checked.entries)
