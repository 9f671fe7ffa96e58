"""``Capture.diagnose()`` on gwsnb's own captures (``connect(capture=...)``): the writer's HAR gives the
same verdict as the Chromium captures; no browser needed."""

from __future__ import annotations

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
    # the healthy capture of the same calls names nothing (the rule needs the missing end)
    healthy = tmp_path / "healthy.har"
    with gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, timeout=10.0, capture=str(healthy),
                       capture_secrets=False) as client:
        for handle in (first, second):
            client.get_chained_record(handle, **target)
    assert read_quietly(healthy).diagnose().ok
