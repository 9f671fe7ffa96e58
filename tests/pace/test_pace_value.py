"""gwsnb.Pace: one frozen, checked value for the pace of a run; the shortcuts of the bulk API; the windows'
arithmetic (on a given clock, no waiting)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import gwsnb
from gwsnb.errors import InvalidParameterError
from gwsnb.pace import Pace, parse_windows, resolve_pace


def test_defaults_and_frozen() -> None:
    pace = gwsnb.Pace()
    assert (pace.concurrency, pace.max_concurrency, pace.rate, pace.max_calls, pace.window) == (16, 64, None, None, None)
    assert pace.workers == 16 and not pace.auto
    with pytest.raises(dataclasses.FrozenInstanceError):
        pace.rate = 5  # type: ignore[misc]


def test_auto_runs_up_to_its_ceiling() -> None:
    pace = Pace(concurrency="auto", max_concurrency=32)
    assert pace.auto and pace.workers == 32
    assert Pace(concurrency=" AUTO ").concurrency == "auto"
    assert Pace(concurrency=100).max_concurrency == 100  # a fixed concurrency above the ceiling raises it


@pytest.mark.parametrize(("field", "value"), [
    ("concurrency", 0), ("concurrency", "fast"), ("concurrency", 2.5), ("concurrency", True), ("concurrency", 1025),
    ("max_concurrency", 0), ("rate", 0), ("rate", -1), ("rate", float("nan")), ("rate", "50"), ("rate", True),
    ("max_calls", 0), ("max_calls", 1.5), ("window", "20:00"), ("window", "25:00-07:00"), ("window", "08:00-08:00"),
    ("window", "8h-9h"), ("window", 2000), ("window", "08:00-09:00,"), ("tz", "Mars/Olympus"), ("tz", ""),
    ("breaker_window", 1), ("breaker_threshold", 0), ("breaker_threshold", 1.5),
])
def test_bad_values_name_field_and_value(field: str, value: object) -> None:
    with pytest.raises(InvalidParameterError) as info:
        Pace(**{field: value})  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.value is value


def test_digit_strings_as_typed_in_a_form() -> None:
    pace = Pace(concurrency="8", max_calls="1000")  # type: ignore[arg-type]
    assert pace.concurrency == 8 and pace.max_calls == 1000


def test_shortcuts_fill_the_default_and_refuse_a_contradiction() -> None:
    assert resolve_pace(None, concurrency=8, rate=50, max_calls=None) == Pace(concurrency=8, rate=50)
    night = Pace(rate=20, window="20:00-07:00")
    assert resolve_pace(night, concurrency="auto").auto  # the pace left concurrency at its default
    assert resolve_pace(night, rate=20).rate == 20  # the same value is no contradiction
    with pytest.raises(InvalidParameterError, match="contradicts pace.rate=20"):
        resolve_pace(night, rate=50)
    with pytest.raises(InvalidParameterError) as info:
        resolve_pace({"rate": 5})
    assert info.value.field == "pace"


def test_windows_parse_with_seconds_and_several() -> None:
    windows = parse_windows("20:00-07:00, 12:00:30-13:00")
    assert [(w.start, w.end) for w in windows] == [(72000, 25200), (43230, 46800)]
    assert str(windows[0]) == "20:00–07:00" and str(windows[1]) == "12:00:30–13:00"


def test_a_night_window_open_and_next_opening() -> None:
    zone = ZoneInfo("Europe/Paris")
    pace = Pace(window="20:00-07:00", tz="Europe/Paris")
    at = dt.datetime(2026, 3, 10, 21, 30, tzinfo=zone)
    assert pace.open_until(at) == dt.datetime(2026, 3, 11, 7, 0, tzinfo=zone)
    early = dt.datetime(2026, 3, 11, 6, 59, tzinfo=zone)  # the window that opened yesterday
    assert pace.open_until(early) == dt.datetime(2026, 3, 11, 7, 0, tzinfo=zone)
    noon = dt.datetime(2026, 3, 11, 12, 0, tzinfo=zone)
    assert pace.open_until(noon) is None
    assert pace.next_opening(noon) == dt.datetime(2026, 3, 11, 20, 0, tzinfo=zone)
    assert pace.next_opening(at) == at


def test_window_across_a_change_of_clock_keeps_wall_time() -> None:
    """The night the clocks go forward in Paris (29 March 2026), 20:00-07:00 still ends at 07:00 local."""
    zone = ZoneInfo("Europe/Paris")
    pace = Pace(window="20:00-07:00", tz="Europe/Paris")
    end = pace.open_until(dt.datetime(2026, 3, 28, 23, 0, tzinfo=zone))
    assert end is not None and (end.hour, end.minute) == (7, 0) and end.utcoffset() == dt.timedelta(hours=2)


def test_no_window_is_always_open() -> None:
    assert Pace().open_until(dt.datetime(2026, 1, 1, 3, 0)) is not None


def test_describe_names_the_settings() -> None:
    text = Pace(concurrency="auto", rate=50, max_calls=1000, window="20:00-07:00", tz="UTC").describe()
    assert text == "concurrency auto (max 64) · rate 50/s · max 1,000 calls · window 20:00–07:00 (UTC)"


def test_bulk_api_refuses_bad_pace_before_sending(client: gwsnb.GwsClient, sb: gwsnb.Sandbox) -> None:
    for kwargs, field in (({"rate": -5}, "rate"), ({"max_calls": 0}, "max_calls"), ({"concurrency": "x"}, "concurrency"),
                          ({"pace": "fast"}, "pace")):
        with pytest.raises(InvalidParameterError) as info:
            client.get_chained_records([1, 2], campaign_name=sb.campaign_name, application_id=sb.application_id,
                                       progress=False, **kwargs)
        assert info.value.field == field
    assert sb.stats()["requests"] == 0
