"""Each invalid GetChainedRecord input gets the contract's statusCode and a message naming the field,
and the sandbox keeps serving afterwards (docs/gws-flow.md#getchainedrecord-the-request-and-its-http-answer)."""

from __future__ import annotations

from typing import Any

import pytest

from gwsnb.sandbox import Sandbox

from .conftest import DROP, RawGws

GOOD_HANDLE = "1"


CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    # id, handle in URL, body overrides, statusCode, words the message must hold
    ("missing applicationId", GOOD_HANDLE, {"applicationId": DROP}, 1, "applicationId"),
    ("missing devicePath", GOOD_HANDLE, {"devicePath": DROP}, 1, "devicePath"),
    ("missing campaignName", GOOD_HANDLE, {"campaignName": DROP}, 1, "campaignName"),
    ("missing operationName", GOOD_HANDLE, {"operationName": DROP}, 1, "operationName"),
    ("null applicationId", GOOD_HANDLE, {"applicationId": None}, 1, "applicationId"),
    ("string applicationId", GOOD_HANDLE, {"applicationId": "abc"}, 10, "applicationId must be an integer, got 'abc'"),
    ("float applicationId", GOOD_HANDLE, {"applicationId": 1.5}, 10, "applicationId"),
    ("bool applicationId", GOOD_HANDLE, {"applicationId": True}, 10, "applicationId"),
    ("negative applicationId", GOOD_HANDLE, {"applicationId": -1}, 10, "applicationId"),
    ("numeric devicePath", GOOD_HANDLE, {"devicePath": 5}, 10, "devicePath"),
    ("list campaignName", GOOD_HANDLE, {"campaignName": ["Campaign1"]}, 10, "campaignName"),
    ("empty campaignName", GOOD_HANDLE, {"campaignName": " "}, 10, "campaignName"),
    ("object referenceId", GOOD_HANDLE, {"referenceId": {"a": 1}}, 10, "referenceId"),
    ("numeric operationName", GOOD_HANDLE, {"operationName": 3}, 10, "operationName"),
    ("negative handle", "-1", {}, 10, "record handle"),
    ("non-numeric handle", "abc", {}, 10, "'abc'"),
    ("unknown device", GOOD_HANDLE, {"devicePath": "/devices/not-mine"}, 6, "/devices/not-mine"),
    ("unknown operation", GOOD_HANDLE, {"operationName": "MakeCoffee"}, 10, "MakeCoffee"),
    ("other outbound operation, its parameters missing", GOOD_HANDLE, {"operationName": "CompleteRecord"}, 1,
     "callingList"),
    ("collection operation on a handle", GOOD_HANDLE, {"operationName": "AddRecord"}, 10, "AddRecord"),
]


def _still_serving(peer: RawGws) -> None:
    resp = peer.get_chained_record(peer.sb.record_handles[0])
    assert resp.status_code == 200 and resp.json() == {"statusCode": 0}


@pytest.mark.parametrize(("handle", "overrides", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_parameter(gws: RawGws, handle: str, overrides: dict[str, Any], code: int, words: str) -> None:
    resp = gws.get_chained_record(handle, **overrides)
    body = resp.json()
    assert body["statusCode"] == code
    assert set(body) == {"statusCode", "statusMessage"}
    assert words in body["statusMessage"]
    assert resp.status_code == 400
    _still_serving(gws)


def test_malformed_json(gws: RawGws) -> None:
    resp = gws.http.post(
        gws.sb.url + "/me/outbound-records/1", data=b'{"operationName": ', headers={"Content-Type": "application/json"}, timeout=10
    )
    assert resp.status_code == 400
    assert resp.json()["statusCode"] == 10
    assert "JSON" in resp.json()["statusMessage"]
    _still_serving(gws)


def test_body_not_an_object(gws: RawGws) -> None:
    resp = gws.post("/me/outbound-records/1", [1, 2])
    assert resp.json()["statusCode"] == 10
    assert "JSON object" in resp.json()["statusMessage"]


def test_empty_body(gws: RawGws) -> None:
    resp = gws.http.post(gws.sb.url + "/me/outbound-records/1", data=b"", timeout=10)
    assert resp.json()["statusCode"] == 1
    assert "operationName" in resp.json()["statusMessage"]


def test_one_megabyte_body(gws: RawGws) -> None:
    big = {"operationName": "GetChainedRecord", "padding": "x" * (1024 * 1024)}
    resp = gws.post("/me/outbound-records/1", big)
    assert resp.status_code == 413
    body = resp.json()
    assert body["statusCode"] == 10
    assert "body" in body["statusMessage"] and "65536" in body["statusMessage"]
    _still_serving(gws)


def test_one_megabyte_bayeux_body(gws: RawGws) -> None:
    resp = gws.bayeux([{"channel": "/meta/handshake", "padding": "x" * (1024 * 1024)}])
    assert resp.status_code == 413
    gws.handshake()


def test_validation_happens_before_anything_is_sent(sb: Sandbox, gws: RawGws) -> None:
    gws.open()
    gws.get_chained_record(sb.record_handles[0], applicationId="abc")
    assert gws.collect_for(0.5) == []  # a rejected request produced no notification


def test_collection_and_campaign_operations_check_their_parameters(gws: RawGws) -> None:
    resp = gws.post("/me/outbound-records", {"operationName": "AddRecord"})
    assert resp.json()["statusCode"] == 1 and "applicationId" in resp.json()["statusMessage"]
    resp = gws.post("/me/outbound-campaigns/Campaign1", {"operationName": "StartPreviewSession"})
    assert resp.json()["statusCode"] == 1 and "applicationId" in resp.json()["statusMessage"]
    resp = gws.post("/me/outbound-campaigns/Campaign1", {"operationName": "CompleteRecord"})
    assert resp.json()["statusCode"] == 10 and "CompleteRecord" in resp.json()["statusMessage"]
