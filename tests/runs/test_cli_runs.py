"""``gwsnb chained-records --out-dir DIR [--resume]``: the console script streaming a run, in a subprocess
against the in-process sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gwsnb
from gwsnb.sandbox import Faults, Sandbox

from .conftest import PASSWORD

GWSNB = str(Path(sys.executable).parent / "gwsnb")


def cli(sb: Sandbox, handles: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [GWSNB, "chained-records", "--url", sb.url, "--user", sb.username, "--campaign", sb.campaign_name,
            "--application-id", str(sb.application_id), "--handles", handles, "--password-env", "RUNS_PW",
            *extra]
    env = {**os.environ, "RUNS_PW": PASSWORD}
    return subprocess.run(args, input="", capture_output=True, text=True, env=env, timeout=120,
                          start_new_session=True)


def test_out_dir_writes_a_run_and_resume_continues_it(sb: Sandbox, tmp_path: Path) -> None:
    out = os.fspath(tmp_path / "run")
    sb.faults = Faults(error_handles={3})
    # --every-handle: handle 3 is called even when a neighbour's chain holds its record
    proc = cli(sb, "1-30", "--out-dir", out, "--no-progress", "--every-handle")
    assert proc.returncode == 1, proc.stderr  # handle 3 failed
    assert proc.stdout == ""
    assert "30 handle(s), ok 29, failed 1" in proc.stderr and "failed handle 3: ChainedRecordError" in proc.stderr
    assert PASSWORD not in proc.stderr
    run = gwsnb.open_run(out)
    assert (run.done, run.failed, run.remaining) == (29, 1, 0)
    # the same command again is refused: the folder holds a run
    again = cli(sb, "1-30", "--out-dir", out)
    assert again.returncode == 2 and "holds a run already; pass --resume" in again.stderr
    # --resume with other handles is refused, naming the option
    other = cli(sb, "1-31", "--out-dir", out, "--resume")
    assert other.returncode == 2 and "argument --out-dir" in other.stderr and "handles differ" in other.stderr
    # --resume with the same ones: nothing left to do, same counts
    sb.faults = Faults()
    same = cli(sb, "1-30", "--out-dir", out, "--resume", "--no-progress")
    assert same.returncode == 1 and "ok 29, failed 1" in same.stderr


def test_out_dir_option_checks(sb: Sandbox, tmp_path: Path) -> None:
    out = os.fspath(tmp_path / "run")
    proc = cli(sb, "1-3", "--resume")
    assert proc.returncode == 2 and "--resume: needs --out-dir" in proc.stderr
    proc = cli(sb, "1-3", "--out-dir", out, "--format", "csv")
    assert proc.returncode == 2 and "--out-dir: not with --format" in proc.stderr
    proc = cli(sb, "1-3", "--out-dir", out, "--out", "x.csv")
    assert proc.returncode == 2 and "--out-dir: not with --out" in proc.stderr
    proc = cli(sb, "1-3", "--max-outage", "0")
    assert proc.returncode == 2 and "--max-outage" in proc.stderr
    assert not os.path.exists(out)
