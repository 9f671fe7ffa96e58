"""A client is read-only unless connected with allow_writes=True (or GWS_ALLOW_WRITES=1): every record
operation, blocking or async, raises WritesNotAllowedError naming allow_writes, and no request reaches the
sandbox.  Bad parameters are refused by the one validator, also before anything is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import gwsnb
from gwsnb.operations import RecordOperations
from gwsnb.sandbox import Sandbox

from .conftest import KW, LIST, rest_requests

#: every write method with arguments that would be valid
WRITES: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "start_preview_session": ((), {}),
    "end_preview_session": ((), {}),
    "get_preview_record": ((), {}),
    "complete_record": ((1,), {"calling_list": LIST, "call_result": "Busy"}),
    "reject_record": ((1,), {"calling_list": LIST}),
    "update_record": ((1,), {"phone_number": "+1"}),
    "reschedule_record": ((1,), {"callback_type": "Campaign", "timestamp": 0}),
    "do_not_call": ((1,), {"calling_list": LIST}),
    "add_record": ((), {"calling_list": LIST, "phone_number": "+1", "time_zone": "GMT", "phone_type": "Mobile",
                        "daily_from": 0, "daily_till": 1}),
}


def test_every_public_operation_is_listed() -> None:
    operations = {name for name in vars(RecordOperations) if not name.startswith("_")}
    assert operations == set(WRITES) | {f"{name}_async" for name in WRITES}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_read_only_client_sends_nothing(sb: Sandbox, reader: gwsnb.GwsClient, name: str) -> None:
    args, kwargs = WRITES[name]
    assert reader.allow_writes is False
    before = rest_requests(sb)
    with pytest.raises(gwsnb.WritesNotAllowedError, match="allow_writes=True"):
        getattr(reader, name)(*args, **KW, **kwargs)
    with pytest.raises(gwsnb.WritesNotAllowedError, match="allow_writes"):
        asyncio.run(getattr(reader, f"{name}_async")(*args, **KW, **kwargs))
    assert rest_requests(sb) == before, "a request reached the server"
    assert not any(e.channel == "/gwsnb/sent" for e in reader.event_log)


def test_the_guard_comes_before_validation(reader: gwsnb.GwsClient) -> None:
    with pytest.raises(gwsnb.WritesNotAllowedError):
        reader.complete_record(-5, campaign_name="", application_id=0, calling_list="")


@pytest.fixture()
def allow_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GWS_ALLOW_WRITES", "1")
    yield


def test_environment_allows_writes(sb: Sandbox, allow_env: None) -> None:
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0) as c:
        assert c.allow_writes is True
        assert c.start_preview_session(**KW).notification_type == "PreviewSessionStarted"
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, allow_writes=False) as c, \
            pytest.raises(gwsnb.WritesNotAllowedError):
        c.start_preview_session(**KW)


def test_allow_writes_must_be_a_bool(sb: Sandbox) -> None:
    with pytest.raises(gwsnb.InvalidParameterError, match="allow_writes"):
        gwsnb.connect(sb.url, sb.username, sb.password, allow_writes="yes")  # type: ignore[arg-type]


BAD: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    ("complete_record", (0,), {"calling_list": LIST}, "record_handle"),
    ("complete_record", (1,), {"calling_list": ""}, "calling_list"),
    ("complete_record", (1,), {"calling_list": LIST, "call_result": "Excellent"}, "call_result"),
    ("complete_record", (1,), {"calling_list": LIST, "call_result": 999}, "call_result"),
    ("complete_record", (1,), {"calling_list": LIST, "call_result": True}, "call_result"),
    ("update_record", (1,), {"phone_type": "Fax"}, "phone_type"),
    ("update_record", (1,), {"phone_type": 12}, "phone_type"),
    ("update_record", (1,), {"daily_from": 86400}, "daily_from"),
    ("update_record", (1,), {"daily_till": -1}, "daily_till"),
    ("update_record", (1,), {"phone_number": "x" * 129}, "phone_number"),
    ("update_record", (1,), {"time_zone": "\x00"}, "time_zone"),
    ("reschedule_record", (1,), {"callback_type": "personal", "timestamp": 0}, "callback_type"),
    ("reschedule_record", (1,), {"callback_type": "Campaign", "timestamp": -1}, "timestamp"),
    ("reschedule_record", (1,), {"callback_type": "Campaign", "timestamp": 1.5}, "timestamp"),
    ("do_not_call", (1,), {}, "calling_list"),
    ("do_not_call", (None,), {}, "phone_number"),
    ("do_not_call", (1,), {"calling_list": LIST, "chain": "yes"}, "chain"),
    ("add_record", (), {"calling_list": LIST, "phone_number": "+1", "time_zone": "GMT", "phone_type": "Mobile",
                        "daily_from": 0, "daily_till": None}, "daily_till"),
    ("add_record", (), {"calling_list": LIST, "phone_number": "+1", "time_zone": "GMT", "phone_type": "Mobile",
                        "daily_from": 0, "daily_till": 1, "chain_id": "x"}, "chain_id"),
    ("add_record", (), {"calling_list": LIST, "phone_number": "+1", "time_zone": "GMT", "phone_type": "Mobile",
                        "daily_from": 0, "daily_till": 1, "other_fields": {"a": [1]}}, "other_fields"),
    ("get_preview_record", (), {"reference_id": {"x": 1}}, "reference_id"),
    ("get_preview_record", (), {"timeout": 0}, "timeout"),
    ("start_preview_session", (), {"device_path": "devices/1"}, "device_path"),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "field"), BAD, ids=[f"{b[0]}-{b[3]}-{i}" for i, b in enumerate(BAD)])
def test_bad_parameters_are_refused_before_sending(sb: Sandbox, client: gwsnb.GwsClient, name: str,
                                                   args: tuple[Any, ...], kwargs: dict[str, Any], field: str) -> None:
    before = rest_requests(sb)
    with pytest.raises(gwsnb.InvalidParameterError) as caught:
        getattr(client, name)(*args, **{**KW, **kwargs})
    assert caught.value.field.startswith(field)
    assert rest_requests(sb) == before


def test_naive_datetime_is_refused(client: gwsnb.GwsClient) -> None:
    from datetime import datetime

    with pytest.raises(gwsnb.InvalidParameterError, match="naive"):
        client.reschedule_record(1, callback_type="Campaign", timestamp=datetime(2030, 1, 1), **KW)
