"""Issue 21, item 5: ``gwsnb runs show|diff|sql`` (text and ``--json``) and ``gwsnb sandbox-advance``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import gwsnb
from gwsnb.cli import main
from gwsnb.sandbox import Sandbox

from .conftest import PASSWORD, heads, run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path, Path]]:
    folder = tmp_path_factory.mktemp("cli")
    with Sandbox(chains=80, seed=9, password=PASSWORD) as sb:
        run(sb, heads(sb), folder / "before")
        sb.advance(hours=4, seed=3)
        run(sb, heads(sb), folder / "after")
        yield sb, folder / "before", folder / "after"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_runs_show_text_and_json(runs: tuple[Sandbox, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _sb, before, _after = runs
    kpis = gwsnb.open_run(before).kpis().set_index(["group", "measure"])
    status, out, _ = _cli(capsys, "runs", "show", os.fspath(before))
    assert status == 0
    assert "campaign Campaign1" in out and "each record counted once" in out
    records = int(kpis.at[("list", "records"), "count"])
    penetration = kpis.at[("progress", "list penetration"), "share"]
    assert any(line.split()[:2] == ["records", str(records)] for line in out.splitlines())
    assert f"{penetration:6.1%}".strip() in out
    status, out, _ = _cli(capsys, "runs", "show", os.fspath(before), "--json")
    doc = json.loads(out)
    assert status == 0 and doc["campaign_name"] == "Campaign1" and doc["ok"] == doc["handles"]
    by_key = {(row["group"], row["measure"]): row for row in doc["kpis"]}
    assert by_key[("list", "records")]["count"] == records
    assert by_key[("progress", "list penetration")]["share"] == pytest.approx(penetration)


def test_runs_diff_text_and_json(runs: tuple[Sandbox, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _sb, before, after = runs
    comparison = gwsnb.compare_runs(before, after)
    status, out, _ = _cli(capsys, "runs", "diff", os.fspath(before), os.fspath(after))
    assert status == 0 and comparison.summary() in out
    moves = comparison.transition_counts("record_status")
    assert moves and f"{moves[0][0]} -> {moves[0][1]}: {moves[0][2]}" in out
    status, out, _ = _cli(capsys, "runs", "diff", os.fspath(before), os.fspath(after), "--json")
    doc = json.loads(out)
    assert status == 0 and doc["changed"] == comparison.changed and doc["added"] == comparison.added > 0
    assert [tuple(m) for m in doc["record_status_transitions"]] == moves
    penetration = next(d for d in doc["kpi_deltas"] if d["measure"] == "list penetration")
    assert penetration["delta"] > 0  # the dialer attempted records that had never been tried


def test_runs_sql_text_and_json(runs: tuple[Sandbox, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _sb, before, _after = runs
    query = "select record_status, count(*) as n from latest group by 1 order by n desc, 1"
    expected = gwsnb.open_run(before).sql(query)
    status, out, _ = _cli(capsys, "runs", "sql", os.fspath(before), query)
    assert status == 0 and out.splitlines()[0].split() == ["record_status", "n"]
    assert out.splitlines()[1].split()[-1] == str(expected["n"].iloc[0])
    status, out, _ = _cli(capsys, "runs", "sql", os.fspath(before), query, "--json")
    assert status == 0 and json.loads(out) == [{"record_status": s, "n": int(n)}
                                               for s, n in zip(expected["record_status"], expected["n"], strict=True)]
    status, _, err = _cli(capsys, "runs", "sql", os.fspath(before), "select nothing_here from records")
    assert status == 2 and "nothing_here" in err


def test_runs_commands_refuse_what_is_not_a_run(runs: tuple[Sandbox, Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _cli(capsys, "runs", "show", os.fspath(tmp_path))
    assert status == 2 and "is not a readable gwsnb run" in err
    status, _, err = _cli(capsys, "runs", "diff", os.fspath(runs[1]), os.fspath(tmp_path))
    assert status == 2 and "is not a readable gwsnb run" in err
    status, _, err = _cli(capsys, "runs", "show", os.fspath(runs[1]), "--now", "noon")
    assert status == 2 and "invalid now='noon'" in err


def test_sandbox_advance_command(runs: tuple[Sandbox, Path, Path], capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sb, _before, _after = runs
    monkeypatch.setenv("PROGRESS_PW", PASSWORD)
    status, out, _ = _cli(capsys, "sandbox-advance", "--url", sb.url, "--password-env", "PROGRESS_PW", "--hours", "2",
                          "--seed", "4", "--json")
    doc = json.loads(out)
    assert status == 0 and doc["hours"] == 2 and doc["seed"] == 4 and doc["dialed"] > 0
    status, out, _ = _cli(capsys, "sandbox-advance", "--url", sb.url, "--password-env", "PROGRESS_PW")
    assert status == 0 and out.startswith("dialed ") and "completed:" in out
    monkeypatch.setenv("PROGRESS_PW", "wrong")
    status, _, err = _cli(capsys, "sandbox-advance", "--url", sb.url, "--password-env", "PROGRESS_PW")
    assert status == 2 and "refused the credentials" in err and "wrong" not in err


def test_a_gwsnb_sandbox_process_is_advanced_from_another_process() -> None:
    """``gwsnb sandbox`` in its own process, ``gwsnb sandbox-advance`` in another, as a user runs them."""
    import signal
    import subprocess
    import sys

    gwsnb_cmd = Path(sys.executable).with_name("gwsnb")
    server = subprocess.Popen([str(gwsnb_cmd), "sandbox", "--port", "0", "--chains", "200"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("GWS sandbox running at "), first
        url = first.split(" at ")[1].strip()
        env = {**os.environ, "GWS_PASSWORD": "agent"}
        done = subprocess.run([str(gwsnb_cmd), "sandbox-advance", "--url", url, "--hours", "3", "--seed", "2", "--json"],
                              capture_output=True, text=True, env=env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["dialed"] > 0 and summary["added"] >= 1
        again = subprocess.run([str(gwsnb_cmd), "sandbox-advance", "--url", url, "--hours", "3", "--seed", "2",
                                "--json"], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert json.loads(again.stdout)["added_handles"][0] > summary["added_handles"][-1]  # the list moved on
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
