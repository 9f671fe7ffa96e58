"""The clock estimator: each notification bounds the server's offset; intervals intersect, never invert."""

from __future__ import annotations

import random

from gwsnb._engine.clock import ClockEstimator, ClockOffset, offset_from_date_header


def test_no_sample_no_offset() -> None:
    assert ClockEstimator().offset is None


def test_intervals_intersect_around_the_true_offset() -> None:
    rng = random.Random(7)
    true_offset_ms = 90_000.0
    clock = ClockEstimator()
    for i in range(50):
        sent = 1_700_000_000.0 + i
        generated_ours = sent + rng.uniform(0.0005, 0.02)
        received = generated_ours + rng.uniform(0.0005, 0.02)
        clock.add(sent, received, generated_ours * 1000 + true_offset_ms)
    offset = clock.offset
    assert offset is not None and offset.samples == 50
    assert offset.contains(true_offset_ms)
    assert offset.width_ms < 5  # narrows to about the shortest round trip
    assert "ahead of ours" in offset.describe()


def test_a_sample_outside_the_interval_restarts_the_estimate() -> None:
    clock = ClockEstimator()
    clock.add(100.0, 100.01, 100_005.0)
    clock.add(200.0, 200.01, 190_005.0)  # the server's clock stepped back 10 s
    offset = clock.offset
    assert offset is not None
    assert (offset.samples, offset.resets) == (1, 1)
    assert offset.contains(-9995.0)


def test_delivery_delay_is_an_interval_that_is_never_negative() -> None:
    clock = ClockEstimator()
    clock.add(10.0, 10.004, 10_002.0)
    offset = clock.offset
    assert offset is not None
    low, high = offset.delay_ms(10_002.0, 10.004)
    assert 0.0 <= low <= high <= 4.0 + 1.0 + 1e-9  # the round trip, plus the timestamp's 1 ms resolution


def test_a_reply_before_its_request_is_ignored() -> None:
    clock = ClockEstimator()
    clock.add(10.0, 9.0, 9_500.0)
    assert clock.offset is None


def test_describe_says_when_the_offset_cannot_be_told() -> None:
    assert "cannot be told" in ClockOffset(-3000, 3000, 1).describe()
    assert "agrees with ours" in ClockOffset(-2, 3, 9).describe()
    assert "behind ours" in ClockOffset(-1500, -1400, 9).describe()


def test_date_header_gives_a_one_second_cross_check() -> None:
    # sent and received within the same second as the server's Date, which is 90 s ahead
    sent = 1_700_000_000.2
    date = "Tue, 14 Nov 2023 22:14:50 GMT"  # 1_700_000_090
    offset = offset_from_date_header(sent, sent + 0.1, date)
    assert offset is not None and offset.contains(89_900.0)
    assert offset_from_date_header(sent, sent, "not a date") is None
