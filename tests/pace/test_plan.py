"""The plan: its call estimate against the calls the run then makes (each chain once, on the sandbox's
generated lists), the sample's cost, the duration and the windows the run falls in."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest

import gwsnb
from gwsnb.plan import schedule
from gwsnb.sandbox import Sandbox

from .conftest import all_handles, target


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_call_estimate_within_10_percent_of_the_run(client: gwsnb.GwsClient, sb: Sandbox, share: float) -> None:
    handles = all_handles(sb)
    if share < 1:
        handles = sorted(random.Random(3).sample(handles, int(len(handles) * share)))
    plan = client.plan(handles, **target(sb), sample=200, seed=1)
    assert sb.stats()["requests"] == 200 == plan.sampled  # the sample is all it called
    sb.reset_stats()
    batch = client.get_chained_records(handles, **target(sb), progress=False)
    made = sb.stats()["requests"]
    assert made == batch.calls_sent and batch.ok
    assert abs(plan.calls - made) / made <= 0.10, (plan.calls, made)
    assert plan.calls <= plan.calls_high
    # the plain "handles / mean chain size" would be far off: a handle drawn at random sits in long chains
    assert plan.mean_chain is not None and abs(len(handles) / plan.mean_chain - made) / made > 0.10


def test_plan_with_rate_budget_and_nothing_sampled(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    handles = all_handles(sb)
    plan = client.plan(handles, **target(sb), rate=50, max_calls=1000, sample=0)
    assert sb.stats()["requests"] == 0
    assert plan.calls == len(handles) and plan.stops_at == 1000
    assert plan.duration_s == pytest.approx(1000 / 50)
    assert len(plan.spans) == 1 and plan.pauses == []
    data = plan.to_dict()
    assert data["rate"] == 50 and data["calls"] == len(handles) and data["duration_s"] == pytest.approx(20.0)
    text = str(plan)
    assert "stops after 1,000 calls" in text and "~20 s of sending at ~50 calls/s" in text
    assert "<table>" in plan._repr_html_()


def test_plan_refuses_bad_arguments_before_sending(client: gwsnb.GwsClient, sb: Sandbox) -> None:
    for kwargs, field in (({"sample": -1}, "sample"), ({"rate": 0}, "rate"), ({"every_handle": "yes"}, "every_handle")):
        with pytest.raises(gwsnb.InvalidParameterError) as info:
            client.plan(all_handles(sb), **target(sb), **kwargs)
        assert info.value.field == field
    assert sb.stats()["requests"] == 0


def test_schedule_through_night_windows() -> None:
    zone = ZoneInfo("UTC")
    pace = gwsnb.Pace(window="20:00-07:00", tz="UTC")
    noon = dt.datetime(2026, 5, 4, 12, 0, tzinfo=zone)
    spans = schedule(pace, 12 * 3600, noon)  # 12 h of sending in 11-h nights
    assert spans == [(dt.datetime(2026, 5, 4, 20, 0, tzinfo=zone), dt.datetime(2026, 5, 5, 7, 0, tzinfo=zone)),
                     (dt.datetime(2026, 5, 5, 20, 0, tzinfo=zone), dt.datetime(2026, 5, 5, 21, 0, tzinfo=zone))]
    inside = dt.datetime(2026, 5, 4, 22, 0, tzinfo=zone)
    assert schedule(pace, 600, inside) == [(inside, inside + dt.timedelta(minutes=10))]
