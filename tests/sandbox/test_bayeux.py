"""The sandbox's Bayeux server, exercised with hand-written Bayeux JSON over real HTTP."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from gwsnb.sandbox import Sandbox

from .conftest import RawGws, data_end_seen


def test_handshake_reply(gws: RawGws) -> None:
    reply = gws.handshake()
    assert reply["channel"] == "/meta/handshake"
    assert reply["id"] == "1"
    assert reply["version"] == "1.0"
    assert reply["supportedConnectionTypes"] == ["long-polling"]
    assert isinstance(reply["clientId"], str) and reply["clientId"]
    assert reply["advice"] == {"interval": 0, "timeout": 30000, "reconnect": "retry"}


def test_handshake_refused_without_http_session(sb: Sandbox) -> None:
    resp = requests.post(
        sb.notifications_url,
        json=[{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"], "id": "1"}],
        timeout=10,
    )
    assert resp.status_code == 401
    [reply] = resp.json()
    assert reply["successful"] is False
    assert reply["id"] == "1"
    assert "JSESSIONID" in reply["error"]
    assert "clientId" not in reply


def test_bayeux_post_without_csrf_is_403(gws: RawGws) -> None:
    del gws.http.headers["X-CSRF-TOKEN"]
    resp = gws.bayeux([{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}])
    assert resp.status_code == 403
    assert resp.text == "Missing or invalid Csrf token"


def test_first_connect_answered_at_once_later_ones_held(sb: Sandbox, gws: RawGws) -> None:
    gws.handshake()
    # No advice.timeout: the server's own 30 s hold applies, except to the first connect.
    [reply] = gws.connect(http_timeout=10)
    assert reply == {"channel": "/meta/connect", "id": "2", "successful": True, "advice": {"interval": 0, "timeout": 30000, "reconnect": "retry"}}
    with pytest.raises(requests.exceptions.ReadTimeout):
        gws.connect(http_timeout=1.0)


def test_held_connect_released_by_a_message(sb: Sandbox, gws: RawGws) -> None:
    gws.open()
    result: list[list[dict[str, object]]] = []
    poll = threading.Thread(target=lambda: result.append(gws.connect(http_timeout=20)))
    poll.start()
    # Only post once the connect is held; the test's correctness does not depend on it.
    time.sleep(0.2)
    other = requests.Session()
    other.cookies.update(gws.http.cookies)
    other.headers["X-CSRF-TOKEN"] = gws.token or ""
    other.post(
        f"{sb.url}/me/outbound-records/{sb.record_handles[0]}",
        json={"operationName": "GetChainedRecord", "applicationId": sb.application_id, "campaignName": sb.campaign_name, "devicePath": sb.device_path},
        timeout=10,
    )
    poll.join(20)
    assert not poll.is_alive()
    [messages] = result
    assert messages[-1]["channel"] == "/meta/connect"
    assert len(messages) > 1  # the notifications came in the held connect's answer, before its reply


def test_client_advice_timeout_is_honoured(gws: RawGws) -> None:
    gws.open()
    # Nothing queued: with advice.timeout 300 the held connect comes back empty well within 10 s.
    [reply] = gws.connect(timeout_ms=300, http_timeout=10)
    assert reply["successful"] is True


def test_several_messages_batched_in_one_answer(sb: Sandbox, gws: RawGws) -> None:
    gws.open()
    gws.get_chained_record(sb.record_handles[0])
    # A call's notifications are queued in one go, so the first non-empty answer holds all of them
    # (at least ChainedRecord pair + DataEnd pair), followed by the connect reply.
    answer: list[dict[str, object]] = []
    deadline = time.monotonic() + 10
    while len(answer) < 2 and time.monotonic() < deadline:
        answer = gws.connect(timeout_ms=2000)
    assert answer[-1]["channel"] == "/meta/connect"
    notes = answer[:-1]
    assert len(notes) >= 4
    assert notes[-2]["data"]["notificationType"] == "ChainedRecordsDataEnd"  # type: ignore[index]


def test_batch_request_in_one_post(sb: Sandbox, gws: RawGws) -> None:
    gws.handshake()
    cid = gws.client_id
    resp = gws.bayeux(
        [
            {"channel": "/meta/subscribe", "clientId": cid, "subscription": ["/v2/me/outbound", "/v2/me/calls"], "id": "a"},
            {"channel": "/meta/unsubscribe", "clientId": cid, "subscription": "/v2/me/calls", "id": "b"},
            {"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling", "id": "c"},
        ]
    )
    replies = resp.json()
    assert [(r["channel"], r["id"], r["successful"]) for r in replies] == [
        ("/meta/subscribe", "a", True),
        ("/meta/unsubscribe", "b", True),
        ("/meta/connect", "c", True),
    ]
    assert replies[0]["subscription"] == ["/v2/me/outbound", "/v2/me/calls"]


def test_unknown_client_gets_402(gws: RawGws) -> None:
    gws.handshake()
    gws.client_id = "no-such-client"
    resp = gws.bayeux([{"channel": "/meta/connect", "clientId": "no-such-client", "connectionType": "long-polling", "id": "9"}])
    [reply] = resp.json()
    assert reply["successful"] is False
    assert reply["error"] == "402::Unknown client"
    assert reply["advice"]["reconnect"] == "handshake"
    assert reply["id"] == "9"


def test_client_of_another_session_is_unknown(sb: Sandbox, gws: RawGws) -> None:
    gws.handshake()
    thief = RawGws(sb)
    resp = thief.bayeux([{"channel": "/meta/connect", "clientId": gws.client_id, "connectionType": "long-polling"}])
    assert resp.json()[0]["error"] == "402::Unknown client"
    thief.close()


def test_internal_without_subscription_outbound_only_when_subscribed(sb: Sandbox, gws: RawGws) -> None:
    gws.open(channel=None)  # no subscription at all
    gws.get_chained_record(sb.record_handles[0])
    got = gws.collect(lambda m: any(x["data"]["userData"]["GSW_USER_EVENT"] == "ChainedRecordsDataEnd" for x in m))
    assert got and {m["channel"] for m in got} == {"/me/internal"}
    gws.subscribe("/v2/me/*")  # wildcard covers /v2/me/outbound
    gws.get_chained_record(sb.record_handles[0])
    got = gws.collect(data_end_seen)
    assert "/v2/me/outbound" in {m["channel"] for m in got}
    gws.bayeux([{"channel": "/meta/unsubscribe", "clientId": gws.client_id, "subscription": "/v2/me/*"}])
    gws.get_chained_record(sb.record_handles[0])
    got = gws.collect(lambda m: any(x["data"]["userData"]["GSW_USER_EVENT"] == "ChainedRecordsDataEnd" for x in m))
    assert got and {m["channel"] for m in got} == {"/me/internal"}


def test_disconnect_forgets_client(gws: RawGws) -> None:
    gws.open()
    resp = gws.bayeux([{"channel": "/meta/disconnect", "clientId": gws.client_id, "id": "d"}])
    assert resp.json()[0]["successful"] is True
    resp = gws.bayeux([{"channel": "/meta/connect", "clientId": gws.client_id, "connectionType": "long-polling"}])
    assert resp.json()[0]["error"] == "402::Unknown client"


def test_publish_is_refused(gws: RawGws) -> None:
    gws.open()
    resp = gws.bayeux([{"channel": "/v2/me/outbound", "clientId": gws.client_id, "data": {"x": 1}, "id": "p"}])
    [reply] = resp.json()
    assert reply["successful"] is False and reply["id"] == "p"


def test_malformed_bayeux_body(gws: RawGws) -> None:
    resp = gws.http.post(gws.sb.notifications_url, data=b"{nope", headers={"Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 400
    assert "Malformed JSON" in resp.json()[0]["error"]
    gws.handshake()  # still serving


def test_idle_client_expires() -> None:
    with Sandbox(chains=5, cometd_max_idle_s=0.2) as sb:
        peer = RawGws(sb)
        peer.handshake()
        deadline = time.monotonic() + 10
        while sb.cometd_client_count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sb.cometd_client_count() == 0
        resp = peer.bayeux([{"channel": "/meta/connect", "clientId": peer.client_id, "connectionType": "long-polling"}])
        assert resp.json()[0]["error"] == "402::Unknown client"
        peer.close()


def test_stop_start_rebinds_same_port_and_forgets_cometd() -> None:
    with Sandbox(chains=5) as sb:
        peer = RawGws(sb)
        peer.open()
        port = sb.port
        sb.stop()
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(sb.url + "/diagnostics/version", timeout=5)
        sb.start()
        assert sb.port == port
        resp = peer.bayeux([{"channel": "/meta/connect", "clientId": peer.client_id, "connectionType": "long-polling"}])
        assert resp.json()[0]["error"] == "402::Unknown client"
        peer.handshake()  # the HTTP session survived the restart
        peer.close()


def test_stop_answers_held_connect() -> None:
    sb = Sandbox(chains=5).start()
    peer = RawGws(sb)
    peer.open()
    result: list[object] = []

    def poll() -> None:
        try:
            result.append(peer.connect(http_timeout=20))
        except requests.RequestException as exc:  # a closed connection is an acceptable answer too
            result.append(exc)

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.2)
    sb.stop()
    t.join(20)
    assert not t.is_alive() and result
    peer.close()
