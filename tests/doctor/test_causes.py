"""Each cause the doctor knows, produced for real (a sandbox misconfiguration or a client-side argument),
and named by ``diagnose()`` at the right step with a fix; a healthy sandbox gives ``ok`` at every step."""

from __future__ import annotations

import pytest

from gwsnb.doctor import CAUSES, Diagnosis
from gwsnb.errors import InvalidParameterError
from gwsnb.sandbox import Faults, Sandbox
from gwsnb.sandbox._misconfig import MISCONFIGURATIONS

from .conftest import PASSWORD, closed_port, diagnose, sandbox

ORDER = ["reach", "auth", "session", "csrf", "features", "devices", "cc-session", "cometd", "clock", "round-trip"]


def assert_names(d: Diagnosis, step: str, cause: str) -> None:
    """``cause`` is the verdict, named by ``step``, with a fix; the steps after it (but the clock) are skipped."""
    assert [s.name for s in d.steps] == ORDER
    assert not d.ok and d.cause == cause, d.text()
    failing = [s for s in d.steps if s.status == "fail"]
    assert [s.name for s in failing] == [step], d.text()
    assert failing[0].cause == cause and failing[0].fix
    assert CAUSES[cause].step == step
    later = ORDER[ORDER.index(step) + 1:]
    assert all(d.step(n).status == "skipped" for n in later if n != "clock"), d.text()
    assert cause in d.text() and failing[0].fix in d.text()


def test_healthy_sandbox_every_step_ok(healthy: Sandbox) -> None:
    d = diagnose(healthy)
    assert d.ok and d.cause is None
    assert {s.name: s.status for s in d.steps} == dict.fromkeys(ORDER, "ok"), d.text()
    assert "No problem found." in d.text()
    # the held connect was held for the advised timeout, and the round trip saw the whole chain
    assert d.step("cometd").evidence["advised_timeout_ms"] == 1000
    assert d.step("cometd").evidence["held_s"] >= 0.9
    timeline = d.step("round-trip").evidence["timeline"]
    assert timeline["http_ack"] == "HTTP 200 statusCode 0" and "ChainedRecordsDataEnd_ms" in timeline


def test_healthy_over_tls_with_its_ca(tls_sandbox: Sandbox) -> None:
    d = diagnose(tls_sandbox, verify=tls_sandbox.ca_path, quick=True)
    assert d.ok, d.text()
    assert all(s.status == "ok" for s in d.steps), d.text()
    assert "held connect not checked" in d.step("cometd").summary


SERVER_SIDE = [
    ("session_not_sticky", "session", "session_not_sticky"),
    ("csrf_rejected", "csrf", "csrf_rejected"),
    ("feature_missing", "features", "feature_missing"),
    ("no_device", "devices", "no_device"),
    ("device_inactive", "devices", "device_inactive"),
    ("cc_session_refused", "cc-session", "cc_session_refused"),
    ("cometd_path", "cometd", "cometd_not_found"),
    ("cometd_rerouted", "cometd", "cometd_rerouted"),
    ("subscription_refused", "cometd", "subscription_refused"),
    ("notifications_missing", "round-trip", "notifications_missing"),
    pytest.param("long_poll_cut", "cometd", "long_poll_cut", marks=pytest.mark.slow),
]


SERVER_SIDE_WARNINGS = [
    ("multiple_clients", "cometd", "multiple_clients"),
    pytest.param("slow_server", "session", "slow_server", marks=pytest.mark.slow),
]


def test_every_misconfiguration_is_tested() -> None:
    tested = {p.values[0] if hasattr(p, "values") else p[0] for p in SERVER_SIDE + SERVER_SIDE_WARNINGS}
    assert tested == set(MISCONFIGURATIONS)


@pytest.mark.parametrize(("name", "step", "cause"), SERVER_SIDE_WARNINGS)
def test_server_side_warning(name: str, step: str, cause: str) -> None:
    with sandbox(misconfigure=name) as sb:
        d = diagnose(sb)
    assert d.ok and d.cause is None, d.text()  # a warning is not a failure: the round trip still ran
    assert [(s.name, s.cause) for s in d.steps if s.status == "warn"] == [(step, cause)], d.text()
    assert d.step(step).fix == CAUSES[cause].fix and d.step("round-trip").status == "ok"
    assert d.warnings == [cause] and f"warnings: {cause}" in d.text()


