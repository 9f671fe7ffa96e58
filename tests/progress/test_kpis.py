"""Issue 21, item 1 and 7: the KPIs of a small hand-made list equal the figures computed by hand, for a
streamed run and for an in-memory batch; a run reading some records several times counts each once, at its
latest reading."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import gwsnb
from gwsnb.runs import RunWriter
from gwsnb.sandbox import Sandbox

from .conftest import PASSWORD, run

NOW = 1_800_000_000  # the instant the KPIs are measured at (2027-01-15T08:00:00Z)
H = 3600
# chain_id, chain_n, record_type, record_status, call_result, attempt, dial_sched_time (epoch s or None)
ROWS = [
    (1, 0, 2, 1, 28, 0, None),          # 1  General, Ready, never dialled: ready now
    (1, 1, 2, 3, 33, 2, None),          # 2  Updated after an Answer: finished
    (2, 0, 5, 1, 33, 1, NOW + 9000),    # 3  Personal Callback due in 2.5 h: scheduled later
    (2, 1, 6, 1, 7, 1, NOW + 1800),     # 4  Campaign Callback due in 0.5 h: scheduled later
    (3, 0, 3, 1, 6, 3, NOW - H),        # 5  Campaign Rescheduled, due an hour ago: ready now
    (3, 1, 7, 3, 51, 1, None),          # 6  No Call (do not call): finished
    (4, 0, 2, 5, 28, 0, None),          # 7  Cancelled: finished
    (4, 1, 6, 1, 33, 1, NOW + 30 * H),  # 8  Campaign Callback due in 30 h: scheduled later, not in the 24 h
    (5, 0, 2, 7, 28, 0, None),          # 9  Chain Updated: finished
    (5, 1, 2, 1, 9, 4, None),           # 10 Answering Machine, Ready: ready now
]
EXPECTED = {  # computed by hand from ROWS
    ("list", "records"): (10, None), ("list", "chains"): (5, None),
    ("progress", "list penetration"): (7, 0.7), ("progress", "finished"): (4, 0.4),
    ("progress", "ready now"): (3, 0.3), ("progress", "scheduled later"): (3, 0.3),
    ("progress", "do not call"): (1, 0.1),
    ("record_status", "Ready"): (6, 0.6), ("record_status", "Updated"): (2, 0.2),
    ("record_status", "Cancelled"): (1, 0.1), ("record_status", "Chain Updated"): (1, 0.1),
    ("call_result", "Unknown Call Result"): (3, 0.3), ("call_result", "Answer"): (3, 0.3),
    ("call_result", "No Answer"): (1, 0.1), ("call_result", "Busy"): (1, 0.1),
    ("call_result", "Do Not Call"): (1, 0.1), ("call_result", "Answering Machine Detected"): (1, 0.1),
    ("record_type", "General"): (5, 0.5), ("record_type", "Campaign Callback"): (2, 0.2),
    ("record_type", "Personal Callback"): (1, 0.1), ("record_type", "Campaign Rescheduled"): (1, 0.1),
    ("record_type", "No Call"): (1, 0.1),
    ("attempts", "0"): (3, 0.3), ("attempts", "1"): (4, 0.4), ("attempts", "2"): (1, 0.1),
    ("attempts", "3"): (1, 0.1), ("attempts", "4"): (1, 0.1),
    ("callbacks due, personal", "in 2-3 h"): (1, None), ("callbacks due, campaign", "in 0-1 h"): (1, None),
}


def hand_made() -> Sandbox:
    frame = pd.DataFrame(ROWS, columns=["chain_id", "chain_n", "record_type", "record_status", "call_result", "attempt",
                                        "dial_sched_time"])
    frame.insert(0, "record_handle", range(1, len(frame) + 1))
    frame.insert(1, "contact_info", [f"+1212555010{i}" for i in range(len(frame))])
    frame["dial_sched_time"] = frame["dial_sched_time"].astype("Int64")
    return Sandbox(calling_list=frame, password=PASSWORD)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """The hand-made list, never changed by the tests that use this fixture."""
    with hand_made() as sandbox:
        yield sandbox


def check(kpis: pd.DataFrame, readings: int) -> None:
    """Each measure once, equal to the hand-computed figure; every other measure zero or absent."""
    keys = list(zip(kpis["group"], kpis["measure"], strict=True))
    assert len(keys) == len(set(keys))
    found = {key: (int(c), None if pd.isna(s) else float(s))
             for key, c, s in zip(keys, kpis["count"], kpis["share"], strict=True)}
    for key, (count, share) in EXPECTED.items():
        assert found[key][0] == count, key
        assert found[key][1] == pytest.approx(share) if share is not None else found[key][1] is None, key
    assert found[("list", "readings")][0] == readings
    others = {key: value for key, value in found.items() if key not in EXPECTED and key != ("list", "readings")}
    assert all(count == 0 for count, _share in others.values()), others
    assert kpis["definition"].notna().all()


def test_kpis_of_a_hand_made_list(sb: Sandbox, tmp_path: Path) -> None:
    streamed = run(sb, [1, 3, 5, 7, 9], tmp_path / "run")
    check(streamed.kpis(now=pd.Timestamp(NOW, unit="s", tz="UTC")), readings=10)
    batch = run(sb, [1, 3, 5, 7, 9])
    check(batch.kpis(now=pd.Timestamp(NOW, unit="s", tz="UTC")), readings=10)


def test_each_record_counts_once_when_several_handles_of_a_chain_were_called(sb: Sandbox, tmp_path: Path) -> None:
    every = run(sb, list(range(1, 11)), tmp_path / "every", every_handle=True)  # each chain read twice
    check(every.kpis(now=pd.Timestamp(NOW, unit="s", tz="UTC")), readings=20)
    assert every.sql("select count(*) as n from latest")["n"].iloc[0] == 10


def test_the_latest_reading_is_the_one_of_the_call_sent_last(tmp_path: Path) -> None:
    """Handle 1 is read, its chain then changes (its number goes on the do-not-call list), handle 2 reads the
    chain again; the run's rows are written later reading first: the KPIs still count the later reading."""
    with hand_made() as sb:
        _latest_reading(sb, tmp_path)


