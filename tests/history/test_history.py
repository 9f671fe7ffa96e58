"""Issue 27, items 1-3: a history of four runs around scripted record operations read together; the folder
template; runs of another campaign and incomplete runs left out, named; an interrupted snapshot resumed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import gwsnb
from gwsnb.sandbox import Faults, Sandbox

from .conftest import PASSWORD, heads, run

FIELDS = ("record_status", "record_type", "call_result", "attempt", "dial_sched_time")
KPI = ["group", "measure", "count", "share", "definition"]
WHEN = pd.Timestamp("2027-01-15T15:00:00Z")


def _operate_reschedule(sb: Sandbox) -> tuple[int, int]:
    """A preview record rescheduled (campaign callback at WHEN), another completed: their handles."""
    kw = {"campaign_name": sb.campaign_name, "application_id": sb.application_id}
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0, allow_writes=True) as client:
        client.start_preview_session(**kw)
        first = client.get_preview_record(**kw).record_handle
        assert first is not None
        client.reschedule_record(first, callback_type="Campaign", timestamp=WHEN.to_pydatetime(), **kw)
        second = client.get_preview_record(**kw).record_handle
        assert second is not None
        client.complete_record(second, calling_list=sb.calling_list_name, call_result="Answer", **kw)
        client.end_preview_session(**kw)
    return first, second


def _do_not_call(sb: Sandbox, phone: str) -> None:
    kw = {"campaign_name": sb.campaign_name, "application_id": sb.application_id}
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0, allow_writes=True) as client:
        client.do_not_call(None, phone_number=phone, **kw)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Four runs of one sandbox list in ``runs/{now:...}`` folders, with the list's own state before each:
    a reschedule and a completion, a do-not-call by number, two hours of the dialer."""
    folder = tmp_path_factory.mktemp("history")
    template = str(folder / "runs" / "snap-{utc:%Y%m%dT%H%M%S}-{now:%f}")
    states, handles = [], {}
    with Sandbox(chains=40, seed=5, password=PASSWORD) as sb:
        chains = heads(sb)
        for step in range(4):
            states.append(sb.calling_list.copy())
            run(sb, chains, Path(template))
            if step == 0:
                handles["rescheduled"], handles["completed"] = _operate_reschedule(sb)
            elif step == 1:
                row = sb.calling_list.set_index("record_handle").loc[handles["rescheduled"]]
                _do_not_call(sb, str(row["contact_info"]))
            elif step == 2:
                sb.advance(hours=2, seed=3)
        yield {"folder": folder / "runs", "states": states, "handles": handles}


def test_the_template_makes_one_folder_per_snapshot(day: dict[str, Any]) -> None:
    folders = sorted(p.name for p in day["folder"].iterdir())
    assert len(folders) == 4 and all(name.startswith("snap-") for name in folders)
    history = gwsnb.open_history(day["folder"])
    assert len(history) == 4 and history.left_out == []
    assert [r.path.name for r in history.runs] == folders  # time order: the names are the start times
    assert list(history.times) == sorted(history.times)


def test_kpis_over_time_equal_each_runs_own(day: dict[str, Any]) -> None:
    history = gwsnb.open_history(day["folder"])
    kpis = history.kpis()
    assert list(kpis.columns[:3]) == ["run", "time", "name"]
    for i, one in enumerate(history.runs):
        mine = kpis[kpis["run"] == i]
        pd.testing.assert_frame_equal(mine[KPI].reset_index(drop=True), one.kpis()[KPI])
        assert (mine["time"] == one.kpis().attrs["now"]).all()
    # the operations show: the do-not-call count grows, the dialer raises penetration
    progress = kpis[kpis["group"] == "progress"].pivot(index="run", columns="measure", values="count")
    assert progress.loc[2, "do not call"] > progress.loc[1, "do not call"]
    assert progress.loc[3, "list penetration"] > progress.loc[2, "list penetration"]


def _differs(before: pd.DataFrame, after: pd.DataFrame, handle: int) -> list[str]:
    """The fields of ``handle`` that differ between two states of the sandbox's own list."""
    one, two = before.set_index("record_handle").loc[handle], after.set_index("record_handle").loc[handle]
    return [f for f in FIELDS if not (one[f] == two[f] or (pd.isna(one[f]) and pd.isna(two[f])))]