@pytest.mark.parametrize(("name", "step", "cause"), SERVER_SIDE)
def test_server_side_misconfiguration(name: str, step: str, cause: str) -> None:
    # the held connect is needed only to see a cut; elsewhere quick keeps the test short
    hold = {"cometd_timeout_ms": 8000} if name == "long_poll_cut" else {}
    with sandbox(misconfigure=name, **hold) as sb:
        d = diagnose(sb, quick=name != "long_poll_cut", timeout=1.5)
    assert_names(d, step, cause)


def test_session_not_sticky_evidence() -> None:
    with sandbox(misconfigure="session_not_sticky") as sb:
        d = diagnose(sb)
    evidence = d.step("session").evidence
    assert evidence["distinct_jsessionids"] > 1 and evidence["distinct_csrf_tokens"] > 1
    assert d.step("session").also  # and what would tell the other reading apart


def test_cometd_path_fix_names_where_cometd_answers() -> None:
    with sandbox(misconfigure="cometd_path") as sb:
        d = diagnose(sb, quick=True)
        fix = d.step("cometd").fix or ""
        assert "/genesys/cometd" in fix and sb.notifications_url in fix
        # following the fix cures it
        again = diagnose(sb, quick=True, notifications_path=sb.notifications_url)
    assert again.ok, again.text()


@pytest.mark.slow
def test_long_poll_cut_duration() -> None:
    with sandbox(misconfigure="long_poll_cut", cometd_timeout_ms=8000) as sb:
        d = diagnose(sb, round_trip=False)
    step = d.step("cometd")
    assert 4.5 <= step.evidence["held_s"] < 8.0
    assert "of the advised 8 s" in step.summary


def test_notifications_missing_says_what_arrived() -> None:
    with sandbox(misconfigure="notifications_missing") as sb:
        d = diagnose(sb, quick=True, timeout=1.0)
    step = d.step("round-trip")
    assert step.evidence["timeline"]["http_ack"] == "HTTP 200 statusCode 0"
    assert step.evidence["timeline"]["outbound_messages"] == 0 and step.evidence["timeline"]["user_events"] == 0
    assert "nothing arrived" in step.summary
    assert [c for c, _ in step.also] == ["ocs_error"]


def test_misconfigure_unknown_name_is_named() -> None:
    with pytest.raises(ValueError, match="'no_such_thing'") as info:
        Sandbox(misconfigure="csrf_rejected,no_such_thing")
    assert "session_not_sticky" in str(info.value)  # the valid names are listed


# ----- causes on the client's side ----------------------------------------------------------------


def test_unreachable_closed_port() -> None:
    import gwsnb

    d = gwsnb.diagnose(f"http://127.0.0.1:{closed_port()}/api/v2", "agent", "x", progress=False, timeout=2)
    assert_names(d, "reach", "unreachable")
    assert "refused" in d.step("reach").summary.lower() or "Refused" in str(d.step("reach").evidence)
    assert d.step("clock").status == "skipped"


def test_unreachable_unknown_host_name() -> None:
    import gwsnb

    d = gwsnb.diagnose("http://no-such-host.invalid/api/v2", "agent", "x", progress=False, timeout=3)
    assert_names(d, "reach", "unreachable")
    assert "does not resolve" in d.step("reach").summary


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_auth_refused(tls: bool, healthy: Sandbox, request: pytest.FixtureRequest) -> None:
    sb = request.getfixturevalue("tls_sandbox") if tls else healthy
    extra = {"verify": sb.ca_path} if tls else {}
    d = diagnose(sb, password=PASSWORD + "-wrong", **extra)
    assert_names(d, "auth", "auth_refused")
    assert d.step("reach").status == "ok"  # the version endpoint answered without credentials
    assert "401" in d.step("auth").summary


def test_tls_untrusted_without_its_ca(tls_sandbox: Sandbox) -> None:
    d = diagnose(tls_sandbox)  # verify=True: the system's CAs do not know the throwaway CA
    assert_names(d, "reach", "tls_untrusted")
    assert "--ca-file" in (d.step("reach").fix or "")


def test_tls_hostname_reached_by_another_name(tls_sandbox: Sandbox, other_name_url: str) -> None:
    d = diagnose(tls_sandbox, url=other_name_url, verify=tls_sandbox.ca_path)
    assert_names(d, "reach", "tls_hostname")
    assert "127.0.0.2" in str(d.step("reach").evidence)


