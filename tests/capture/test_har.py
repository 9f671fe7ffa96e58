"""The small parts of the HAR reader: start times, headers, body decoding, session hashes."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest

from gwsnb._capture.har import Headers, decode_body, parse_started, value_hash


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01T10:00:00.123Z", datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)),       # Chrome
    ("2024-05-01T10:00:00.123456Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)),    # gwsnb
    ("2024-05-01T12:00:00.123+02:00", datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)),  # Firefox
    ("2024-05-01T08:00:00.5-0200", datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=timezone.utc)),
    ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)),
    ("2024-05-01T10:00:00.123456789Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)),
    ("2024-05-01T10:00:00.123", datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)),  # no zone: UTC
    ("2024-13-01T10:00:00.123Z", None), ("yesterday", None), (None, None), (1714557600, None),
])
def test_start_times(text: object, expected: datetime | None) -> None:
    assert parse_started(text) == expected


def test_headers_are_a_case_insensitive_multi_map() -> None:
    headers = Headers.from_har([{"name": "Set-Cookie", "value": "a=1"}, {"name": "set-cookie", "value": "b=2"},
                                {"name": "X-CSRF-TOKEN", "value": "t"}, {"value": "no name"}, "junk"])
    assert headers.getall("SET-COOKIE") == ["a=1", "b=2"] and headers.get("x-csrf-token") == "t"
    assert "x-Csrf-Token" in headers and "Cookie" not in headers and len(headers) == 3
    pool: dict[tuple[str, str], tuple[str, str]] = {}
    first = Headers.from_har([{"name": "Accept", "value": "*/*"}], pool)
    second = Headers.from_har([{"name": "Accept", "value": "*/*"}], pool)
    assert first.items()[0] is second.items()[0]  # one tuple shared between entries


def test_bodies_text_base64_and_binary() -> None:
    assert decode_body("plain", None) == ("plain", False)
    assert decode_body(base64.b64encode("é[]".encode()).decode(), "base64") == ("é[]", False)
    assert decode_body(base64.b64encode(b"\xff\xfe\x00").decode(), "base64") == (None, True)
    assert decode_body(None, None) == (None, False)


def test_a_placeholder_keeps_the_hash_of_the_value_it_replaced() -> None:
    value = "0123456789ABCDEF0123456789ABCDEF"
    assert value_hash(value) == value_hash(value) and len(value_hash(value)) == 8
    assert value_hash(f"gwsnb-redacted-jsessionid-{value_hash(value)}") == value_hash(value)
    assert value_hash("another") != value_hash(value)
