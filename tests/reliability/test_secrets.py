"""Item 7: the password and its Authorization header appear nowhere a user or a log collector can see.

One sandbox with a unique password; everything the toolkit shows or records is searched for the password
and for the base64 forms of the Basic credentials: reprs and strs of the client and its parts, results,
batches and errors, every log record of every logger at DEBUG (aiohttp's and gwsnb's included),
the event log, DataFrames written to CSV, the CLI's output and the outputs of an executed notebook that
connects with the password taken from an environment variable.  Plus: TLS verification is on by default
and turning it off warns once per process.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import ssl
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

import gwsnb
import gwsnb.doctor
from gwsnb import errors
from gwsnb._cli.demo_report import execute_notebook
from gwsnb._wire import rest as _rest
from gwsnb.cli import main as cli_main
from gwsnb.sandbox import Faults, Sandbox

from .conftest import Recorder

PASSWORD = f"pw-{uuid.uuid4().hex}"
USER = "agent"


def _needles() -> list[str]:
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [PASSWORD, basic, basic.rstrip("="), base64.b64encode(PASSWORD.encode()).decode().rstrip("="),
            PASSWORD.upper()]


def _leaks(text: str) -> list[str]:
    return [n for n in _needles() if n in text]


@pytest.fixture(scope="module")
def secret_sb() -> Iterator[Sandbox]:
    with Sandbox(chains=40, seed=4, password=PASSWORD, username=USER, cometd_timeout_ms=2000) as sb:
        yield sb


def test_password_appears_nowhere(secret_sb: Sandbox, caplog: pytest.LogCaptureFixture, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch, reliability: Recorder) -> None:
    sb = secret_sb
    seen: list[tuple[str, str]] = []

    def look(where: str, obj: object) -> None:
        seen.append((where, obj if isinstance(obj, str) else f"{obj!r}\n{obj!s}"))

    caplog.set_level(logging.DEBUG)  # root: every logger, aiohttp's included
    for name in ("aiohttp", "aiohttp.client", "gwsnb"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    with gwsnb.connect(sb.url, USER, PASSWORD, timeout=5.0) as c:
        look("client", c)
        look("rest session", c._rest)
        look("cometd session", c._cometd)
        look("event log repr", c.event_log)
        result = c.get_chained_record(sb.record_handles[0], campaign_name=sb.campaign_name,
                                      application_id=sb.application_id)
        look("result", result)
        look("result html", result._repr_html_() if hasattr(result, "_repr_html_") else "")
        batch = c.get_chained_records(sb.record_handles[:4], campaign_name=sb.campaign_name,
                                      application_id=sb.application_id, progress=False)
        look("batch", batch)
        look("batch html", batch._repr_html_())
        look("batch summary", batch.summary())
        # errors of every kind
        caught: list[BaseException] = []
        for thunk in (
            lambda: c.get_chained_record(sb.record_handles[0], campaign_name="Nope",
                                         application_id=sb.application_id),
            lambda: c.get_chained_record(-1, campaign_name=sb.campaign_name, application_id=sb.application_id),
            lambda: c.get_chained_record(sb.record_handles[1], campaign_name=sb.campaign_name,
                                         application_id=sb.application_id, device_path="/devices/not-mine"),
        ):
            with pytest.raises(errors.GwsError) as info:
                thunk()
            caught.append(info.value)
        sb.faults = Faults(drop_data_end=True)
        with pytest.raises(errors.NotificationTimeout) as timeout_info:
            c.get_chained_record(sb.record_handles[2], campaign_name=sb.campaign_name,
                                 application_id=sb.application_id, timeout=1.0)
        caught.append(timeout_info.value)
        sb.faults = Faults()
        # a session expiry with a re-login, so the re-login path is logged too
        before = c.handshakes
        sb.expire_http_sessions()
        deadline = time.monotonic() + 15
        while not (c.handshakes > before and c.cometd_connected) and time.monotonic() < deadline:
            time.sleep(0.02)
        c.get_chained_record(sb.record_handles[3], campaign_name=sb.campaign_name,
                             application_id=sb.application_id)
        for exc in caught:
            look(f"error {type(exc).__name__}", exc)
            look("error args", repr(exc.args))
            look("error dict", repr(vars(exc)))
        events = c.event_log.snapshot()
        look("event log", json.dumps([e.message for e in events], default=str))
        look("records csv", batch.records_frame().to_csv())
        look("metrics csv", batch.metrics_frame().to_csv())
        look("calls csv", batch.calls_frame().to_csv())
        look("events csv", c.events_frame().to_csv())
    look("closed client", c)
    with pytest.raises(errors.AuthenticationError) as bad:
        gwsnb.connect(sb.url, USER, PASSWORD + "-wrong", timeout=5.0)
    look("auth error", bad.value)
    # the CLI, password from an environment variable
    monkeypatch.setenv("RELIABILITY_SECRET_PW", PASSWORD)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for fmt in ("table", "json"):
            code = cli_main(["chained-records", "--url", sb.url, "--user", USER, "--password-env",
                             "RELIABILITY_SECRET_PW", "--campaign", sb.campaign_name, "--application-id",
                             str(sb.application_id), "--handles", f"{sb.record_handles[0]},999999",
                             "--no-progress", "--format", fmt])
            assert code == 1  # 999999 is unknown to OCS: a failure listed on stderr
    look("cli stdout", out.getvalue())
    look("cli stderr", err.getvalue())
    assert out.getvalue() and err.getvalue()
    records = [r for r in caplog.records]
    look("log records", "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in records))
    # DEBUG logging of the HTTP layer was on: every REST request and the CometD session's steps were logged
    assert any(r.name == "gwsnb._wire.rest" and r.levelno == logging.DEBUG for r in records)
    leaks = [(where, _leaks(text)) for where, text in seen if _leaks(text)]
    reliability.record("secret never shown (reprs, errors, logs, event log, CSV, CLI)", tried=len(seen),
                       survived=len(seen) - len(leaks), note=f"{len(records)} log records searched")
    assert leaks == []


NOTEBOOK_CELLS = [
    "import logging, os, sys\nlogging.basicConfig(level=logging.DEBUG, stream=sys.stdout)\nimport gwsnb",
    "c = gwsnb.connect(os.environ['RELIABILITY_URL'], 'agent', os.environ['RELIABILITY_SECRET_PW'], timeout=5)\nc",
    "r = c.get_chained_record(int(os.environ['RELIABILITY_HANDLE']), campaign_name='Campaign1', "
    "application_id=134)\nr",
    "c.get_chained_records([int(os.environ['RELIABILITY_HANDLE']), 999999], campaign_name='Campaign1', "
    "application_id=134, progress=False)",
    "c.events_frame().tail(3)",
    "try:\n    c.get_chained_record(1, campaign_name='Nope', application_id=134)\nexcept Exception as e:\n"
    "    print(repr(e), e.__dict__)",
    "print(vars(c))",
    "c.close()",
]


def test_executed_notebook_outputs_hold_no_secret(secret_sb: Sandbox, tmp_path: Path,
                                                  reliability: Recorder) -> None:
    sb = secret_sb
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    env = {"RELIABILITY_SECRET_PW": PASSWORD, "RELIABILITY_URL": sb.url,
           "RELIABILITY_HANDLE": str(sb.record_handles[0])}
    execute_notebook(book, env=env, path=tmp_path, timeout=60)
    outputs = "\n".join(json.dumps(cell.get("outputs", [])) for cell in book.cells)
    assert "GwsClient" in outputs and "DEBUG" in outputs  # the cells ran and logged
    leaks = _leaks(outputs)
    reliability.record("secret never shown in an executed notebook", tried=len(NOTEBOOK_CELLS),
                       survived=len(NOTEBOOK_CELLS) if not leaks else 0)
    assert leaks == []


def test_tls_verification_on_by_default_and_off_warns_once(secret_sb: Sandbox,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sb = secret_sb
    with gwsnb.connect(sb.url, USER, PASSWORD, timeout=5.0) as c:
        # on: a verifying context (system store, or the bundle named by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE)
        context = c._rest.ssl
        assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
        # CometD sends through the same aiohttp session, so through the same context
        assert c._cometd is not None and c._cometd.http_session is c._rest.http
    monkeypatch.setattr(_rest, "_insecure_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            with gwsnb.connect(sb.url, USER, PASSWORD, timeout=5.0, verify=False) as c:
                assert c._rest.ssl is False
                c.get_chained_record(sb.record_handles[0], campaign_name=sb.campaign_name,
                                     application_id=sb.application_id)
    ours = [w for w in caught if "verification is turned off" in str(w.message)]
    assert len(ours) == 1
    assert not _leaks(str(ours[0].message))


def test_doctor_shows_no_secret(secret_sb: Sandbox, caplog: pytest.LogCaptureFixture,
                                monkeypatch: pytest.MonkeyPatch, reliability: Recorder) -> None:
    """``gwsnb.diagnose`` and ``gwsnb doctor``: no password, cookie value or CSRF token in the text (verbose),
    the HTML, the JSON or the logs.  The session ids and tokens are read from the sandbox while the doctor
    holds its connect (its HTTP session is live then), so the search does not rely on the doctor's masker."""
    sb = secret_sb
    caplog.set_level(logging.DEBUG)
    for name in ("aiohttp", "aiohttp.client", "gwsnb"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    live: set[str] = set()

    def snapshot(message: str) -> None:
        live.update(v for s in sb._run_on_loop(lambda: list(sb._sessions._sessions.values()))
                    for v in (s.id, s.csrf_token))

    seen: list[tuple[str, str]] = []
    trip = {"campaign_name": sb.campaign_name, "application_id": sb.application_id,
            "record_handle": sb.record_handles[0]}
    d = gwsnb.diagnose(sb.url, USER, PASSWORD, progress=snapshot, timeout=5.0, **trip)
    assert d.ok, d.text()
    bad = gwsnb.diagnose(sb.url, USER, PASSWORD + "-wrong", progress=snapshot, quick=True)
    assert bad.cause == "auth_refused"
    for name, diagnosis in (("doctor", d), ("doctor refused", bad)):
        seen += [(f"{name} text", diagnosis.text(verbose=True)), (f"{name} html", diagnosis._repr_html_()),
                 (f"{name} json", diagnosis.to_json()), (f"{name} repr", repr(diagnosis) + repr(diagnosis.steps))]
    monkeypatch.setenv("RELIABILITY_SECRET_PW", PASSWORD)
    say = gwsnb.doctor._say_to_stderr
    monkeypatch.setattr(gwsnb.doctor, "_say_to_stderr", lambda message: (snapshot(message), say(message)))
    for extra in (["--verbose"], ["--json"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_main(["doctor", "--url", sb.url, "--user", USER, "--password-env", "RELIABILITY_SECRET_PW",
                             "--campaign", sb.campaign_name, "--application-id", str(sb.application_id),
                             "--handle", str(sb.record_handles[1]), *extra])
        assert code == 0, out.getvalue() + err.getvalue()
        seen += [(f"cli {extra} stdout", out.getvalue()), (f"cli {extra} stderr", err.getvalue())]
    seen.append(("log records", "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}"
                                          for r in caplog.records)))
    assert len(live) >= 6  # the doctor's sessions were live when read: ids and tokens to look for
    leaks = [(where, [n for n in _needles() if n in text] + [s for s in live if s in text])
             for where, text in seen]
    leaks = [(where, found) for where, found in leaks if found]
    reliability.record("doctor shows no secret (text, HTML, JSON, CLI, logs)", tried=len(seen),
                       survived=len(seen) - len(leaks))
    assert leaks == []
    # the evidence names the cookies and headers it saw, by name
    assert "JSESSIONID" in d.to_json() and "X-CSRF-TOKEN" in d.to_json()


def _session_secrets(sb: Sandbox) -> set[str]:
    """Every live HTTP session's id (the JSESSIONID cookie value) and CSRF token, as the sandbox knows them."""
    sessions = sb._run_on_loop(lambda: [(s.id, s.csrf_token) for s in sb._sessions._sessions.values()])
    return {value for pair in sessions for value in pair}


def test_the_watch_shows_no_secret(secret_sb: Sandbox, caplog: pytest.LogCaptureFixture,
                                   monkeypatch: pytest.MonkeyPatch, reliability: Recorder) -> None:
    """The live watch (widget HTML, rows, alerts, repr) and ``gwsnb watch`` (text and --json) hold no password,
    cookie value or CSRF token, across a session expiry (a re-login: new cookie, new token) and a 402."""
    sb = secret_sb
    seen: list[tuple[str, str]] = []
    secrets_seen: set[str] = set()
    caplog.set_level(logging.DEBUG)
    with gwsnb.connect(sb.url, USER, PASSWORD, timeout=5.0) as c:
        watch = c.watch(interval=0.05)
        secrets_seen |= _session_secrets(sb) | set(c._rest.cookies().values()) | set(c._rest.csrf_headers().values())
        c.get_chained_records(sb.record_handles[:4], campaign_name=sb.campaign_name,
                              application_id=sb.application_id, progress=False)
        sb.expire_http_sessions()  # the next requests re-login; CometD gets a 402 and handshakes again
        deadline = time.monotonic() + 15
        while not (watch.core.alert_counts["402"] and c.cometd_connected) and time.monotonic() < deadline:
            time.sleep(0.02)
        c.get_chained_record(sb.record_handles[1], campaign_name=sb.campaign_name, application_id=sb.application_id)
        secrets_seen |= _session_secrets(sb) | set(c._rest.cookies().values()) | set(c._rest.csrf_headers().values())
        watch.stop()
        assert watch.core.alert_counts["402"] >= 1  # the path that writes error texts was taken
        seen += [("watch html", watch._repr_html_()), ("watch widget", watch._html.value), ("watch repr", repr(watch)),
                 ("watch frame", watch.frame().to_csv()), ("watch alerts", repr(watch.alerts)),
                 ("watch frame attrs", repr(watch.frame().attrs))]
    monkeypatch.setenv("RELIABILITY_SECRET_PW", PASSWORD)
    for extra in ([], ["--json"]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert cli_main(["watch", "--url", sb.url, "--user", USER, "--password-env", "RELIABILITY_SECRET_PW",
                             "--duration", "2.5", *extra]) == 0
        seen += [(f"watch cli stdout {extra}", out.getvalue()), (f"watch cli stderr {extra}", err.getvalue())]
        assert out.getvalue()  # the connect replies at least (the sandbox holds connects 2 s)
    secrets_seen |= _session_secrets(sb)
    seen.append(("log records", "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}"
                                          for r in caplog.records)))
    needles = [n for n in secrets_seen if len(n) >= 8]
    assert len(needles) >= 4  # two sessions at least: cookie and token each
    leaks = [(where, [n for n in [*_needles(), *needles] if n in text]) for where, text in seen]
    leaks = [(where, found) for where, found in leaks if found]
    reliability.record("secret never shown by the watch (widget, rows, CLI text and JSON, logs)", tried=len(seen),
                       survived=len(seen) - len(leaks), note="password, JSESSIONID values, CSRF tokens")
    assert leaks == []
