"""REST contract of the sandbox (docs/gws-flow.md): auth, cookie, CSRF, me, devices, version,
contact-center session."""

from __future__ import annotations

import time

import requests

from gwsnb.sandbox import Sandbox

from .conftest import RawGws


def test_no_credentials_is_401_status_20(sb: Sandbox) -> None:
    resp = requests.get(sb.url + "/me", timeout=10)
    assert resp.status_code == 401
    assert resp.json() == {"statusCode": 20, "statusMessage": "Access denied"}
    assert "JSESSIONID" not in resp.cookies


def test_wrong_password_is_401_status_20(sb: Sandbox) -> None:
    resp = requests.get(sb.url + "/me", auth=(sb.username, sb.password + "x"), timeout=10)
    assert resp.status_code == 401
    assert resp.json()["statusCode"] == 20
    resp = requests.get(sb.url + "/me", auth=("nobody", sb.password), timeout=10)
    assert resp.status_code == 401


def test_get_me_sets_cookie_and_csrf_headers(sb: Sandbox) -> None:
    resp = requests.get(sb.url + "/me", auth=(sb.username, sb.password), timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["statusCode"] == 0
    user = body["user"]
    for key in ("id", "userName", "firstName", "lastName", "roles", "enabled", "changePasswordOnFirstLogin", "uri", "path"):
        assert key in user
    assert user["userName"] == sb.username
    assert resp.cookies.get("JSESSIONID")
    assert resp.headers["X-CSRF-HEADER"] == "X-CSRF-TOKEN"
    assert resp.headers["X-CSRF-TOKEN"]


def test_cookie_alone_authenticates_and_keeps_token(gws: RawGws) -> None:
    resp = gws.http.get(gws.sb.url + "/me", timeout=10)  # no Basic credentials this time
    assert resp.status_code == 200
    assert resp.headers["X-CSRF-TOKEN"] == gws.token  # lives as long as the session
    assert "JSESSIONID" not in resp.cookies  # no new session


def test_post_without_csrf_token_is_403(gws: RawGws) -> None:
    del gws.http.headers["X-CSRF-TOKEN"]
    resp = gws.get_chained_record(gws.sb.record_handles[0])
    assert resp.status_code == 403
    assert resp.text == "Missing or invalid Csrf token"
    gws.http.headers["X-CSRF-TOKEN"] = "not-the-token"
    resp = gws.get_chained_record(gws.sb.record_handles[0])
    assert resp.status_code == 403
    assert resp.text == "Missing or invalid Csrf token"


def test_post_with_csrf_token_succeeds(gws: RawGws) -> None:
    resp = gws.get_chained_record(gws.sb.record_handles[0])
    assert resp.status_code == 200
    assert resp.json() == {"statusCode": 0}


def test_post_without_cookie_store_is_403(sb: Sandbox, gws: RawGws) -> None:
    # Right credentials and a token, but no cookie: a client without a cookie store (docs/gws-flow.md#session-authentication-csrf-jsessionid).
    resp = requests.post(
        sb.url + "/me/outbound-records/1",
        json={"operationName": "GetChainedRecord"},
        auth=(sb.username, sb.password),
        headers={"X-CSRF-TOKEN": gws.token or ""},
        timeout=10,
    )
    assert resp.status_code == 403
    assert resp.text == "Missing or invalid Csrf token"


def test_unauthenticated_post_is_401(sb: Sandbox) -> None:
    resp = requests.post(sb.url + "/me", json={"operationName": "StartContactCenterSession"}, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["statusCode"] == 20


def test_devices(gws: RawGws) -> None:
    resp = gws.http.get(gws.sb.url + "/me/devices", timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["statusCode"] == 0
    [device] = body["devices"]
    for key in ("id", "deviceState", "userState", "phoneNumber", "e164Number", "telephonyNetwork", "doNotDisturb", "voiceEnvironmentUri", "capabilities"):
        assert key in device
    assert gws.sb.device_path == f"/devices/{device['id']}"


def test_several_devices() -> None:
    with Sandbox(chains=5, devices=3) as sb:
        peer = RawGws(sb)
        ids = [d["id"] for d in peer.http.get(sb.url + "/me/devices", timeout=10).json()["devices"]]
        assert [f"/devices/{i}" for i in ids] == sb.device_paths
        assert len(set(ids)) == 3
        peer.close()


def test_version_is_public(sb: Sandbox) -> None:
    resp = requests.get(sb.url + "/diagnostics/version", timeout=10)
    assert resp.status_code == 200
    assert resp.json() == {"statusCode": 0, "version": "8.5.200.50"}


def test_start_and_end_contact_center_session(gws: RawGws) -> None:
    resp = gws.post("/me", {"operationName": "StartContactCenterSession", "channels": ["voice"]})
    assert resp.json() == {"statusCode": 0}
    state = gws.http.get(gws.sb.url + "/me/devices", timeout=10).json()["devices"][0]["userState"]
    assert state["state"] == "Ready"
    gws.handshake()
    resp = gws.post("/me", {"operationName": "EndContactCenterSession"})
    assert resp.json() == {"statusCode": 0}
    # The HTTP session is invalidated: the cookie alone no longer authenticates...
    resp = gws.http.get(gws.sb.url + "/me", timeout=10)
    assert resp.status_code == 401
    assert resp.json()["statusCode"] == 20
    # ...and the CometD client riding on it is gone.
    resp = gws.bayeux([{"channel": "/meta/connect", "clientId": gws.client_id, "connectionType": "long-polling"}])
    assert resp.json()[0]["error"] == "402::Unknown client"


def test_start_session_validates_channels(gws: RawGws) -> None:
    resp = gws.post("/me", {"operationName": "StartContactCenterSession"})
    assert resp.json()["statusCode"] == 1
    assert "channels" in resp.json()["statusMessage"]
    resp = gws.post("/me", {"operationName": "StartContactCenterSession", "channels": "voice"})
    assert resp.json()["statusCode"] == 10
    assert "channels" in resp.json()["statusMessage"]
    resp = gws.post("/me", {"operationName": "Dance"})
    assert resp.json()["statusCode"] == 10
    assert "Dance" in resp.json()["statusMessage"]


def test_expire_http_sessions(sb: Sandbox, gws: RawGws) -> None:
    assert sb.expire_http_sessions() >= 1
    resp = gws.http.get(sb.url + "/me", timeout=10)
    assert resp.status_code == 401
    resp = gws.get_chained_record(sb.record_handles[0])
    assert resp.status_code == 401
    gws.login()  # Basic credentials open a fresh session with a fresh token
    assert gws.get_chained_record(sb.record_handles[0]).json() == {"statusCode": 0}


def test_password_not_in_repr() -> None:
    with Sandbox(chains=3, password="s3cret-Pa55") as sb:
        assert "s3cret-Pa55" not in repr(sb)
        assert "s3cret-Pa55" not in str(sb)
        assert "s3cret-Pa55" not in repr(sb.faults)


def test_idle_http_sessions_expire_and_used_ones_live_on() -> None:
    with Sandbox(chains=5, seed=1, http_session_idle_s=0.6) as sb:
        idle, used = requests.Session(), requests.Session()
        for s in (idle, used):
            assert s.get(sb.url + "/me", auth=(sb.username, sb.password), timeout=10).status_code == 200
        # cookie-less Basic requests (curl style) each open a session of their own
        for _ in range(5):
            requests.get(sb.url + "/me", auth=(sb.username, sb.password), timeout=10)
        assert sb.http_session_count() == 7
        for _ in range(8):  # 1.2 s, twice the idle limit: `used` keeps being used, the others do not
            time.sleep(0.15)
            assert used.get(sb.url + "/me/devices", timeout=10).json()["statusCode"] == 0
        expired = idle.get(sb.url + "/me", timeout=10)
        assert expired.status_code == 401 and expired.json()["statusCode"] == 20
        assert sb.http_session_count() == 1
