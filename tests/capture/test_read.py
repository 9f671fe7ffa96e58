"""A capture of gwsnb's own calls read back: the same records, metrics and calls as the live results."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pytest

import gwsnb
from gwsnb import frames
from gwsnb._capture.frames import MESSAGES_COLUMNS, REQUESTS_COLUMNS
from gwsnb._capture.har import value_hash
from gwsnb.cli import main
from tests.capture.conftest import Recorded


def test_records_and_metrics_frames_equal_the_live_results(recorded: Recorded, read_quietly: Any) -> None:
    capture = read_quietly(recorded.path)
    pdt.assert_frame_equal(capture.records_frame(), frames.records_frame(recorded.results))
    pdt.assert_frame_equal(capture.metrics_frame(), frames.metrics_frame(recorded.results))
    assert len(capture.records_frame()) == sum(len(r.records) for r in recorded.results) > 0


def test_calls_frame_has_the_live_columns_and_outcomes(recorded: Recorded, read_quietly: Any) -> None:
    capture = read_quietly(recorded.path)
    got, live = capture.calls_frame(), frames.calls_frame(recorded.outcomes)
    assert list(got.columns) == list(live.columns)
    assert got.dtypes.equals(live.dtypes)
    same = ["record_handle", "reference_id", "status", "records", "attempts"]
    pdt.assert_frame_equal(got[same], live[same])
    assert got["error"].iloc[-1].startswith("ChainedRecordError")
    assert live["error"].iloc[-1].startswith("ChainedRecordError")
    # the capture's clock is the HAR's: within a few ms of the client's own
    assert (got["total_ms"].iloc[:3] - live["total_ms"].iloc[:3]).abs().max() < 50


def test_events_frame_has_the_live_columns(recorded: Recorded, read_quietly: Any) -> None:
    capture = read_quietly(recorded.path)
    events = capture.events_frame()
    live = frames.events_frame([e for r in recorded.results for e in r.events])
    assert list(events.columns) == list(live.columns) and events.dtypes.equals(live.dtypes)
    assert set(live["reference_id"].dropna()) <= set(events["reference_id"].dropna())


def test_requests_and_messages_frames(recorded: Recorded, read_quietly: Any) -> None:
    capture = read_quietly(recorded.path)
    requests = capture.requests_frame()
    assert tuple(requests.columns) == REQUESTS_COLUMNS
    assert isinstance(requests["started"].dtype, pd.DatetimeTZDtype)
    assert requests["started"].is_monotonic_increasing
    assert {"rest", "handshake", "subscribe", "connect", "disconnect"} <= set(requests["kind"])
    posts = requests[requests["path"].str.contains("outbound-records")]
    assert len(posts) == 4 and posts["csrf_sent"].all() and (posts["status_code"] == 0).all()
    # one session, named by a hash of its JSESSIONID, never by the value
    cookie = recorded.secrets["cookie"][0]
    assert set(requests["session"].dropna()) == {value_hash(cookie)}
    assert cookie not in requests.to_string()
    messages = capture.messages_frame()
    assert tuple(messages.columns) == MESSAGES_COLUMNS
    replies = messages[(messages["channel"] == "/meta/connect") & (messages["direction"] == "received")]
    assert replies["held_ms"].notna().all() and replies["successful"].all()
    assert set(messages["client_id"].dropna()) == {value_hash(recorded.secrets["client_id"][0])}


def test_capture_metadata_and_text(recorded: Recorded, read_quietly: Any) -> None:
    capture = read_quietly(recorded.path)
    assert capture.creator.kind == "gwsnb" and capture.creator.version == gwsnb.__version__
    assert capture.start <= capture.end
    assert len(capture.calls) == 4
    assert "dropped" in (capture.comment or "")
    text = capture.text()
    assert "calls: 4" in text and "ChainedRecordError" in text and "sessions (JSESSIONID hash)" in text
    assert recorded.secrets["cookie"][0] not in text
    assert repr(capture).startswith("<Capture 'session.har' gwsnb")


def test_plot_timeline_draws_every_exchange(recorded: Recorded, read_quietly: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    capture = read_quietly(recorded.path)
    ax = capture.plot_timeline()
    assert len(ax.patches) == len(capture.gws_entries)
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_cli_show_text_and_json(recorded: Recorded, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capture", "show", str(recorded.path)]) == 0
    out, err = capsys.readouterr()
    assert "calls: 4" in out and "holds secrets" in err
    assert main(["capture", "show", "--json", str(recorded.path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["calls"]) == 4 and [c["status"] for c in data["calls"]] == ["ok", "ok", "ok", "error"]
    assert data["timeline"] and data["sessions"] and data["cometd_clients"]
    assert recorded.secrets["cookie"][0] not in json.dumps(data)