def test_the_journey_of_a_handle_shows_exactly_the_operations_done_to_it(day: dict[str, Any]) -> None:
    history = gwsnb.open_history(day["folder"])
    handle = day["handles"]["rescheduled"]
    journey = history.journey(handle)
    assert journey["run"].tolist() == [0, 1, 2, 3] and (journey["record_handle"] == handle).all()
    rows = [state.set_index("record_handle").loc[handle] for state in day["states"]]
    for i in range(1, 4):  # the fields that changed in the sandbox's own list between the runs
        expected = _differs(day["states"][i - 1], day["states"][i], handle)
        assert journey.loc[i, "changed"] == ", ".join(expected), i
    assert journey.loc[0, "changed"] == "(first seen)"
    assert journey.loc[1, "record_type"] == "Campaign Callback" and journey.loc[1, "dial_sched_time"] == WHEN
    assert "record_type" in journey.loc[1, "changed"] and "dial_sched_time" in journey.loc[1, "changed"]
    assert journey.loc[2, "record_type"] == "No Call"
    assert journey.loc[3, "changed"] == ""  # a No Call record is not dialed
    chain = history.journey(chain_id=int(rows[0]["chain_id"]))
    assert handle in set(chain["record_handle"]) and set(chain["chain_id"]) == {int(rows[0]["chain_id"])}
    assert history.journey(10**9 - 1).empty
    with pytest.raises(gwsnb.InvalidParameterError, match="record_handle"):
        history.journey()
    with pytest.raises(gwsnb.InvalidParameterError, match="record_handle"):
        history.journey("seven")


def test_transition_counts_equal_compare_runs_for_each_consecutive_pair(day: dict[str, Any]) -> None:
    history = gwsnb.open_history(day["folder"])
    moves = {field: history.transitions(field) for field in ("record_status", "call_result")}
    changes = history.changes()
    for i in range(len(history) - 1):
        comparison = history.compare(i, i + 1)
        try:
            for field, table in moves.items():
                pair = table[table["run_before"] == i]
                assert (pair["run_after"] == i + 1).all()
                mine = sorted(zip(pair["before"], pair["after"], pair["records"].astype(int), strict=True),
                              key=lambda m: (-m[2], m[0], m[1]))
                assert mine == comparison.transition_counts(field), (field, i)
            # the long table agrees with the comparison on the records changed and added
            pair = changes[changes["run_before"] == i]
            assert pair.loc[pair["field"] != "(record)", "record_handle"].nunique() == comparison.changed
            assert ((pair["field"] == "(record)") & (pair["after"] == "present")).sum() == comparison.added
        finally:
            comparison.close()
    completed = day["handles"]["completed"]
    mine = changes[(changes["record_handle"] == completed) & (changes["run_before"] == 0)]
    assert set(mine["field"]) == set(_differs(day["states"][0], day["states"][1], completed))
    assert {"record_status", "attempt"} <= set(mine["field"])
    assert mine.set_index("field").loc["record_status", "after"] == "Updated"
    with pytest.raises(gwsnb.InvalidParameterError, match="field"):
        history.transitions("attempt")


