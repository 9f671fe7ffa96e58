"""Issue 19 items 3 and 4 against the sandbox over real sockets: the server's clock offset as an interval
every answered call narrows, the calls frame's split (POST round trip, server processing, delivery
delay), and the live watch (rows ours / foreign / none, alerts for 402, gaps, cut connects, foreign
referenceIds, multiple-clients)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator

import aiohttp
import pytest

import gwsnb
from gwsnb._engine.watch import OwnReferences, WatchCore
from gwsnb._wire.cometd import CometdSession
from gwsnb.errors import InvalidParameterError
from gwsnb.sandbox import Faults, Sandbox

from ._node_peers import PEERS, until

#: the sandbox holds connects this long: a cut or a gap shows within seconds, not half a minute
HOLD_MS = 3000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=120, seed=19, cometd_timeout_ms=HOLD_MS) as sb:
        yield sb


def _connect(sb: Sandbox) -> gwsnb.GwsClient:
    return gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0)


def _batch(client: gwsnb.GwsClient, sb: Sandbox, handles: list[int]) -> gwsnb.ChainedRecordBatch:
    # every handle's own call: these tests read each call's timings and referenceId (no covered handles)
    return client.get_chained_records(handles, campaign_name=sb.campaign_name, application_id=sb.application_id,
                                      progress=False, every_handle=True)


def _handles(sb: Sandbox) -> list[int]:
    return [int(h) for h in sb.calling_list["record_handle"]]


def _wait(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# --------------------------------------------------------------------------- item 3: the server's clock
@pytest.mark.parametrize("offset_ms", [90_000.0, -90_000.0])
def test_the_offset_interval_contains_the_servers_offset_and_narrows(sb: Sandbox, offset_ms: float) -> None:
    sb.faults = Faults(clock_offset_ms=offset_ms)
    with _connect(sb) as client:
        assert client.clock_offset is None  # no call answered yet
        for handle in _handles(sb)[:3]:
            client.get_chained_record(handle, campaign_name=sb.campaign_name, application_id=sb.application_id)
        offset = client.clock_offset
        assert offset is not None and offset.samples >= 3
        assert offset.contains(offset_ms), offset
        assert offset.width_ms < 100, offset
        side = "ahead of" if offset_ms > 0 else "behind"
        assert f"s {side} ours" in offset.describe() and "90" in offset.describe()
        # the Date header: the 1 s cross-check, kept beside it, agrees
        date = client.clock_offset_date
        assert date is not None and date.contains(offset_ms) and date.width_ms <= 1000 + 100
        # a batch: its calls frame splits every call, delivery never negative
        batch = _batch(client, sb, _handles(sb)[3:40])
        calls = batch.calls_frame()
        assert list(calls.columns) == list(gwsnb.frames.CALLS_COLUMNS)
        for name in ("server_processing_ms", "delivery_low_ms", "delivery_high_ms"):
            assert str(calls[name].dtype) == "Float64" and calls[name].notna().all(), name
        assert (calls["delivery_low_ms"] >= 0).all()
        assert (calls["delivery_low_ms"] <= calls["delivery_high_ms"]).all()
        # the delivery of DataEnd's user event fits inside the call: it cannot exceed POST-to-receipt
        assert (calls["delivery_low_ms"] <= calls["total_ms"] + 1e-6).all()
        frame_offset = gwsnb._engine.clock.ClockOffset(**calls.attrs["clock_offset"])
        assert frame_offset.contains(offset_ms) and frame_offset.width_ms < 100
        # what a point subtraction gives instead: the skew itself, negative when the server is ahead
        lag = batch.metrics_frame()["delivery_lag_ms"].astype(float)
        assert ((lag + offset_ms).abs() < 5_000).all()
        assert client.clock_offset is not None and client.clock_offset.samples > offset.samples


def test_a_server_without_timestamps_gives_no_offset(sb: Sandbox) -> None:
    sb.faults = Faults(drop_user_events=True)
    with _connect(sb) as client:
        batch = _batch(client, sb, _handles(sb)[:5])
        assert client.clock_offset is None
        calls = batch.calls_frame()
        assert calls["delivery_low_ms"].isna().all() and calls["server_processing_ms"].isna().all()
        assert calls.attrs["clock_offset"] is None


def test_plot_latency_draws_the_split(sb: Sandbox) -> None:
    import matplotlib

    matplotlib.use("Agg")
    sb.faults = Faults(clock_offset_ms=90_000)
    with _connect(sb) as client:
        batch = _batch(client, sb, _handles(sb)[:20])
    fig = batch.plot_latency()
    _, _, split = fig.axes
    assert [t.get_text() for t in split.get_yticklabels()] == ["POST round trip", "server processing",
                                                              "delivery delay"]
    assert len(split.patches) == 4  # two bars, the delivery bar and its hatched uncertainty
    assert "ahead of ours" in split.get_title()
    hatched = [p for p in split.patches if p.get_hatch()]
    calls = batch.calls_frame()
    width = calls["delivery_high_ms"].median() - calls["delivery_low_ms"].median()
    assert len(hatched) == 1 and hatched[0].get_width() == pytest.approx(width, abs=1e-6)


# --------------------------------------------------------------------------- item 4: the watch
def test_the_watch_shows_our_messages_while_a_batch_runs(sb: Sandbox) -> None:
    with _connect(sb) as client:
        watch = client.watch(rows=10, interval=0.05)
        try:
            batch = _batch(client, sb, _handles(sb)[:30])
            _wait(lambda: watch.core.version and watch.render_log[-1][1] == watch.core.received_count)
            frame = watch.frame()
            ours = frame[frame["reference"] == "ours"]
            assert set(ours["reference_id"]) == {r.reference_id for r in batch.results}
            assert (frame["reference"] == "foreign").sum() == 0
            assert set(frame.loc[frame["reference"] == "none", "channel"]) >= {"/me/internal", "/meta/connect"}
            events = frame[frame["channel"] == "/me/internal"]
            assert events["delay_low_ms"].notna().all() and (events["delay_low_ms"] >= 0).all()
            assert watch.renders >= 2 and watch.alerts == []
            html = watch._repr_html_()
            assert "ChainedRecordsDataEnd" in html and batch.results[-1].reference_id in html
        finally:
            watch.stop()
        assert watch.stopped and watch._button.disabled and not client._cometd.observers  # type: ignore[union-attr]
        received = watch.core.received_count
        client.get_chained_record(_handles(sb)[40], campaign_name=sb.campaign_name,
                                  application_id=sb.application_id)
        assert watch.core.received_count == received  # a stopped watch sees nothing more
        watch.stop()  # idempotent


def test_closing_the_client_stops_its_watch(sb: Sandbox) -> None:
    client = _connect(sb)
    watch = client.watch(interval=0.05)
    client.close()
    _wait(lambda: watch.stopped)
    assert watch.state == "stopped (the client was closed)" and "client was closed" in watch._html.value
    watch.stop()  # still idempotent


def test_a_bounded_buffer_counts_what_it_drops(sb: Sandbox) -> None:
    with _connect(sb) as client:
        watch = client.watch(buffer=20)
        _batch(client, sb, _handles(sb)[:15])
        watch.stop()
        frame = watch.frame()
        assert len(frame) == 20 and frame.attrs["dropped"] == watch.core.received_count - 20 > 0
        assert list(frame["seq"]) == list(range(watch.core.received_count - 19, watch.core.received_count + 1))


def test_bad_watch_arguments_are_refused(sb: Sandbox) -> None:
    with _connect(sb) as client:
        for kwargs, field in (({"rows": 0}, "rows"), ({"interval": 0}, "interval"), ({"buffer": True}, "buffer"),
                              ({"interval": float("nan")}, "interval")):
            with pytest.raises(InvalidParameterError) as info:
                client.watch(**kwargs)
            assert info.value.field == field
    with pytest.raises(gwsnb.errors.TransportError):
        client.watch()


def test_a_restart_raises_402_gap_and_cut_alerts(sb: Sandbox) -> None:
    with _connect(sb) as client:
        watch = client.watch(interval=0.05)
        try:
            # a call's notifications end the held connect: the next one is held under the watch's eye
            client.get_chained_record(_handles(sb)[0], campaign_name=sb.campaign_name,
                                      application_id=sb.application_id)
            time.sleep(0.3)
            sb.stop()
            time.sleep(2.5)  # longer than the gap an alert needs
            sb.start()
            # the reconnect backoff (full jitter, capped at 15 s) decides when the first connect comes back
            _wait(lambda: {"402", "gap"} <= set(watch.core.alert_counts), timeout=45)
            kinds = {a.kind for a in watch.alerts}
            assert {"402", "gap", "cut"} <= kinds, watch.alerts
            gap = next(a for a in watch.alerts if a.kind == "gap")
            assert "may be lost" in gap.text
            frame = watch.frame()
            refused = frame[frame["detail"].fillna("").str.contains("402::Unknown client")]
            assert len(refused) >= 1
            # and the session works again
            _wait(lambda: client.cometd_connected, timeout=45)
            client.get_chained_record(_handles(sb)[0], campaign_name=sb.campaign_name,
                                      application_id=sb.application_id)
        finally:
            watch.stop()


def test_foreign_reference_ids_are_told_apart(sb: Sandbox) -> None:
    sb.faults = Faults(foreign=True)
    with _connect(sb) as mine, _connect(sb) as theirs:
        watch = mine.watch(interval=0.05)
        try:
            own = mine.get_chained_record(_handles(sb)[1], campaign_name=sb.campaign_name,
                                          application_id=sb.application_id, reference_id="my-own-ref-1")
            other = theirs.get_chained_record(_handles(sb)[2], campaign_name=sb.campaign_name,
                                              application_id=sb.application_id)
            _wait(lambda: watch.core.alert_counts["foreign"] >= 1)
        finally:
            watch.stop()
        frame = watch.frame()
        foreign = frame[frame["reference"] == "foreign"]
        assert set(foreign["reference_id"]) == {other.reference_id}
        assert set(frame.loc[frame["reference"] == "ours", "reference_id"]) == {own.reference_id}
        alert = next(a for a in watch.alerts if a.kind == "foreign")
        assert other.reference_id in alert.text
        assert watch.core.alert_counts["foreign"] == 1  # once per referenceId, however many messages


def test_own_references_are_bounded_and_count_what_they_forget() -> None:
    refs = OwnReferences("gwsnb-abc-", size=3)
    for i in range(5):
        refs.add(f"given-{i}")
    refs.add("gwsnb-abc-7")  # the client's own ids are told by their prefix, not recorded
    assert refs.forgotten == 2
    assert [refs.kind(r) for r in ("given-4", "given-0", "gwsnb-abc-99", None, 12)] == [
        "ours", "foreign", "ours", "none", "foreign"]


@pytest.mark.node
@pytest.mark.skipif(shutil.which("node") is None or not (PEERS / "node_modules" / "cometd-nodejs-server").is_dir(),
                    reason="node and the npm peers (make peers) are needed")
async def test_multiple_clients_advice_against_cometds_own_server() -> None:
    """Two CometD clients of one browser session (one cookie jar: one ``BAYEUX_BROWSER``), both held: CometD's
    Node server advises ``multiple-clients``.  (The sandbox does not play this; CometD's server does.)"""
    from .test_cometd_server import CometdServer

    server = CometdServer(timeout_ms=HOLD_MS)
    server.start()
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    first, second = CometdSession(server.url, http=http), CometdSession(server.url, http=http)
    core = WatchCore(OwnReferences("none-"))
    first.observers.append(core)
    second.observers.append(core)
    try:
        await first.open(timeout=10)
        await second.open(timeout=10)
        await until(lambda: core.alert_counts["multiple-clients"] >= 1, timeout=3 * HOLD_MS / 1000)
        alert = next(a for a in core.alert_list() if a.kind == "multiple-clients")
        assert "another long-poll" in alert.text
    finally:
        await first.close()
        await second.close()
        await http.close()
        await asyncio.to_thread(server.stop)


# --------------------------------------------------------------------------- gwsnb watch
CAMPAIGN_MESSAGE = {"channel": "/v2/me/outbound", "data": {
    "messageType": "OutboundCampaignMessage", "notificationType": "CampaignStarted", "campaignName": "Campaign1"}}
FOREIGN_MESSAGE = {"channel": "/v2/me/outbound", "data": {
    "messageType": "OutboundRecordMessage", "notificationType": "ChainedRecord", "referenceId": "someone-else-1",
    "record": {"recordHandle": 5}}}


def _cli_watch(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[int, str, str]:
    """``gwsnb watch --duration 3`` while the sandbox sends an unsolicited campaign message and a foreign one."""
    import contextlib
    import io
    import threading

    from gwsnb.cli import main as cli_main

    monkeypatch.setenv("WATCH_TEST_PW", sb.password)
    out, err = io.StringIO(), io.StringIO()

    def inject() -> None:
        _wait(lambda: sb.cometd_client_count() >= 1)
        time.sleep(0.5)
        sb.inject(CAMPAIGN_MESSAGE)
        sb.inject(FOREIGN_MESSAGE)

    injector = threading.Thread(target=inject)
    injector.start()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["watch", "--url", sb.url, "--user", sb.username, "--password-env", "WATCH_TEST_PW",
                         "--duration", "3", *extra])
    injector.join()
    return code, out.getvalue(), err.getvalue()


def test_cli_watch_prints_lines_until_the_duration(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _cli_watch(sb, monkeypatch)
    assert code == 0
    lines = out.splitlines()
    campaign = [line for line in lines if "CampaignStarted" in line]
    assert len(campaign) == 1 and "/v2/me/outbound" in campaign[0] and "OutboundCampaignMessage" in campaign[0]
    assert " none" in campaign[0]  # no referenceId
    assert any("ChainedRecord" in line and "foreign someone-else-1" in line and "handle 5" in line for line in lines)
    assert any(line.split("  ")[1] == "ALERT foreign: ChainedRecord for referenceId 'someone-else-1', which this "
               "client did not send (another client's request delivered to this session)" for line in lines)
    assert "gwsnb watch:" in err and "stopped" in err  # secrets: tests/reliability/test_secrets.py


def test_cli_watch_json_lines(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    code, out, _ = _cli_watch(sb, monkeypatch, "--json")
    assert code == 0
    objects = [json.loads(line) for line in out.splitlines()]
    messages = [o for o in objects if o["type"] == "message"]
    alerts = [o for o in objects if o["type"] == "alert"]
    campaign = next(o for o in messages if o["notification_type"] == "CampaignStarted")
    assert campaign["reference"] == "none" and campaign["channel"] == "/v2/me/outbound"
    foreign = next(o for o in messages if o["reference_id"] == "someone-else-1")
    assert foreign["reference"] == "foreign" and foreign["record_handle"] == 5
    assert [a["kind"] for a in alerts] == ["foreign"] and isinstance(alerts[0]["at"], float)
    assert [o["seq"] for o in messages] == sorted(o["seq"] for o in messages)


def test_cli_watch_bad_arguments(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from gwsnb.cli import main as cli_main

    with pytest.raises(SystemExit) as info:
        cli_main(["watch", "--url", sb.url, "--user", sb.username, "--duration", "-1"])
    assert info.value.code == 2
    monkeypatch.delenv("WATCH_UNSET_PW", raising=False)
    assert cli_main(["watch", "--url", sb.url, "--user", sb.username, "--password-env", "WATCH_UNSET_PW"]) == 2
    monkeypatch.setenv("WATCH_TEST_PW", "wrong-password")
    assert cli_main(["watch", "--url", sb.url, "--user", sb.username, "--password-env", "WATCH_TEST_PW",
                     "--duration", "1"]) == 1
    assert "cannot connect" in capsys.readouterr().err


def test_cli_watch_over_tls_with_a_ca_file(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from gwsnb.cli import main as cli_main

    with Sandbox(chains=5, seed=19, tls=True) as tls_sb:
        monkeypatch.setenv("WATCH_TEST_PW", tls_sb.password)
        base = ["watch", "--url", tls_sb.url, "--user", tls_sb.username, "--password-env", "WATCH_TEST_PW",
                "--duration", "1"]
        assert cli_main(base) == 1  # the sandbox's throwaway CA is not trusted by default
        assert "cannot connect" in capsys.readouterr().err
        assert tls_sb.ca_path is not None
        assert cli_main([*base, "--ca-file", tls_sb.ca_path]) == 0
        assert "stopped" in capsys.readouterr().err
