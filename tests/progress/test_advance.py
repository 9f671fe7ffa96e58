"""Issue 21, item 4: ``Sandbox.advance`` dials a share of the Ready records through the OCS state model,
deterministically for a seed, and a sandbox in another process is advanced through its admin route."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections import Counter

import pandas as pd
import pytest

from gwsnb.sandbox import Sandbox, remote_advance
from gwsnb.sandbox._dialer import MAX_ATTEMPTS, OUTCOMES, SHARE_PER_HOUR

from .conftest import PASSWORD

NOW = 1_800_000_000.0
KEYS = ["record_status", "record_type", "call_result", "attempt", "dial_sched_time", "call_time"]


def _advanced(seed: int, hours: float = 4, chains: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame, dict, list]:
    with Sandbox(chains=chains, seed=12, password=PASSWORD) as sb:
        before = sb.calling_list.copy()
        summary = sb.advance(hours=hours, seed=seed, now=NOW)
        return before, sb.calling_list.copy(), summary, sb.do_not_call_list


def test_the_same_seed_makes_the_same_changes_and_another_seed_others() -> None:
    _b, first, summary, dnc = _advanced(7, chains=400)
    _b, again, summary_again, dnc_again = _advanced(7, chains=400)
    _b, other, _s, _d = _advanced(8, chains=400)
    pd.testing.assert_frame_equal(first, again)
    assert summary == summary_again and dnc == dnc_again
    assert not first.equals(other)


def test_a_share_of_the_dialable_records_is_dialed_through_the_state_model() -> None:
    before, after, summary, dnc = _advanced(7)
    old = before.set_index("record_handle")
    new = after.set_index("record_handle")
    added = new.index.difference(old.index)
    assert list(added) == summary["added_handles"] and len(added) == summary["added"] >= 1
    assert (new.loc[added, "record_status"] == 1).all() and (new.loc[added, "attempt"] == 0).all()
    assert new.loc[added, "chain_id"].nunique() == len(added)  # each a new chain (AddRecord without chainId)
    both = new.loc[old.index]
    dialed = old.index[both["attempt"].to_numpy() > old["attempt"].to_numpy()]
    # the dialed records: the share of the dialable chains, one record per chain, attempts up by one
    assert len(dialed) == summary["dialed"] == round(summary["dialable_chains"] * SHARE_PER_HOUR * 4)
    assert both.loc[dialed, "chain_id"].is_unique
    assert ((both.loc[dialed, "attempt"] - old.loc[dialed, "attempt"]) == 1).all()
    assert ((old.loc[dialed, "record_status"] == 1) & old.loc[dialed, "record_type"].between(2, 6)).all()
    assert both.loc[dialed, "call_time"].between(NOW - 4 * 3600, NOW).all()
    # call results follow the outcome shares (within a generous band for ~1000 calls)
    results = Counter(int(code) for code in both.loc[dialed, "call_result"])
    total = sum(weight for weight, _ in OUTCOMES.values())
    answered_now = results[33] + results[51]
    assert set(results) <= set(OUTCOMES) | {51}
    assert abs(answered_now / len(dialed) - OUTCOMES[33][0] / total) < 0.06
    assert abs(results[7] / len(dialed) - OUTCOMES[7][0] / total) < 0.06
    # each dialed record ended as one transition of the model
    rows = both.loc[dialed]
    redial = (rows["record_type"] == 3) & (rows["record_status"] == 1)
    callback = rows["record_type"].isin([5, 6]) & (rows["record_status"] == 1)
    no_call = (rows["record_type"] == 7) & (rows["record_status"] == 3)
    completed = (rows["record_status"] == 3) & ~no_call
    assert (redial | callback | no_call | completed).all()
    assert (rows.loc[redial, "call_result"].isin([6, 7, 9])).all()
    assert (rows.loc[redial, "attempt"] < MAX_ATTEMPTS).all()
    gap = rows.loc[redial | callback, "dial_sched_time"] - rows.loc[redial | callback, "call_time"]
    assert (gap >= 3600).all() and (gap <= 30 * 3600).all()
    assert redial.sum() == summary["rescheduled"] and no_call.sum() == summary["do not call"]
    assert callback.sum() == summary["personal callback"] + summary["campaign callback"]
    assert (rows.loc[rows["record_type"] == 5].index.map(after.set_index("record_handle")["agent_id"]) == "agent").all()
    # do-not-call: the numbers are on the DNC list, the rest of each chain No Call too
    assert sorted(entry["phone"] for entry in dnc) == sorted(rows.loc[no_call, "contact_info"])
    for chain_id in rows.loc[no_call, "chain_id"]:
        chain = new[new["chain_id"] == chain_id]
        assert (chain["record_type"] == 7).all() or (chain["record_status"].isin([3, 5, 7])).all()
    # nothing else changed but the members of completed and do-not-call chains
    others = old.index.difference(dialed)
    moved = others[(both.loc[others, KEYS].fillna(-1) != old.loc[others, KEYS].fillna(-1)).any(axis=1)]
    assert set(both.loc[moved, "chain_id"]) <= set(rows.loc[completed | no_call, "chain_id"])
    assert both.loc[moved, "record_status"].isin([7]).all()


def test_values_are_checked() -> None:
    with Sandbox(chains=5, seed=1, password=PASSWORD) as sb:
        for hours in (0, -1, 25, "4", True):
            with pytest.raises(ValueError, match="hours"):
                sb.advance(hours=hours)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="seed"):
            sb.advance(hours=1, seed=1.5)  # type: ignore[arg-type]


def test_a_sandbox_in_another_process_is_advanced_through_its_admin_route() -> None:
    with Sandbox(chains=200, seed=3, password=PASSWORD) as sb:
        before = sb.calling_list.copy()
        summary = remote_advance(sb.url, sb.username, PASSWORD, hours=2, seed=5)
        assert summary["dialed"] > 0 and len(sb.calling_list) == len(before) + summary["added"]
        sent = sb.request_counts().get("POST /sandbox/advance", 0)
        with pytest.raises(ValueError, match="hours"):
            remote_advance(sb.url, sb.username, PASSWORD, hours=99, seed=5)
        assert sb.request_counts().get("POST /sandbox/advance", 0) == sent  # refused before sending
        with pytest.raises(PermissionError):
            remote_advance(sb.url, sb.username, "not-it", hours=2, seed=5)
        request = urllib.request.Request(sb.url.replace("/api/v2", "/sandbox/advance"), data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=10)
        assert info.value.code == 401
        token = base64.b64encode(f"{sb.username}:{PASSWORD}".encode()).decode()
        for body in (b"[1]", b'{"hours": 99}', b'{"hours": 2, "seed": "x"}'):
            bad = urllib.request.Request(sb.url.replace("/api/v2", "/sandbox/advance"), data=body, method="POST",
                                         headers={"Authorization": f"Basic {token}"})
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(bad, timeout=10)
            assert info.value.code == 400, body


def test_a_tls_sandbox_is_advanced_with_its_ca() -> None:
    import ssl

    with Sandbox(chains=50, seed=3, password=PASSWORD, tls=True) as sb:
        assert sb.ca_path is not None and sb.url.startswith("https://")
        assert remote_advance(sb.url, sb.username, PASSWORD, hours=2, seed=1, verify=sb.ca_path)["dialed"] > 0
        with pytest.raises(urllib.error.URLError) as info:
            remote_advance(sb.url, sb.username, PASSWORD, hours=2, seed=1)
        assert isinstance(info.value.reason, ssl.SSLError)