def test_the_plot_draws_the_measures_over_time(day: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    history = gwsnb.open_history(day["folder"])
    fig = history.plot(["list penetration", "do not call"])
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["list penetration", "do not call"]
    kpis = history.kpis()
    dnc = kpis[kpis["measure"] == "do not call"]["count"].astype(float).tolist()
    assert list(lines[1].get_ydata()) == dnc and len(lines[1].get_xdata()) == 4
    shares = history.plot(["list penetration"], share=True).axes[0].get_lines()[0].get_ydata()
    assert list(shares) == kpis[kpis["measure"] == "list penetration"]["share"].astype(float).tolist()
    with pytest.raises(gwsnb.InvalidParameterError, match="measures"):
        history.plot(["happiness"])
    assert "History" in history._repr_html_() and "4 run(s)" in history.summary()


def test_another_campaign_and_an_incomplete_run_are_named_and_left_out(day: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "mixed"
    shutil.copytree(day["folder"], folder)
    with Sandbox(chains=5, seed=2, password=PASSWORD, campaign_name="Winter", application_id=135) as other:
        run(other, heads(other), folder / "winter")
        chains = heads(other)
        other.faults = Faults(drop_data_end=True)
        try:  # a run that stops with handles not finished: fail_fast after the first timeout
            run(other, chains, folder / "broken", timeout=0.5, retries=0, fail_fast=True)
        finally:
            other.faults = Faults()
    (folder / "notes").mkdir()
    (folder / "notes" / "_run.json").write_text("{not json")
    history = gwsnb.open_history(folder)
    assert len(history) == 4 and history.campaign_name == "Campaign1"
    reasons = {x.path.name: x.reason for x in history.left_out}
    assert "'Winter'" in reasons["winter"] and "application id 135" in reasons["winter"]
    assert reasons["broken"].startswith("incomplete")
    assert "not a readable gwsnb run" in reasons["notes"]
    winter = gwsnb.open_history(folder, campaign_name="Winter")
    assert len(winter) == 1 and winter.application_id == 135
    with pytest.raises(gwsnb.InvalidParameterError, match="Summer"):
        gwsnb.open_history(folder, campaign_name="Summer")


def test_a_bad_template_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    with Sandbox(chains=3, seed=1, password=PASSWORD) as sb:
        for bad in ("runs/{when:%H}", "runs/{now.year}", "runs/{now"):
            with pytest.raises(gwsnb.InvalidParameterError) as info:
                run(sb, heads(sb), tmp_path / bad)
            assert info.value.field == "out"
        assert sb.chained_record_requests() == {}


def test_runs_history_and_journey_on_the_command_line(day: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from gwsnb.cli import main

    history = gwsnb.open_history(day["folder"])
    kpis = history.kpis()
    assert main(["runs", "history", str(day["folder"])]) == 0
    out = capsys.readouterr().out
    penetration = kpis[kpis["measure"] == "list penetration"]["count"].tolist()
    lines = [line.split() for line in out.splitlines() if line.split()[:1] in (["0"], ["1"], ["2"], ["3"])]
    assert len(lines) == 4 and "list penetration" in out and "do not call" in out
    assert main(["runs", "history", str(day["folder"]), "--measure", "list penetration", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [row["count"] for row in doc["kpis"]] == penetration and len(doc["runs"]) == 4
    assert doc["left_out"] == [] and doc["campaign_name"] == "Campaign1"
    assert main(["runs", "history", str(day["folder"]), "--measure", "happiness"]) == 2
    assert "happiness" in capsys.readouterr().err
    handle = day["handles"]["rescheduled"]
    assert main(["runs", "journey", str(day["folder"]), str(handle), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["changed"] for r in rows] == history.journey(handle)["changed"].tolist()
    assert rows[1]["record_type"] == "Campaign Callback" and rows[1]["dial_sched_time"] == "2027-01-15T15:00:00Z"
    assert main(["runs", "journey", str(day["folder"]), str(handle)]) == 0
    assert "No Call" in capsys.readouterr().out
    assert main(["runs", "journey", str(day["folder"]), "999999"]) == 1
    assert "in none of the 4 run(s)" in capsys.readouterr().err


def test_a_history_of_runs_without_records_has_the_kpis_of_its_runs(tmp_path: Path) -> None:
    with Sandbox(chains=5, seed=6, password=PASSWORD) as sb:
        chains = heads(sb)
        sb.faults = Faults(error_handles=set(chains))
        empty = run(sb, chains, tmp_path / "run=1")
    history = gwsnb.open_history(tmp_path)
    assert empty.failed == len(chains) and len(history) == 1
    pd.testing.assert_frame_equal(history.kpis()[KPI], empty.kpis()[KPI])
    assert history.journey(chains[0]).empty and history.changes().empty and history.transitions().empty


def test_records_read_twice_in_a_run_count_once_at_their_latest_reading(tmp_path: Path) -> None:
    with Sandbox(chains=15, seed=7, password=PASSWORD) as sb:
        every = sorted(int(h) for h in sb.calling_list["record_handle"])
        run(sb, heads(sb), tmp_path / "run=1")
        sb.advance(hours=4, seed=1)
        twice = run(sb, every, tmp_path / "run=2", every_handle=True)  # each chain read once per handle
    history = gwsnb.open_history(tmp_path)
    kpis = history.kpis().set_index(["run", "group", "measure"])
    assert kpis.at[(1, "list", "readings"), "count"] > kpis.at[(1, "list", "records"), "count"]
    for i, one in enumerate(history.runs):
        pd.testing.assert_frame_equal(history.kpis().query(f"run == {i}")[KPI].reset_index(drop=True), one.kpis()[KPI])
    latest = twice.sql("select record_handle, attempt, record_status from latest order by 1")
    journey = pd.concat([history.journey(h) for h in latest["record_handle"][:5]])
    assert journey[journey["run"] == 1]["attempt"].tolist() == latest["attempt"][:5].tolist()
