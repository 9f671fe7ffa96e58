"""``gwsnb chained-records`` end to end: the console script in a subprocess against the in-process sandbox."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gwsnb.sandbox import Faults, Sandbox
from tests.chains import ChainIndex

from .conftest import PASSWORD

GWSNB = str(Path(sys.executable).parent / "gwsnb")
HANDLES = "3, 40-42, 7"
HANDLE_LIST = [3, 40, 41, 42, 7]


def cli(sb: Sandbox, *extra: str, handles: str | None = HANDLES, password_env: bool = True,
        stdin: str | None = None, timeout: float = 60, every_handle: bool = True) -> subprocess.CompletedProcess[str]:
    """The command against ``sb``; with ``every_handle`` (these tests compare each handle's own chain)
    ``--every-handle`` is passed."""
    args = [GWSNB, "chained-records", "--url", sb.url, "--user", sb.username, "--campaign", sb.campaign_name,
            "--application-id", str(sb.application_id)] + (["--every-handle"] if every_handle else [])
    if handles is not None:
        args += ["--handles", handles]
    env = {k: v for k, v in os.environ.items() if k != "GWS_PASSWORD"}
    if password_env:
        args += ["--password-env", "BULK_PW"]
        env["BULK_PW"] = PASSWORD
    args += list(extra)
    # a new session: no controlling terminal, so the prompt cannot reach a real tty
    return subprocess.run(args, input=stdin if stdin is not None else "", capture_output=True, text=True,
                          env=env, timeout=timeout, start_new_session=True)


def assert_no_password(proc: subprocess.CompletedProcess[str]) -> None:
    assert PASSWORD not in proc.stdout and PASSWORD not in proc.stderr


def expected_handles(chains: ChainIndex, handles: list[int]) -> list[int]:
    return [row["record_handle"] for h in handles for row in chains.chain(h)]


def test_csv_to_stdout(sb: Sandbox, chains: ChainIndex) -> None:
    proc = cli(sb, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(io.StringIO(proc.stdout), dtype={"contact_info": str})
    assert df["record_handle"].tolist() == expected_handles(chains, HANDLE_LIST)
    assert "5 handle(s), ok 5, failed 0" in proc.stderr
    assert "GetChainedRecord" in proc.stderr  # the progress bar
    assert_no_password(proc)


def test_json_to_stdout(sb: Sandbox, chains: ChainIndex) -> None:
    proc = cli(sb, "--format", "json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    rows: list[dict[str, Any]] = json.loads(proc.stdout)
    assert [r["record_handle"] for r in rows] == expected_handles(chains, HANDLE_LIST)
    first = chains.chain(3)[0]
    assert rows[0]["contact_info"] == first["contact_info"] and rows[0]["chain_n"] == first["chain_n"]
    assert "GetChainedRecord" not in proc.stderr
    assert_no_password(proc)


def test_table_to_stdout_prompted_password(sb: Sandbox, chains: ChainIndex) -> None:
    proc = cli(sb, password_env=False, stdin=PASSWORD + "\n")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["record_handle", "chain_id", "chain_n"]
    assert [int(line.split()[0]) for line in lines[1:]] == expected_handles(chains, HANDLE_LIST)
    assert f"GWS password for {sb.username}:" in proc.stderr
    assert_no_password(proc)


def test_parquet_and_csv_to_files(sb: Sandbox, chains: ChainIndex, tmp_path: Path) -> None:
    out = tmp_path / "records.parquet"
    proc = cli(sb, "--format", "parquet", "--out", str(out), "--handles-file", str(_handles_file(tmp_path)),
               handles=None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    df = pd.read_parquet(out)
    assert df["record_handle"].tolist() == expected_handles(chains, HANDLE_LIST)
    csv_out = tmp_path / "records.csv"
    proc = cli(sb, "--format", "csv", "--out", str(csv_out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert pd.read_csv(csv_out)["record_handle"].tolist() == df["record_handle"].tolist()


def _handles_file(tmp_path: Path) -> Path:
    path = tmp_path / "handles.txt"
    path.write_text("3\n40-42\n\n7\n", encoding="utf-8")
    return path


def test_failing_handle_exit_1_with_summary(sb: Sandbox) -> None:
    sb.faults = Faults(error_handles={41})
    proc = cli(sb, "--format", "csv", "--no-progress")
    assert proc.returncode == 1
    assert "5 handle(s), ok 4, failed 1" in proc.stderr
    assert "ChainedRecordError (errorCode 104): 1 handle(s)" in proc.stderr
    assert "failed handle 41" in proc.stderr
    # the records of the handles that succeeded are still written
    assert pd.read_csv(io.StringIO(proc.stdout))["record_handle"].nunique() > 0
    assert_no_password(proc)


@pytest.mark.parametrize(("extra", "handles", "option"), [
    ((), "7, x", "--handles"),
    ((), "9-3", "--handles"),
    ((), "1-1000001", "--handles"),  # over the in-memory limit without --out-dir (a streamed run takes it)
    (("--concurrency", "0"), HANDLES, "--concurrency"),
    (("--timeout", "-1"), HANDLES, "--timeout"),
    (("--format", "parquet"), HANDLES, "--format"),
    (("--device", "nodevice"), HANDLES, "--device"),
])
def test_bad_arguments_exit_2(sb: Sandbox, extra: tuple[str, ...], handles: str, option: str) -> None:
    proc = cli(sb, *extra, handles=handles)
    assert proc.returncode == 2, proc.stderr
    assert f"argument {option}" in proc.stderr
    assert proc.stdout == ""
    assert_no_password(proc)


def test_missing_password_env_and_wrong_password(sb: Sandbox) -> None:
    proc = cli(sb, "--password-env", "NO_SUCH_VAR_GWSNB", password_env=False)
    assert proc.returncode == 2 and "argument --password-env" in proc.stderr
    wrong = PASSWORD + "-wrong"
    proc = cli(sb, password_env=False, stdin=wrong + "\n")
    assert proc.returncode == 1 and "cannot connect" in proc.stderr
    assert wrong not in proc.stdout + proc.stderr
    assert_no_password(proc)


def _calls(sb: Sandbox) -> int:
    return sum(n for key, n in sb.request_counts().items() if key.startswith("POST /api/v2/me/outbound-"))


def test_sigint_writes_what_finished(sb: Sandbox) -> None:
    sb.faults = Faults(latency_ms=20)
    env = dict(os.environ, BULK_PW=PASSWORD)
    args = [GWSNB, "chained-records", "--url", sb.url, "--user", sb.username, "--password-env", "BULK_PW",
            "--campaign", sb.campaign_name, "--application-id", str(sb.application_id), "--handles", "1-300",
            "--concurrency", "2", "--format", "csv"]
    before = _calls(sb)  # the sandbox may have served other tests
    # A process started with SIGINT ignored passes that on, and Python then leaves SIGINT ignored (as it
    # must: that is how nohup and a shell's background jobs work): the run would go on to its end, as it
    # did in a clean-clone run started in the background. Handled here (not ignored), SIGINT is reset to
    # its default in the child at exec, whatever the test runner inherited.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        # at least 10 calls served, counted by the sandbox as they happen (reading the bar from the pipe
        # lagged behind the process on a loaded machine: the run had ended when the signal was sent)
        deadline = time.monotonic() + 60
        while _calls(sb) < before + 10:
            assert time.monotonic() < deadline and proc.poll() is None, "fewer than 10 calls within 60 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "(interrupted)" in err
    finished = pd.read_csv(io.StringIO(out))["record_handle"]
    assert len(finished) > 0
    assert "not run:" in err


def test_csv_written_in_slices_equals_the_whole_frame(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    import gwsnb
    from gwsnb._cli import chained_records
    from gwsnb.frames import readable

    monkeypatch.setattr(chained_records, "CSV_SLICE", 7)  # 60 results: nine slices
    with gwsnb.connect(sb.url, sb.username, PASSWORD) as c:
        handles = [int(h) for h in sb.calling_list["record_handle"]][:60]
        batch = c.get_chained_records(handles, campaign_name=sb.campaign_name, application_id=sb.application_id,
                                      progress=False)
    sliced = io.StringIO()
    chained_records._write_csv(batch, sliced)
    whole = readable(batch.records_frame()).to_csv(index=False)
    assert sliced.getvalue() == whole
    assert len(pd.read_csv(io.StringIO(sliced.getvalue()))) == batch.record_count
