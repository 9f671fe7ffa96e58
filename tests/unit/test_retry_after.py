"""``Retry-After`` (RFC 9110 §10.2.3) read by gwsnb/_wire/rest.py: delta-seconds or an HTTP-date."""

from __future__ import annotations

import calendar

import pytest

from gwsnb._wire.rest import parse_retry_after

#: 1994-11-06 08:49:37 GMT, RFC 9110's example instant
INSTANT = calendar.timegm((1994, 11, 6, 8, 49, 37))


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), (" 0 ", 0.0), ("1.5", 1.5), ("007", 7.0)])
def test_delta_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize("value", [
    "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
    "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850 form
    "Sun Nov  6 08:49:37 1994",  # obsolete asctime form (GMT by definition)
])
def test_http_dates_in_every_form_a_recipient_must_read(value: str) -> None:
    assert parse_retry_after(value, now=INSTANT - 30) == pytest.approx(30.0)


def test_a_date_in_the_past_means_now() -> None:
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now=INSTANT + 5) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "inf", "nan", "Sun, 99 Foo 1994"])
def test_absent_or_unreadable_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None
