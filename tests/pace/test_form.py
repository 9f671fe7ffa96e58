"""The form's pace fields (composed from gwsnb.Pace): filled from a pace, read back checked, used by a click."""

from __future__ import annotations

import dataclasses

import gwsnb
from gwsnb.errors import InvalidParameterError
from gwsnb.sandbox import Sandbox
from gwsnb.widgets import ChainedRecordForm

WAIT_S = 30.0


def new_form(sb: Sandbox, client: gwsnb.GwsClient, **kwargs: object) -> ChainedRecordForm:
    form = ChainedRecordForm(client, campaign_name=sb.campaign_name, application_id=sb.application_id,
                             timeout=5.0, **kwargs)  # type: ignore[arg-type]
    form.handles.value = "1-300"
    return form


def test_one_field_per_pace_attribute_filled_from_a_pace(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    pace = gwsnb.Pace(concurrency="auto", rate=12.5, window="20:00-07:00", tz="UTC")
    form = new_form(sb, client, pace=pace)
    assert list(form.pace_fields) == [f.name for f in dataclasses.fields(gwsnb.Pace)]
    assert form.pace_fields["rate"].value == "12.5" and form.pace_fields["max_calls"].value == ""
    assert form.pace == pace  # read back as given
    assert new_form(sb, client, max_concurrency=4).pace == gwsnb.Pace(concurrency=4)


def test_click_runs_at_the_pace_of_the_fields(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    form = new_form(sb, client)
    form.pace_fields["max_calls"].value = "7"
    form.pace_fields["rate"].value = "200"
    form.run_button.click()
    assert form.wait(WAIT_S), "the background run did not finish"
    assert sb.stats()["requests"] == 7
    assert form.batch is not None and form.batch.stopped_by == "max_calls" and form.batch.calls_sent == 7


def test_bad_pace_field_is_refused_before_sending(sb: Sandbox, client: gwsnb.GwsClient) -> None:
    form = new_form(sb, client)
    form.pace_fields["window"].value = "nightly"
    form.run_button.click()
    assert form.wait(WAIT_S)
    assert isinstance(form.error, InvalidParameterError) and form.error.field == "window"
    assert "window" in form.error_box.value and "nightly" in form.error_box.value
    assert sb.stats()["requests"] == 0 and not form.run_button.disabled