def _latest_reading(sb: Sandbox, tmp_path: Path) -> None:
    first = run(sb, [1]).results[0]
    phone = sb.calling_list.set_index("record_handle").at[1, "contact_info"]
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0, allow_writes=True) as client:
        client.do_not_call(None, campaign_name=sb.campaign_name, application_id=sb.application_id,
                           phone_number=phone)
    second = run(sb, [2]).results[0]
    assert second.timings.sent > first.timings.sent
    writer = RunWriter.open(tmp_path / "mixed", [1, 2], campaign_name=sb.campaign_name,
                            application_id=sb.application_id, device_path=sb.device_path)
    writer.add(second)
    writer.add(first)
    writer.close()
    mixed = gwsnb.open_run(tmp_path / "mixed")
    kpis = mixed.kpis(now=pd.Timestamp(NOW, unit="s", tz="UTC")).set_index(["group", "measure"])
    assert kpis.at[("list", "readings"), "count"] == 4 and kpis.at[("list", "records"), "count"] == 2
    # handle 1 went from General / Ready to No Call; handle 2 (already Updated) keeps its status
    assert kpis.at[("progress", "do not call"), "count"] == 1
    assert kpis.at[("record_status", "Updated"), "count"] == 2
    assert ("record_status", "Ready") not in kpis.index


def test_now_is_an_instant_with_its_zone(sb: Sandbox, tmp_path: Path) -> None:
    import datetime as dt

    streamed = run(sb, [1, 3, 5, 7, 9], tmp_path / "now")
    check(streamed.kpis(now="2027-01-15T08:00:00Z"), readings=10)
    check(streamed.kpis(now=NOW), readings=10)
    check(streamed.kpis(now=dt.datetime(2027, 1, 15, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))), readings=10)
    for bad in (dt.datetime(2027, 1, 15, 8, 0), "tomorrow", True, float("nan")):
        with pytest.raises(gwsnb.InvalidParameterError) as info:
            streamed.kpis(now=bad)
        assert info.value.field == "now"
    with pytest.raises(gwsnb.InvalidParameterError) as info:
        gwsnb.compare_runs(streamed, streamed, now_after="08:00")
    assert info.value.field == "now_after"
