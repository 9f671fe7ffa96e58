"""Issue 27, item 1: snapshots on a schedule against the sandbox (number of runs, their times, retention),
an interrupted snapshot resumed rather than duplicated, and the schedule's options checked."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

import gwsnb
from gwsnb._cli.snapshot import parse_every, parse_until
from gwsnb.cli import main
from gwsnb.sandbox import Faults, Sandbox

from .conftest import PASSWORD, heads, run

ENV = "GWSNB_HISTORY_TEST_PASSWORD"


@pytest.fixture()
def sb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv(ENV, PASSWORD)
    with Sandbox(chains=6, seed=4, password=PASSWORD) as sandbox:
        yield sandbox


def _argv(sb: Sandbox, command: str, out_dir: Path | str, *extra: str, handles: list[int] | None = None) -> list[str]:
    listed = ",".join(map(str, heads(sb) if handles is None else handles))
    return [command, "--url", sb.url, "--user", sb.username, "--password-env", ENV, "--campaign",
            sb.campaign_name, "--application-id", str(sb.application_id), "--handles", listed,
            "--out-dir", os.fspath(out_dir), "--no-progress", *extra]


def _created(folder: Path) -> list[pd.Timestamp]:
    return sorted(pd.Timestamp(gwsnb.open_run(p).meta["created"]) for p in folder.iterdir())


def test_snapshots_every_two_seconds_keep_the_newest(sb: Sandbox, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "runs"
    began = datetime.now(timezone.utc).replace(microsecond=0)
    assert main(_argv(sb, "snapshot", history, "--every", "2s", "--count", "3", "--keep", "2")) == 0
    err = capsys.readouterr().err
    assert "3 snapshot(s) taken" in err and "--keep 2: removed 1 older run(s)" in err
    names = sorted(p.name for p in history.iterdir())
    assert len(names) == 2 and all(n.startswith("run=") and n.endswith("Z") for n in names)  # the 3rd is gone
    created = _created(history)
    assert created[0] >= pd.Timestamp(began) + timedelta(seconds=2)  # the first snapshot was removed
    assert timedelta(seconds=1) <= created[1] - created[0] <= timedelta(seconds=4)  # 2 s apart (whole seconds)
    kept = gwsnb.open_history(history)
    assert len(kept) == 2 and all(r.ok for r in kept)
    assert sum(sb.chained_record_requests().values()) == 3 * len(heads(sb))


def test_snapshots_until_a_time_stop_at_its_last_slot(sb: Sandbox, tmp_path: Path) -> None:
    every = sorted(int(h) for h in sb.calling_list["record_handle"])
    assert len(every) > len(heads(sb))  # some chains have several records
    until = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat()
    start = time.monotonic()
    status = main(_argv(sb, "chained-records", tmp_path / "runs" / "{utc:%H%M%S}", "--every", "2s", "--until", until,
                        "--every-handle", "--concurrency", "1", handles=every))
    assert status == 0 and time.monotonic() - start < 10
    assert len(list((tmp_path / "runs").iterdir())) == 2  # slots at 0 s and 2 s; 4 s is past --until
    # the other options reach each run: --every-handle calls every handle (by default covered ones are not)
    assert sb.chained_record_requests() == {h: 2 for h in every}


def test_an_interrupted_snapshot_is_resumed_not_duplicated(sb: Sandbox, tmp_path: Path) -> None:
    history = tmp_path / "runs"
    chains = heads(sb)
    sb.faults = Faults(drop_data_end=True)
    try:  # one call at a time, stopped at the first timeout: the other handles are left for later
        broken = run(sb, chains, history / "run=20270115T090000Z", timeout=0.5, retries=0, fail_fast=True,
                     concurrency=1)
    finally:
        sb.faults = Faults()
    assert broken.remaining == len(chains) - 1
    before = sb.chained_record_requests()
    # exit 1: the handle that timed out before the interruption stays failed (failed handles are finished)
    assert main(_argv(sb, "chained-records", history / "run={utc:%Y%m%dT%H%M%SZ}", "--resume", "--keep", "5")) == 1
    assert [p.name for p in history.iterdir()] == ["run=20270115T090000Z"]  # resumed in place
    resumed = gwsnb.open_run(history / "run=20270115T090000Z")
    assert resumed.remaining == 0 and resumed.failed == 1
    after = sb.chained_record_requests()
    assert all(after[h] == before.get(h, 0) + (h != chains[0]) for h in chains)  # each left handle called once
    # the next one is a new snapshot
    assert main(_argv(sb, "chained-records", history / "run={utc:%Y%m%dT%H%M%SZ}", "--resume")) == 0
    assert len(list(history.iterdir())) == 2


def test_the_schedule_options_are_checked(sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for extra, message in ((["--until", "2099-01-01T00:00:00Z"], "--until: needs --every"),
                           (["--keep", "3"], "--keep: needs --every"),
                           (["--every", "0.5"], "between 1 s and 7 days"),
                           (["--every", "1h", "--plan"], "--plan: not with --every")):
        with pytest.raises(SystemExit) as info:
            main(_argv(sb, "chained-records", tmp_path / "plain", *extra))
        assert info.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(_argv(sb, "snapshot", tmp_path / "runs"))
    assert "--every: required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(_argv(sb, "chained-records", tmp_path / "runs" / "{when}"))
    assert "unknown template field {when}" in capsys.readouterr().err
    assert sb.chained_record_requests() == {}


def test_durations_and_times_of_day() -> None:
    assert [parse_every(t) for t in ("90", "30s", "15m", "1h", "1h30m", "1d")] == [90, 30, 900, 3600, 5400, 86400]
    for bad in ("", "1x", "h", "0s", "8d", "1h 30m"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_every(bad)
    morning = datetime(2027, 1, 15, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    assert parse_until("18:00", morning) == datetime(2027, 1, 15, 18, 0, tzinfo=morning.tzinfo).timestamp()
    assert parse_until("2027-01-15T17:00:00Z") == datetime(2027, 1, 15, 17, tzinfo=timezone.utc).timestamp()
    with pytest.raises(argparse.ArgumentTypeError, match="has passed"):
        parse_until("08:59", morning)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_until("2027-01-15T17:00:00")  # no zone
