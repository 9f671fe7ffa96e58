"""Item 6: bad input over every public entry point — refused with an error naming the field, nothing sent.

Entry points: ``gwsnb.connect``, ``GwsClient.get_chained_record`` (and its async twin),
``GwsClient.get_chained_records`` (bulk), the ``gwsnb chained-records`` command line and the form
(``ChainedRecordForm.set_params`` / ``submit``).  "Nothing sent" is checked on the sandbox's own request
counter (every HTTP request it received, CometD long-polls excepted).  Non-ASCII campaign names are valid
and go end to end.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import gwsnb
from gwsnb import errors
from gwsnb.cli import main as cli_main
from gwsnb.sandbox import Sandbox
from tests.chains import ChainIndex, record_keys

from .conftest import Recorder


def _rest_requests(sb: Sandbox) -> int:
    return sum(n for key, n in sb.request_counts().items() if "/notifications" not in key)


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, timeout=10.0) as c:
        yield c


def _call(client: gwsnb.GwsClient, sb: Sandbox, **override: Any) -> Callable[[], Any]:
    kwargs: dict[str, Any] = {"record_handle": sb.record_handles[0], "campaign_name": sb.campaign_name,
                              "application_id": sb.application_id}
    kwargs.update(override)
    handle = kwargs.pop("record_handle")
    return lambda: client.get_chained_record(handle, **kwargs)


def _bulk(client: gwsnb.GwsClient, sb: Sandbox, **override: Any) -> Callable[[], Any]:
    kwargs: dict[str, Any] = {"handles": sb.record_handles[:2], "campaign_name": sb.campaign_name,
                              "application_id": sb.application_id, "progress": False}
    kwargs.update(override)
    handles = kwargs.pop("handles")
    return lambda: client.get_chained_records(handles, **kwargs)


def _connect(sb: Sandbox, **override: Any) -> Callable[[], Any]:
    kwargs: dict[str, Any] = {"url": sb.url, "username": sb.username, "password": sb.password, "timeout": 5.0}
    kwargs.update(override)
    return lambda: gwsnb.connect(**kwargs).close()


# (entry point, case, field, thunk factory)
CLIENT_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("record_handle", "wrong type (float)", {"record_handle": 7.0}),
    ("record_handle", "wrong type (list)", {"record_handle": [7]}),
    ("record_handle", "wrong type (bool)", {"record_handle": True}),
    ("record_handle", "empty string", {"record_handle": ""}),
    ("record_handle", "negative", {"record_handle": -5}),
    ("record_handle", "zero", {"record_handle": 0}),
    ("record_handle", "huge (2**31)", {"record_handle": 2**31}),
    ("record_handle", "huge (10**30)", {"record_handle": 10**30}),
    ("record_handle", "injection '7; DROP TABLE'", {"record_handle": "7; DROP TABLE"}),
    ("record_handle", "path traversal '../7'", {"record_handle": "../7"}),
    ("campaign_name", "empty string", {"campaign_name": ""}),
    ("campaign_name", "only spaces", {"campaign_name": "   "}),
    ("campaign_name", "wrong type (int)", {"campaign_name": 42}),
    ("campaign_name", "None", {"campaign_name": None}),
    ("campaign_name", "control characters", {"campaign_name": "Camp\x00aign"}),
    ("campaign_name", "too long (256)", {"campaign_name": "c" * 256}),
    ("application_id", "negative", {"application_id": -1}),
    ("application_id", "string 'abc'", {"application_id": "abc"}),
    ("application_id", "huge (2**40)", {"application_id": 2**40}),
    ("device_path", "traversal '/devices/../x'", {"device_path": "/devices/../x"}),
    ("device_path", "no prefix 'devices/x'", {"device_path": "devices/x"}),
    ("device_path", "'<script>'", {"device_path": "<script>alert(1)</script>"}),
    ("device_path", "empty string", {"device_path": ""}),
    ("device_path", "query string '/devices/x?y=1'", {"device_path": "/devices/x?y=1"}),
    ("device_path", "wrong type (int)", {"device_path": 7}),
    ("reference_id", "empty string", {"reference_id": ""}),
    ("reference_id", "wrong type (float)", {"reference_id": 1.5}),
    ("reference_id", "newline injection", {"reference_id": "ref\r\nX-Evil: 1"}),
    ("timeout", "negative", {"timeout": -1}),
    ("timeout", "NaN", {"timeout": float("nan")}),
    ("timeout", "infinite", {"timeout": float("inf")}),
    ("timeout", "string", {"timeout": "10"}),
]

BULK_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("record_handles", "empty list", {"handles": []}),
    ("record_handles", "empty string", {"handles": ""}),
    ("record_handles", "bad token '7, x'", {"handles": "7, x"}),
    ("record_handles", "reversed range '9-3'", {"handles": "9-3"}),
    ("record_handles", "negative '-4'", {"handles": [-4]}),
    ("record_handles", "huge '99999999999'", {"handles": "99999999999"}),
    ("record_handles", "injection '7; DROP TABLE'", {"handles": "7; DROP TABLE"}),
    ("record_handles", "too many '1-2000000'", {"handles": "1-2000000"}),
    ("campaign_name", "empty string", {"campaign_name": ""}),
    ("concurrency", "zero", {"concurrency": 0}),
    ("retries", "negative", {"retries": -1}),
    ("device_path", "traversal '/devices/../x'", {"device_path": "/devices/../x"}),
]

CONNECT_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("url", "empty string", {"url": ""}),
    ("url", "not a URL", {"url": "not a url"}),
    ("url", "ftp scheme", {"url": "ftp://127.0.0.1/api/v2"}),
    ("url", "javascript: scheme", {"url": "javascript:alert(1)"}),
    ("url", "credentials in the URL", {"url": "http://agent:secret@127.0.0.1/api/v2"}),
    ("url", "wrong type (int)", {"url": 8090}),
    ("username", "empty string", {"username": ""}),
    ("username", "wrong type (None)", {"username": None}),
    ("password", "wrong type (int)", {"password": 1234}),
    ("timeout", "zero", {"timeout": 0}),
    ("notifications_path", "no leading slash", {"notifications_path": "notifications"}),
]


def _refused(sb: Sandbox, thunk: Callable[[], Any], field: str) -> errors.InvalidParameterError:
    before = _rest_requests(sb)
    with pytest.raises(errors.InvalidParameterError) as info:
        thunk()
    assert info.value.field == field, (info.value.field, str(info.value))
    assert field in str(info.value)
    assert _rest_requests(sb) == before, "a request reached the server"
    return info.value


@pytest.mark.parametrize(("field", "case", "override"), CLIENT_CASES, ids=[f"{f}:{c}" for f, c, _ in CLIENT_CASES])
def test_client_call_refuses(field: str, case: str, override: dict[str, Any], sb: Sandbox,
                             client: gwsnb.GwsClient, reliability: Recorder) -> None:
    _refused(sb, _call(client, sb, **override), field)
    reliability.record("bad input refused before sending: get_chained_record", tried=1, survived=1)


@pytest.mark.parametrize(("field", "case", "override"), CLIENT_CASES[:6],
                         ids=[f"{f}:{c}" for f, c, _ in CLIENT_CASES[:6]])
async def test_async_call_refuses(field: str, case: str, override: dict[str, Any], sb: Sandbox,
                                  client: gwsnb.GwsClient) -> None:
    kwargs: dict[str, Any] = {"record_handle": sb.record_handles[0], "campaign_name": sb.campaign_name,
                              "application_id": sb.application_id}
    kwargs.update(override)
    handle = kwargs.pop("record_handle")
    before = _rest_requests(sb)
    with pytest.raises(errors.InvalidParameterError) as info:
        await client.get_chained_record_async(handle, **kwargs)
    assert info.value.field == field
    assert _rest_requests(sb) == before


@pytest.mark.parametrize(("field", "case", "override"), BULK_CASES, ids=[f"{f}:{c}" for f, c, _ in BULK_CASES])
def test_bulk_refuses(field: str, case: str, override: dict[str, Any], sb: Sandbox, client: gwsnb.GwsClient,
                      reliability: Recorder) -> None:
    _refused(sb, _bulk(client, sb, **override), field)
    reliability.record("bad input refused before sending: get_chained_records (bulk)", tried=1, survived=1)


@pytest.mark.parametrize(("field", "case", "override"), CONNECT_CASES,
                         ids=[f"{f}:{c}" for f, c, _ in CONNECT_CASES])
def test_connect_refuses(field: str, case: str, override: dict[str, Any], sb: Sandbox,
                         reliability: Recorder) -> None:
    error = _refused(sb, _connect(sb, **override), field)
    assert "secret" not in str(error) and sb.password not in str(error).replace("password", "")
    reliability.record("bad input refused before sending: connect", tried=1, survived=1)


CLI_CASES: list[tuple[str, str, list[str]]] = [
    ("--handles", "bad token", ["--handles", "7,x"]),
    ("--handles", "negative", ["--handles", "-5"]),
    ("--handles", "injection", ["--handles", "7; DROP TABLE"]),
    ("--application-id", "not a number", ["--application-id", "abc"]),
    ("--campaign", "empty", ["--campaign", ""]),
    ("--device", "traversal", ["--device", "/devices/../x"]),
    ("--url", "ftp scheme", ["--url", "ftp://127.0.0.1/api/v2"]),
    ("--timeout", "negative", ["--timeout", "-3"]),
    ("--concurrency", "zero", ["--concurrency", "0"]),
]


@pytest.mark.parametrize(("option", "case", "args"), CLI_CASES, ids=[f"{o}:{c}" for o, c, _ in CLI_CASES])
def test_cli_refuses(option: str, case: str, args: list[str], sb: Sandbox, monkeypatch: pytest.MonkeyPatch,
                     reliability: Recorder) -> None:
    monkeypatch.setenv("RELIABILITY_PW", sb.password)
    base = {"--url": sb.url, "--user": sb.username, "--campaign": sb.campaign_name,
            "--application-id": str(sb.application_id), "--handles": str(sb.record_handles[0])}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["chained-records", "--password-env", "RELIABILITY_PW", "--no-progress"]
    for key, value in base.items():
        argv += [key, value] if not value.startswith("-") else [f"{key}={value}"]
    for key, value in zip(args[::2], args[1::2], strict=True):
        if key not in base:
            argv += [f"{key}={value}"]
    before = _rest_requests(sb)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli_main(argv)
        except SystemExit as exc:
            code = exc.code  # type: ignore[assignment]
    assert code == 2, err.getvalue()
    assert option in err.getvalue(), err.getvalue()
    assert _rest_requests(sb) == before
    reliability.record("bad input refused before sending: gwsnb chained-records (CLI)", tried=1, survived=1)


FORM_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("record_handles", "bad token", {"record_handles": "7, x"}),
    ("record_handles", "empty", {"record_handles": ""}),
    ("record_handles", "injection", {"record_handles": "7; DROP TABLE"}),
    ("campaign_name", "empty", {"campaign_name": ""}),
    ("campaign_name", "control characters", {"campaign_name": "a\nb"}),
    ("application_id", "negative", {"application_id": -3}),
    ("device_path", "traversal", {"device_path": "/devices/../x"}),
    ("timeout", "negative", {"timeout": -1.0}),
]


@pytest.mark.parametrize(("field", "case", "values"), FORM_CASES, ids=[f"{f}:{c}" for f, c, _ in FORM_CASES])
def test_form_refuses(field: str, case: str, values: dict[str, Any], sb: Sandbox, client: gwsnb.GwsClient,
                      reliability: Recorder) -> None:
    from gwsnb.widgets import ChainedRecordForm

    form = ChainedRecordForm(client, campaign_name=sb.campaign_name, application_id=sb.application_id,
                             record_handles=str(sb.record_handles[0]))
    before = _rest_requests(sb)
    with pytest.raises(errors.InvalidParameterError) as info:
        form.set_params(**values)
        form.submit()
    assert info.value.field == field
    assert _rest_requests(sb) == before
    assert form.results == []
    reliability.record("bad input refused before sending: ChainedRecordForm", tried=1, survived=1)


@pytest.mark.parametrize("campaign", ["Kampagne Ünïcødé", "活動キャンペーン", "Кампания №1", "حملة 🚀"])
def test_non_ascii_campaign_names_work_end_to_end(campaign: str, reliability: Recorder) -> None:
    with Sandbox(chains=10, seed=2, campaign_name=campaign) as own, \
            gwsnb.connect(own.url, own.username, own.password, timeout=10.0) as c:
        handle = own.record_handles[0]
        result = c.get_chained_record(handle, campaign_name=campaign, application_id=own.application_id)
        ok = record_keys(result.records) == ChainIndex(own).keys(handle)
        assert ok
        assert result.campaign_name == campaign
        assert {r["campaignName"] for r in result.records} == {campaign}
        batch = c.get_chained_records(own.record_handles[:3], campaign_name=campaign,
                                      application_id=own.application_id, progress=False)
        assert batch.ok
        frame = batch.records_frame()
        assert set(frame["campaign_name"].astype(str)) == {campaign}
    reliability.record("non-ASCII campaign names end to end", tried=4, survived=int(ok) + len(batch.results))


def test_injection_looking_campaign_is_sent_as_data(sb: Sandbox, client: gwsnb.GwsClient,
                                                    reliability: Recorder) -> None:
    """A campaign name is free text: markup or SQL in it is valid input, sent as JSON data, and the server's
    verdict (unknown campaign) comes back typed."""
    tried = 0
    for name in ("7; DROP TABLE campaigns", "<script>alert(1)</script>", "' OR '1'='1"):
        tried += 1
        with pytest.raises(errors.ChainedRecordError) as info:
            client.get_chained_record(sb.record_handles[0], campaign_name=name, application_id=sb.application_id)
        assert info.value.error_code == 102
    reliability.record("injection-looking campaign names: sent as data, typed server error", tried=tried,
                       survived=tried)


def test_table_has_at_least_20_cases() -> None:
    assert len(CLIENT_CASES) + len(BULK_CASES) + len(CONNECT_CASES) + len(CLI_CASES) + len(FORM_CASES) >= 20
