"""``Capture.diagnose()`` on gwsnb's own captures (``connect(capture=...)``): the writer's HAR gives the
same verdict as the Chromium captures; no browser needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gwsnb.doctor import CAUSES
from gwsnb.sandbox import Sandbox

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
