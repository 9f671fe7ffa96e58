"""Issue 21, item 2: two runs around scripted record operations compare to exactly those changes; runs of
different campaigns are refused naming both; handles in one run only are reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import gwsnb
from gwsnb.progress import COMPARED_FIELDS
from gwsnb.sandbox import Sandbox

from .conftest import PASSWORD, heads, run


@pytest.fixture()
def sb() -> Iterator[Sandbox]:
    with Sandbox(chains=60, seed=5, password=PASSWORD) as sandbox:
        yield sandbox


def _operate(sb: Sandbox) -> dict[str, int]:
    """Complete, reschedule (campaign), callback (personal), do-not-call and add, as an agent would."""
    kw = {"campaign_name": sb.campaign_name, "application_id": sb.application_id}
    done: dict[str, int] = {}
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0, allow_writes=True) as client:
        client.start_preview_session(**kw)
        when = pd.Timestamp("2027-01-15T15:00:00Z").to_pydatetime()
        for action in ("complete", "reschedule", "callback", "do not call"):
            handle = client.get_preview_record(**kw).record_handle
            assert handle is not None
            done[action] = handle
            if action == "complete":
                client.complete_record(handle, calling_list=sb.calling_list_name, call_result="Answer", **kw)
            elif action == "do not call":
                client.do_not_call(handle, calling_list=sb.calling_list_name, **kw)
            else:
                kind = "Campaign" if action == "reschedule" else "Personal"
                client.reschedule_record(handle, callback_type=kind, timestamp=when, **kw)
        added = client.add_record(calling_list=sb.calling_list_name, phone_number="+14155550199", time_zone="PST",
                                  phone_type="Mobile", daily_from=9 * 3600, daily_till=18 * 3600, **kw)
        assert added.record_handle is not None
        done["add"] = added.record_handle
        client.end_preview_session(**kw)
    return done


def _changed(before: pd.DataFrame, after: pd.DataFrame) -> set[int]:
    """The handles whose compared fields differ between two states of the sandbox's own list."""
    left = before.set_index("record_handle")[list(COMPARED_FIELDS)]
    right = after.set_index("record_handle").loc[left.index, list(COMPARED_FIELDS)]
    differs = ~((left == right) | (left.isna() & right.isna())).all(axis=1)
    return {int(h) for h in left.index[differs]}


def test_two_runs_around_record_operations_compare_to_exactly_those_changes(sb: Sandbox, tmp_path: Path) -> None:
    list_before = sb.calling_list.copy()
    first = run(sb, heads(sb), tmp_path / "morning")
    done = _operate(sb)
    list_after = sb.calling_list.copy()
    second = run(sb, heads(sb), tmp_path / "afternoon")
    comparison = gwsnb.compare_runs(tmp_path / "morning", second)
    changes = comparison.changes_frame()
    expected = _changed(list_before, list_after)  # the operations' own effect, read from the sandbox's list
    assert set(changes["record_handle"]) == expected
    assert comparison.changed == len(expected) and comparison.gone == 0
    assert {done["complete"], done["reschedule"], done["callback"], done["do not call"]} <= expected
    rows = changes.set_index("record_handle")
    completed = rows.loc[done["complete"]]
    assert (completed["record_status_after"], completed["call_result_after"]) == ("Updated", "Answer")
    assert completed["attempt_after"] == completed["attempt_before"] + 1
    assert rows.loc[done["reschedule"], "record_type_after"] == "Campaign Callback"
    assert rows.loc[done["callback"], "record_type_after"] == "Personal Callback"
    assert rows.loc[done["callback"], "dial_sched_time_after"] == pd.Timestamp("2027-01-15T15:00:00Z")
    assert rows.loc[done["do not call"], "record_type_after"] == "No Call"
    assert rows.loc[done["do not call"], "call_result_after"] == "Do Not Call"
    added = comparison.added_frame()
    assert added["record_handle"].tolist() == [done["add"]] and comparison.added == 1
    # the transition matrix counts exactly those records: off the diagonal, the status changes
    matrix = comparison.status_transitions()
    moved = sum(int(matrix.at[b, a]) for b in matrix.index for a in matrix.columns if a != b)
    status_changed = int((rows["record_status_code_before"] != rows["record_status_code_after"]).sum())
    assert moved == status_changed
    assert int(matrix.to_numpy().sum()) == len(first.sql("select * from latest"))
    assert sum(n for *_, n in comparison.transition_counts("call_result")) == int(
        (rows["call_result_code_before"] != rows["call_result_code_after"]).sum())
    # the KPI deltas follow
    groups = comparison.kpi_deltas()["group"].tolist()
    assert groups == sorted(groups, key=groups.index)  # each group's rows together, new labels included
    deltas = comparison.kpi_deltas().set_index(["group", "measure"])
    assert deltas.at[("list", "records"), "delta"] == 1
    assert deltas.at[("progress", "do not call"), "delta"] == int(
        (list_after["record_type"] == 7).sum() - (list_before["record_type"] == 7).sum())
    html = comparison._repr_html_()
    assert "gwsnb-heatmap" in html and "KPI deltas" in html and "Updated" in html
    import matplotlib

    matplotlib.use("Agg")
    fig = comparison.plot_transitions("record_status")
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {str(int(v)) for v in matrix.to_numpy().ravel() if v} == texts
    with pytest.raises(gwsnb.InvalidParameterError, match="field"):
        comparison.plot_transitions("attempt")


