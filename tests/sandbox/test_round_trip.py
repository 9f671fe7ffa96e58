"""A full GetChainedRecord round trip driven by plain HTTP Bayeux messages written here (no client library).

The DataEnd pair is checked field by field, types included, against the documented sample
``docs/samples/get_chained_record.connect_response.json``; each ChainedRecord against ``sb.calling_list``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gwsnb.sandbox import Sandbox

from .conftest import RawGws, data_end_seen

#: Genesys' documented sample payloads, kept in the repository (no skip: a missing sample is a failure)
SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def _native(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value


def _long_chain_handle(sb: Sandbox) -> int:
    df = sb.calling_list
    sizes = df.groupby("chain_id")["record_handle"].transform("size")
    # A handle in the middle of a chain of >= 3: the whole chain must come back, not only its tail.
    candidates = df[(sizes >= 3) & (df["chain_n"] > df.groupby("chain_id")["chain_n"].transform("min"))]
    return int(candidates["record_handle"].iloc[0])


def test_record_handles_include_a_long_chain(sb: Sandbox) -> None:
    df = sb.calling_list
    sizes = df.groupby("chain_id").size()
    chain_of = df.set_index("record_handle")["chain_id"]
    assert any(sizes[chain_of[h]] >= 3 for h in sb.record_handles)


def test_round_trip_order_and_content(sb: Sandbox, gws: RawGws) -> None:
    handle = _long_chain_handle(sb)
    gws.open()
    resp = gws.get_chained_record(handle, referenceId="123456789")
    assert resp.status_code == 200
    assert resp.json() == {"statusCode": 0}
    got = gws.collect(data_end_seen)

    df = sb.calling_list
    chain_id = int(df.loc[df["record_handle"] == handle, "chain_id"].iloc[0])
    chain = df[df["chain_id"] == chain_id].sort_values("chain_n")
    assert len(chain) >= 3
    assert len(got) == 2 * len(chain) + 2

    columns = [c for c in df.columns if c != "record_handle"]
    for i, (_, row) in enumerate(chain.iterrows()):
        outbound, internal = got[2 * i], got[2 * i + 1]
        assert outbound["channel"] == "/v2/me/outbound"
        data = outbound["data"]
        assert data["messageType"] == "OutboundRecordMessage"
        assert data["notificationType"] == "ChainedRecord"
        assert data["referenceId"] == "123456789"
        record = data["record"]
        assert record["recordHandle"] == int(row["record_handle"])
        assert record["campaignName"] == sb.campaign_name
        assert record["callingList"] == sb.calling_list_name
        assert record["applicationId"] == sb.application_id
        assert record["devicePath"] == sb.device_path
        ud = record["userData"]
        for col in columns:
            assert ud[col] == _native(row[col]), col
        assert ud["GSW_RECORD_HANDLE"] == int(row["record_handle"])
        assert ud["GSW_CHAIN_ID"] == chain_id
        assert ud["GSW_PHONE"] == row["contact_info"]
        assert ud["GSW_ATTEMPTS"] == _native(row["attempt"])
        assert ud["GSW_CALL_RESULT"] == _native(row["call_result"])
        assert isinstance(ud["GSW_TZ_NAME"], str) and isinstance(ud["GSW_TZ_OFFSET"], int)
        assert ud["GSW_USER_EVENT"] == "ChainedRecord"
        assert ud["GSW_CALLING_LIST"] == sb.calling_list_name
        assert ud["GSW_CAMPAIGN_NAME"] == sb.campaign_name
        assert ud["GSW_APPLICATION_ID"] == sb.application_id

        assert internal["channel"] == "/me/internal"
        idata = internal["data"]
        assert idata["messageType"] == "DeviceUserEventMessage"
        assert "referenceId" not in idata
        assert idata["deviceId"] == sb.device_path.split("/")[-1]
        assert idata["userData"] == ud
        ep = idata["metrics"]["eventProcessing"]
        assert set(ep) == {"serverGenerationTimestamp", "nodeProcessingTimeNanos", "serverProcessingTimeTotalMs"}
        assert all(isinstance(v, int) and v >= 0 for v in ep.values())

    # The DataEnd pair, field by field against the documented sample.
    sample = _sample("get_chained_record.connect_response.json")
    expected_end, expected_internal, expected_connect = sample
    end, end_internal = got[-2], got[-1]
    assert set(end) == set(expected_end)
    assert end["channel"] == expected_end["channel"]
    assert set(end["data"]) == set(expected_end["data"])
    for key in ("notificationType", "messageType", "referenceId"):
        assert end["data"][key] == expected_end["data"][key]
    assert set(end["data"]["record"]) == set(expected_end["data"]["record"])
    rec = end["data"]["record"]
    assert rec == {
        "devicePath": sb.device_path,
        "callingList": sb.calling_list_name,
        "applicationId": sb.application_id,
        "recordHandle": handle,
        "campaignName": sb.campaign_name,
    }
    for key, value in expected_end["data"]["record"].items():
        assert type(rec[key]) is type(value), key

    assert end_internal["channel"] == expected_internal["channel"]
    idata = end_internal["data"]
    assert set(idata) == set(expected_internal["data"])
    assert idata["messageType"] == "DeviceUserEventMessage"
    assert idata["deviceId"] == sb.device_path.split("/")[-1]
    assert set(idata["metrics"]["eventProcessing"]) == set(expected_internal["data"]["metrics"]["eventProcessing"])
    for key, value in expected_internal["data"]["metrics"]["eventProcessing"].items():
        assert type(idata["metrics"]["eventProcessing"][key]) is type(value), key
    assert idata["userData"] == {
        "GSW_APPLICATION_ID": sb.application_id,
        "GSW_RECORD_HANDLE": handle,
        "GSW_USER_EVENT": "ChainedRecordsDataEnd",
        "GSW_CALLING_LIST": sb.calling_list_name,
        "GSW_CAMPAIGN_NAME": sb.campaign_name,
        "GSW_CHAIN_ID": chain_id,
    }
    for key, value in expected_internal["data"]["userData"].items():
        assert type(idata["userData"][key]) is type(value), key
    assert expected_connect["advice"] == {"interval": 0, "timeout": 30000, "reconnect": "retry"}


def test_metrics_are_measurements(sb: Sandbox, gws: RawGws) -> None:
    import time

    gws.open()
    before_ms = int(time.time() * 1000)
    gws.get_chained_record(sb.record_handles[0])
    got = gws.collect(data_end_seen)
    after_ms = int(time.time() * 1000)
    eps = [m["data"]["metrics"]["eventProcessing"] for m in got if m["channel"] == "/me/internal"]
    assert eps
    for ep in eps:
        assert before_ms - 1000 <= ep["serverGenerationTimestamp"] <= after_ms + 1000
        assert ep["nodeProcessingTimeNanos"] > 0
    nanos = [ep["nodeProcessingTimeNanos"] for ep in eps]
    assert nanos == sorted(nanos) and len(set(nanos)) == len(nanos)  # a clock, not constants


def test_reference_id_keeps_its_json_type(sb: Sandbox, gws: RawGws) -> None:
    gws.open()
    gws.get_chained_record(sb.record_handles[0], referenceId=42)
    got = gws.collect(data_end_seen)
    refs = [m["data"]["referenceId"] for m in got if m["channel"] == "/v2/me/outbound"]
    assert refs and all(r == 42 and isinstance(r, int) for r in refs)


def test_unknown_handle_gives_async_error(sb: Sandbox, gws: RawGws) -> None:
    gws.open()
    unknown = int(sb.calling_list["record_handle"].max()) + 1000
    resp = gws.get_chained_record(unknown, referenceId="r-unknown")
    assert resp.json() == {"statusCode": 0}
    [error] = gws.collect(data_end_seen)
    data = error["data"]
    assert error["channel"] == "/v2/me/outbound"
    assert data["messageType"] == "OutboundRecordMessage"
    assert data["notificationType"] == "Error"
    assert data["referenceId"] == "r-unknown"
    assert data["errorCode"] == 101
    assert str(unknown) in data["errorMessage"]


@pytest.mark.parametrize(
    ("override", "code", "word"),
    [({"campaignName": "NoSuchCampaign"}, 102, "NoSuchCampaign"), ({"applicationId": 999}, 103, "999")],
)
def test_unknown_campaign_or_application_gives_async_error(
    sb: Sandbox, gws: RawGws, override: dict[str, Any], code: int, word: str
) -> None:
    gws.open()
    assert gws.get_chained_record(sb.record_handles[0], **override).json() == {"statusCode": 0}
    [error] = gws.collect(data_end_seen)
    assert error["data"]["notificationType"] == "Error"
    assert error["data"]["errorCode"] == code
    assert word in error["data"]["errorMessage"]
