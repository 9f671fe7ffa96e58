"""The notebook summary of one result shows readable labels and says when DataEnd never came."""

from __future__ import annotations

import time

from gwsnb import labels
from gwsnb.results import CallTimings, ChainedRecordResult


def _result(end: dict | None) -> ChainedRecordResult:
    record = {"recordHandle": 7, "userData": {"chain_n": 0, "contact_info": "+12145550133",
                                              "record_status": 2, "call_result": 77, "attempt": 1}}
    now = time.time()
    return ChainedRecordResult("ref-1", 7, "Campaign1", 134, "/devices/d1",
                               CallTimings(sent=now, http_answered=now + 0.002, data_end=now + 0.005),
                               records=[record], end=end)


def test_html_summary_labels_codes_and_keeps_unknown_codes_as_numbers() -> None:
    html = _result({"notificationType": "ChainedRecordsDataEnd"})._repr_html_()
    assert f"<td>{labels.DEFAULT.label('record_status', 2)}</td>" in html
    assert labels.DEFAULT.label("record_status", 2) != "2"
    assert "<td>77</td>" in html  # no label for 77: the number stays
    assert "+12145550133" in html
    assert "incomplete" not in html


def test_html_summary_and_repr_flag_a_missing_data_end() -> None:
    result = _result(None)
    assert "incomplete" in result._repr_html_()
    assert "incomplete" in repr(result)
    assert not result.complete