def test_runs_of_different_campaigns_are_refused_naming_both(sb: Sandbox, tmp_path: Path) -> None:
    ours = run(sb, heads(sb)[:5], tmp_path / "ours")
    with Sandbox(chains=5, seed=2, password=PASSWORD, campaign_name="Winter", application_id=135) as other:
        theirs = run(other, heads(other), tmp_path / "theirs")
    with pytest.raises(gwsnb.InvalidParameterError) as info:
        gwsnb.compare_runs(ours, theirs)
    message = str(info.value)
    assert info.value.field == "after"
    assert "'Campaign1'" in message and "application id 134" in message
    assert "'Winter'" in message and "application id 135" in message


def test_handles_in_one_run_only_are_reported(sb: Sandbox, tmp_path: Path) -> None:
    chains = heads(sb)
    first = run(sb, chains[:30], tmp_path / "a")
    second = run(sb, chains[10:40], tmp_path / "b")
    comparison = gwsnb.compare_runs(first, second)
    records_a = set(first.records_frame(columns=["record_handle"])["record_handle"])
    records_b = set(second.records_frame(columns=["record_handle"])["record_handle"])
    assert set(comparison.gone_frame()["record_handle"]) == records_a - records_b
    assert set(comparison.added_frame()["record_handle"]) == records_b - records_a
    assert comparison.changed == 0 and comparison.unchanged == len(records_a & records_b)
    assert comparison.changes_frame().empty


def test_a_run_without_records_compares_as_everything_gone(sb: Sandbox, tmp_path: Path) -> None:
    from gwsnb.sandbox import Faults

    chains = heads(sb)[:8]
    full = run(sb, chains, tmp_path / "full")
    sb.faults = Faults(error_handles=set(chains))
    try:
        empty = run(sb, chains, tmp_path / "empty")
    finally:
        sb.faults = Faults()
    assert empty.failed == len(chains)
    kpis = empty.kpis()
    assert (kpis["count"] == 0).all() and kpis["share"].isna().all()
    comparison = gwsnb.compare_runs(full, empty)
    assert comparison.gone == len(full.records_frame(columns=["record_handle"])) and comparison.changed == 0
    assert comparison.status_transitions().empty
    deltas = comparison.kpi_deltas().set_index(["group", "measure"])
    assert deltas.at[("list", "records"), "delta"] == -comparison.gone
    assert "gwsnb-heatmap" in comparison._repr_html_()
