"""The default code labels pinned to the OCS enumerations that gwsnb documents (docs/ocs-codes.md).

The expected codes are written out here, transcribed from the protocol contract that gwsnb follows (the
OCS defaults of cfg_locale: contact_info_type in phoneType order, record_type, record_status, and the
named call_result codes), so that the test runs from the repository alone and a shifted or mistyped
table fails it. record_type was once shifted by one (2 shown as "Unknown" instead of "General"): the
``record_type`` table below is the corrected one.
"""

from __future__ import annotations

import re

import pytest

from gwsnb import labels

# contact_info_type 0-11, in the order of GWS's phoneType values (GWS spells them in CamelCase).
CONTACT_INFO_TYPE = {
    0: "NoContactType",
    1: "HomePhone",
    2: "DirectBusinessPhone",
    3: "BusinessWithExt",
    4: "Mobile",
    5: "VacationPhone",
    6: "Pager",
    7: "Modem",
    8: "VoiceMail",
    9: "PinPager",
    10: "EmailAddress",
    11: "InstantMessaging",
}

RECORD_TYPE = {
    0: "No Record Type",
    1: "Unknown",
    2: "General",
    3: "Campaign Rescheduled",
    4: "Personal Rescheduled",
    5: "Personal Callback",
    6: "Campaign Callback",
    7: "No Call",
}

RECORD_STATUS = {
    0: "No Record Status",
    1: "Ready",
    2: "Retrieved",
    3: "Updated",
    4: "Stale",
    5: "Cancelled",
    6: "Agent Error",
    7: "Chain Updated",
    8: "Missed Callback",
    9: "Chain Ready",
}

# call_result is the OCS "Call Result Types" table 0-53; these are the codes the contract names.
CALL_RESULT_NAMED = {
    0: "Ok",
    6: "Busy",
    7: "No Answer",
    9: "Answering Machine Detected",
    28: "Unknown Call Result",
    33: "Answer",
    53: "Wrong Number",
}


def _squash(label: str) -> str:
    """"E-Mail Address" and "EmailAddress" compare equal: case, blanks and hyphens ignored."""
    return re.sub(r"[\s-]", "", label).lower()


def test_the_four_code_fields_are_the_labelled_ones() -> None:
    assert labels.CODE_FIELDS == ("contact_info_type", "record_type", "record_status", "call_result")


def test_contact_info_type_follows_phone_type_order() -> None:
    table = labels.DEFAULT["contact_info_type"]
    assert sorted(table) == list(CONTACT_INFO_TYPE)
    assert {code: _squash(label) for code, label in table.items()} == {
        code: _squash(name) for code, name in CONTACT_INFO_TYPE.items()
    }


def test_record_type_is_the_corrected_table() -> None:
    assert dict(labels.DEFAULT["record_type"]) == RECORD_TYPE
    assert labels.DEFAULT.label("record_type", 2) == "General"  # an ordinary record
    assert labels.DEFAULT.label("record_type", 8) == "8"  # beyond the table: passes through as its number


def test_record_status_table() -> None:
    assert dict(labels.DEFAULT["record_status"]) == RECORD_STATUS


def test_call_result_covers_0_to_53_with_the_named_codes() -> None:
    table = labels.DEFAULT["call_result"]
    assert sorted(table) == list(range(54))
    assert {code: table[code] for code in CALL_RESULT_NAMED} == CALL_RESULT_NAMED
    assert len(set(table.values())) == len(table)  # no two codes share a default label


@pytest.mark.parametrize("field", labels.CODE_FIELDS)
def test_the_process_wide_labels_start_as_the_defaults(field: str) -> None:
    assert dict(labels.current()[field]) == dict(labels.DEFAULT[field])
