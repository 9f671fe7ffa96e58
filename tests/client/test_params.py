"""The shared validator (client, form, CLI) and the error tree."""

from __future__ import annotations

from typing import Any

import pytest

from gwsnb import errors
from gwsnb.params import ChainedRecordParams, parse_handles


def test_parse_handles_ranges_dedupe_and_order() -> None:
    assert parse_handles("7, 9, 20-23 9 7") == [7, 9, 20, 21, 22, 23]
    assert parse_handles(7) == [7]
    assert parse_handles([3, "4-5", 3]) == [3, 4, 5]


@pytest.mark.parametrize(("text", "token"), [
    ("7,x", "x"), ("30-20", "30-20"), ("0", "0"), ("20-", "20-"), ("-3", "-3"), ("", ""),
])
def test_parse_handles_names_field_and_token(text: str, token: str) -> None:
    with pytest.raises(errors.InvalidParameterError) as info:
        parse_handles(text)
    assert info.value.field == "record_handles"
    assert info.value.value == token


def test_parse_handles_is_bounded() -> None:
    with pytest.raises(errors.InvalidParameterError, match="more than"):
        parse_handles("1-200000")
    assert len(parse_handles("1-100000")) == 100_000


@pytest.mark.parametrize(("field", "value"), [
    ("record_handle", 2**31), ("record_handle", 7.0), ("record_handle", "7a"), ("campaign_name", " "),
    ("campaign_name", "x" * 256), ("campaign_name", 5), ("application_id", False), ("device_path", "/devices/a b"),
    ("reference_id", ""), ("reference_id", True), ("timeout", float("nan")), ("timeout", -1),
])
def test_validate_names_the_bad_field(field: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"record_handle": 7, "campaign_name": "Campaña 1", "application_id": 134}
    kwargs[field] = value
    with pytest.raises(errors.InvalidParameterError) as info:
        ChainedRecordParams(**kwargs).validate()
    assert info.value.field == field
    assert info.value.value is value


def test_validate_normalises_digit_strings() -> None:
    p = ChainedRecordParams(" 7 ", "Campaña", "134", "/devices/c259-da54", 12, 3).validate()
    assert (p.record_handle, p.application_id, p.reference_id, p.timeout) == (7, 134, 12, 3.0)


def test_status_error_factory_and_tree() -> None:
    exc = errors.status_error({"statusCode": 6, "statusMessage": "no such device"}, http_status=200)
    assert type(exc) is errors.NotFoundError and exc.status_code == 6 and exc.http_status == 200
    auth = errors.status_error({"statusCode": 20, "statusMessage": "Access denied"})
    assert isinstance(auth, errors.AuthenticationError) and isinstance(auth, errors.GwsStatusError)
    assert type(errors.status_error({"statusCode": 13})) is errors.GwsStatusError
    assert issubclass(errors.NotificationTimeout, TimeoutError)
    assert issubclass(errors.InvalidParameterError, ValueError)
