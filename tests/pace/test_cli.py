"""``gwsnb chained-records`` with the pace options and ``--plan``: the console script in a subprocess against
the in-process sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gwsnb.sandbox import Sandbox

from .conftest import PASSWORD

GWSNB = str(Path(sys.executable).parent / "gwsnb")


def cli(sb: Sandbox, *extra: str, handles: str = "1-400") -> subprocess.CompletedProcess[str]:
    args = [GWSNB, "chained-records", "--url", sb.url, "--user", sb.username, "--campaign", sb.campaign_name,
            "--application-id", str(sb.application_id), "--handles", handles, "--password-env", "PACE_PW",
            "--no-progress", *extra]
    env = {**{k: v for k, v in os.environ.items() if k != "GWS_PASSWORD"}, "PACE_PW": PASSWORD}
    return subprocess.run(args, input="", capture_output=True, text=True, env=env, timeout=60,
                          start_new_session=True)


@pytest.mark.parametrize(("extra", "option"), [
    (("--concurrency", "0"), "--concurrency"),
    (("--concurrency", "fast"), "--concurrency"),
    (("--rate", "-3"), "--rate"),
    (("--rate", "lots"), "--rate"),
    (("--max-calls", "0"), "--max-calls"),
    (("--max-concurrency", "x"), "--max-concurrency"),
    (("--window", "20:00"), "--window"),
    (("--window", "20:00-07:00", "--tz", "Nowhere/City"), "--tz"),
])
def test_bad_pace_options_exit_2_naming_the_option(sb: Sandbox, extra: tuple[str, ...], option: str) -> None:
    proc = cli(sb, *extra)
    assert proc.returncode == 2, proc.stderr
    assert f"argument {option}" in proc.stderr
    assert sb.stats()["requests"] == 0


def test_plan_prints_and_calls_only_its_sample(sb: Sandbox) -> None:
    proc = cli(sb, "--plan", "--plan-sample", "50", "--rate", "40", "--concurrency", "auto",
               "--window", "20:00-07:00", "--tz", "UTC")
    assert proc.returncode == 0, proc.stderr
    assert sb.stats()["requests"] == 50
    assert "handles      400" in proc.stdout and "calls        ~" in proc.stdout
    assert "concurrency auto (max 64) · rate 40/s · window 20:00–07:00 (UTC)" in proc.stdout
    assert "runs " in proc.stdout  # the span the run falls in


def test_max_calls_exit_3_then_resume(sb: Sandbox, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    out = str(tmp_path / "run")
    first = cli(sb, "--max-calls", "30", "--rate", "500", "--out-dir", out)
    assert first.returncode == 3, first.stderr
    assert sb.stats()["requests"] == 30
    assert "stopped by max_calls after 30 call(s)" in first.stderr and "load: 30 calls" in first.stderr
    second = cli(sb, "--out-dir", out, "--resume", "--concurrency", "8")
    assert second.returncode == 0, second.stderr
    assert "remaining" not in second.stderr