def test_not_gws_html_page(html_url: str) -> None:
    import gwsnb

    d = gwsnb.diagnose(html_url, "agent", "x", progress=False)
    assert_names(d, "reach", "not_gws")
    evidence = d.step("reach").evidence["version"]
    assert evidence["status"] == 200 and "nginx" in evidence["body_starts"]
    assert evidence["header_values"]["Server"] == "nginx"


def test_not_gws_a_gateway_whose_gws_is_down(html_url: str) -> None:
    import gwsnb

    d = gwsnb.diagnose(html_url.replace("/api/v2", "/gateway/api/v2"), "agent", "x", progress=False)
    assert_names(d, "reach", "not_gws")
    step = d.step("reach")
    assert [c for c, _ in step.also] == ["unreachable"] and "503" in step.summary
    assert step.evidence["version"]["header_values"]["Via"] == "1.1 gateway"


def test_checklist_html_and_text(healthy: Sandbox) -> None:
    d = diagnose(healthy, campaign_name="Nope <b>", quick=True)
    html = d._repr_html_()
    assert html.count("✓") == 9 and html.count("✗") == 1
    assert "<details><summary>evidence</summary>" in html and "<code>ocs_error</code>" in html
    assert "<b>fix:</b>" in html and "Nope <b>" not in html and "Nope &lt;b&gt;" in html
    assert repr(d) == "Diagnosis(ok=False, cause='ocs_error', steps=10)"
    quiet, verbose = d.text(), d.text(verbose=True)
    assert "errorCode" in quiet and "request: GET /api/v2/me" not in quiet  # evidence only for problems
    assert "request=GET /api/v2/me" in verbose


def test_not_gws_base_url_without_api_v2(html_url: str) -> None:
    import gwsnb

    d = gwsnb.diagnose(html_url.removesuffix("/api/v2"), "agent", "x", progress=False)
    assert d.cause == "not_gws" and "must end in /api/v2" in (d.step("reach").fix or "")


def test_not_gws_plain_http_to_a_tls_port(tls_sandbox: Sandbox) -> None:
    d = diagnose(tls_sandbox, url=tls_sandbox.url.replace("https://", "http://"))
    assert_names(d, "reach", "not_gws")
    assert "scheme" in (d.step("reach").fix or "")


def test_ocs_error_wrong_campaign(healthy: Sandbox) -> None:
    d = diagnose(healthy, campaign_name="NoSuchCampaign", quick=True)
    assert_names(d, "round-trip", "ocs_error")
    assert d.step("round-trip").evidence["timeline"]["error"]["errorCode"] == 102
    # the code's meaning is said where the user reads it (a pip user has no docs/ folder)
    step = d.step("round-trip")
    assert "errorCode 102: Campaign not found" in step.summary and "docs/" not in (step.fix or "")
    assert "Campaign not found" in d.text()


def test_every_error_code_the_sandbox_answers_has_its_meaning_in_the_table() -> None:
    import re

    from gwsnb.protocol import OCS_ERROR_CODES, ocs_error_meaning
    from gwsnb.sandbox import _operations

    listed = {int(code): text for code, text in re.findall(r"^(1\d\d)\s+(.+)$", _operations.__doc__ or "", re.M)}
    assert set(listed) == set(OCS_ERROR_CODES)
    for code, text in listed.items():  # the same words first: "Record not found", "Campaign not found"...
        head = re.split(r"[:(]", text.replace("(injected) ``Faults.error_handles`` names the handle", "Injected error"))[0].strip()
        assert OCS_ERROR_CODES[code].startswith(head), (code, head)
    assert ocs_error_meaning("101") == OCS_ERROR_CODES[101] and ocs_error_meaning("E42") is None


def test_device_path_not_the_users(healthy: Sandbox) -> None:
    d = diagnose(healthy, device_path="/devices/not-mine", quick=True)
    assert_names(d, "devices", "no_device")
    assert healthy.device_path in (d.step("devices").fix or "")


# ----- warnings -------------------------------------------------------------------------------------


def test_device_ambiguous_warns_and_goes_on() -> None:
    with sandbox(devices=3) as sb:
        d = diagnose(sb, quick=True)
        named = diagnose(sb, quick=True, device_path=sb.device_paths[1])
    assert d.ok and d.step("devices").status == "warn" and d.step("devices").cause == "device_ambiguous"
    assert d.step("round-trip").status == "ok"
    assert named.step("devices").status == "ok"


