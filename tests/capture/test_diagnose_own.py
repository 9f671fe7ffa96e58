"""``Capture.diagnose()`` on gwsnb's own captures (``connect(capture=...)``): the writer's HAR gives the
same verdict as the Chromium captures; no browser needed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import gwsnb
from gwsnb.doctor import CAUSES
from gwsnb.sandbox import Faults, Sandbox

from .conftest import Recorded, record_session


def test_own_capture_with_an_unknown_handle_names_ocs_error(recorded: Recorded, read_quietly: Any) -> None:
    d = read_quietly(recorded.path).diagnose()
    assert d.cause == "ocs_error", d.text()
    assert [(s.name, s.cause) for s in d.steps if s.status in ("fail", "warn")] == [("round-trip", "ocs_error")]
    step = d.step("round-trip")
    assert "987654" in step.summary or "987654" in str(step.evidence)  # the notification's own errorMessage
    assert step.fix == CAUSES["ocs_error"].fix


def test_own_redacted_capture_of_a_healthy_session_is_ok(sandbox: Sandbox, tmp_path: Path,
                                                          read_quietly: Any) -> None:
    recorded = record_session(sandbox, tmp_path / "own.har", secrets=False)
    d = read_quietly(recorded.path).diagnose()
    assert d.ok and not d.warnings, d.text()
    assert d.step("round-trip").status == "ok" and "3 acknowledged calls, 3 answered" in d.step("round-trip").summary


def test_own_capture_of_a_call_whose_data_end_never_came(sandbox: Sandbox, tmp_path: Path,
                                                          read_quietly: Any) -> None:
    """The records of the first call arrive, its ChainedRecordsDataEnd does not (the sandbox's fault); the
    second call's notifications come in long polls begun after them: the end was not sent, not lost to the
    capture's end."""
    first, second = sandbox.record_handles[:2]
    path = tmp_path / "no-end.har"
    target = {"campaign_name": sandbox.campaign_name, "application_id": sandbox.application_id}
    try:
        with gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, timeout=10.0, capture=str(path),
                           capture_secrets=False) as client:
            sandbox.faults = Faults(drop_data_end=True)
            with pytest.raises(gwsnb.NotificationTimeout):
                client.get_chained_record(first, timeout=1.0, **target)
            sandbox.faults = Faults()
            client.get_chained_record(second, **target)
    finally:
        sandbox.faults = Faults()
    d = read_quietly(path).diagnose()
    assert d.cause == "notifications_missing", d.text()
    step = d.step("round-trip")
    assert "1 acknowledged call(s) got their records but no ChainedRecordsDataEnd" in step.summary
    assert [s.name for s in d.steps if s.status in ("fail", "warn")] == ["round-trip"]
    # the same capture stopping 0.1 s after the first call's records (another call's notifications answered a
    # long poll begun after them; the times squeezed, so that a loaded machine cannot stretch them): the end
    # may still have been on its way, so it is not named missing
    cut = tmp_path / "cut-short.har"
    _squeezed_after_first_records(path, cut, span_s=0.1)
    d = read_quietly(cut).diagnose()
    assert d.cause != "notifications_missing", d.text()
    assert "1 still open when the capture ends" in d.step("round-trip").summary, d.text()
    # the healthy capture of the same calls names nothing (the rule needs the missing end)
    healthy = tmp_path / "healthy.har"
    with gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, timeout=10.0, capture=str(healthy),
                       capture_secrets=False) as client:
        for handle in (first, second):
            client.get_chained_record(handle, **target)
    assert read_quietly(healthy).diagnose().ok




def _squeezed_after_first_records(path: Path, out: Path, span_s: float) -> None:
    """The capture at ``path`` with everything after the first ChainedRecord's long poll answered squeezed
    into ``span_s`` seconds (order kept): the capture of a client that called again and left at once."""
    har = json.loads(path.read_text())
    entries = har["log"]["entries"]
    start = {id(e): dt.datetime.fromisoformat(e["startedDateTime"].replace("Z", "+00:00")) for e in entries}
    first = min((e for e in entries if '"ChainedRecord"' in e["response"]["content"].get("text", "")),
                key=lambda e: start[id(e)])
    t0 = start[id(first)] + dt.timedelta(milliseconds=first["time"])
    later = [e for e in entries if start[id(e)] >= t0]
    end = max(start[id(e)] + dt.timedelta(milliseconds=e["time"]) for e in later)
    k = span_s / max((end - t0).total_seconds(), span_s)
    for e in later:
        e["startedDateTime"] = (t0 + (start[id(e)] - t0) * k).isoformat().replace("+00:00", "Z")
        e["time"] *= k
        e["timings"] = {name: (v * k if isinstance(v, (int, float)) and v > 0 else v)
                        for name, v in e["timings"].items()}
    out.write_text(json.dumps(har))