def test_clock_skew_from_the_round_trip_notifications() -> None:
    with sandbox(faults=Faults(clock_offset_ms=90000)) as sb:
        d = diagnose(sb, quick=True)
    step = d.step("clock")
    assert step.status == "warn" and step.cause == "clock_skew"
    assert d.ok  # a warning, not a failure
    low, high = d.clock_offset_ms or (0, 0)
    assert low <= 90000 <= high and high - low < 100
    assert "ahead of ours" in step.summary and "90.0" in step.summary
    assert step.evidence["source"].startswith("serverGenerationTimestamp")


def test_clock_from_the_date_header_only_is_known_to_a_second() -> None:
    with sandbox(faults=Faults(clock_offset_ms=-90000)) as sb:
        d = diagnose(sb, quick=True, round_trip=False)
    step = d.step("clock")
    assert step.cause == "clock_skew" and "behind ours" in step.summary and "about 1 s" in step.summary
    low, high = d.clock_offset_ms or (0, 0)
    assert low <= -90000 <= high and high - low < 2500


def test_no_clock_warning_when_clocks_agree(healthy: Sandbox) -> None:
    d = diagnose(healthy, quick=True, round_trip=False)
    assert d.step("clock").status == "ok"
    assert d.step("round-trip").status == "skipped"
    assert "campaign" in d.step("round-trip").summary


# ----- no false alarms: a correct GWS that differs from the sandbox ---------------------------------


@pytest.mark.parametrize(("variant", "step", "status"), [
    ("no_features_list", "features", "skipped"),
    ("no_csrf", "csrf", "ok"),
    ("balancer_cookie", "session", "ok"),
])
def test_no_false_alarm(variant: str, step: str, status: str) -> None:
    with sandbox(variants=variant) as sb:
        d = diagnose(sb)
    assert d.ok and d.cause is None, d.text()
    assert not any(s.status == "fail" for s in d.steps)
    assert d.step(step).status == status, d.text()
    assert d.step("round-trip").status == "ok"
    if variant == "balancer_cookie":
        assert "AWSELB" in d.step("session").evidence["cookies_kept"]
    if variant == "no_csrf":
        assert "protection is off" in d.step("csrf").summary


def test_a_longer_hold_than_ours_is_fine() -> None:
    # a GWS advising 2.5 s where these tests' sandboxes advise 1 s: held in full, ok
    with sandbox(cometd_timeout_ms=2500) as sb:
        d = diagnose(sb, round_trip=False)
    assert d.step("cometd").status == "ok" and d.step("cometd").evidence["held_s"] >= 2.2


def test_progress_says_what_it_waits_for(healthy: Sandbox) -> None:
    said: list[str] = []
    diagnose(healthy, round_trip=False, progress=said.append)
    assert len(said) == 1 and "holding one connect for up to 1 s" in said[0] and "quick" in said[0]
    said.clear()
    diagnose(healthy, round_trip=False, quick=True, progress=said.append)
    assert said == []


@pytest.mark.parametrize(("kw", "field"), [
    ({"url": "ftp://example"}, "url"),
    ({"notifications_path": "notifications"}, "notifications_path"),
    ({"application_id": -1}, "application_id"),
    ({"record_handle": "seven"}, "record_handle"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_arguments_raise_before_sending(kw: dict[str, object], field: str, healthy: Sandbox) -> None:
    before = sum(healthy.request_counts().values())
    with pytest.raises(InvalidParameterError) as info:
        diagnose(healthy, **kw)
    assert info.value.field == field
    assert sum(healthy.request_counts().values()) == before


def test_leaves_nothing_behind() -> None:
    """The CometD client it made is disconnected and the contact-center session it started is ended."""
    with sandbox() as sb:
        d = diagnose(sb, quick=True)
        assert d.ok
        assert sb.cometd_client_count() == 0
        assert sb.http_session_count() == 0  # EndContactCenterSession ends the HTTP session in the sandbox
        counts = sb.request_counts()
    assert counts["POST /api/v2/me"] == 3  # the CSRF probe, StartContactCenterSession, EndContactCenterSession


def test_a_user_name_equal_to_the_password_is_masked_too() -> None:
    with Sandbox(chains=20, username="agent", password="agent", cometd_timeout_ms=1000) as sb:
        d = diagnose(sb, quick=True)
    assert d.ok
    for text in (d.text(verbose=True), d.to_json(), d._repr_html_()):
        assert "agent" not in text
    assert d.username == "****" and "logged in as ****" in d.step("auth").summary
