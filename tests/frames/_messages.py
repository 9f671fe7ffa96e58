"""Synthetic messages and results for the frames tests (shapes from docs/notifications.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from gwsnb.results import CallTimings, ChainedRecordResult, Event

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"

DEVICE = "c259da54-7c22-4a43-9440-77a92facc86b"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def user_data(handle: int, chain_id: int, chain_n: int, **extra: Any) -> dict[str, Any]:
    ud: dict[str, Any] = {
        "GSW_RECORD_HANDLE": handle,
        "GSW_CHAIN_ID": chain_id,
        "GSW_PHONE": f"+1555000{handle:04d}",
        "GSW_ATTEMPTS": 1,
        "GSW_CALL_RESULT": 33,
        "GSW_TZ_NAME": "EST",
        "GSW_TZ_OFFSET": -18000,
        "GSW_CALLING_LIST": "CallingList1",
        "GSW_CAMPAIGN_NAME": "Campaign1",
        "GSW_APPLICATION_ID": 134,
        "GSW_USER_EVENT": "ChainedRecord",
        "contact_info": f"+1555000{handle:04d}",
        "contact_info_type": 4,
        "record_type": 2,
        "record_status": 2,
        "call_result": 33,
        "attempt": 1,
        "dial_sched_time": 1_700_000_000 + handle,
        "call_time": 1_700_000_100 + handle,
        "daily_from": 8 * 3600,
        "daily_till": 20 * 3600,
        "tz_dbid": 112,
        "chain_id": chain_id,
        "chain_n": chain_n,
        "customer_id": f"C{handle}",
    }
    ud.update(extra)
    return ud


def record(handle: int, chain_id: int, chain_n: int, **extra: Any) -> dict[str, Any]:
    return {
        "recordHandle": handle,
        "campaignName": "Campaign1",
        "callingList": "CallingList1",
        "applicationId": 134,
        "devicePath": f"/devices/{DEVICE}",
        "userData": user_data(handle, chain_id, chain_n, **extra),
    }


def chained_message(rec: dict[str, Any], reference_id: Any = "ref-1") -> dict[str, Any]:
    return {
        "channel": "/v2/me/outbound",
        "data": {
            "messageType": "OutboundRecordMessage",
            "notificationType": "ChainedRecord",
            "referenceId": reference_id,
            "record": rec,
        },
    }


def internal_event(handle: int, chain_id: int, user_event: str, generated_ms: int | None) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if generated_ms is not None:
        metrics = {
            "eventProcessing": {
                "serverGenerationTimestamp": generated_ms,
                "nodeProcessingTimeNanos": 2_500_000,
                "serverProcessingTimeTotalMs": 3,
            }
        }
    return {
        "channel": "/me/internal",
        "data": {
            "metrics": metrics,
            "userData": {
                "GSW_APPLICATION_ID": 134,
                "GSW_RECORD_HANDLE": handle,
                "GSW_USER_EVENT": user_event,
                "GSW_CHAIN_ID": chain_id,
            },
            "deviceId": DEVICE,
            "messageType": "DeviceUserEventMessage",
        },
    }


def result(
    reference_id: str = "ref-1", handle: int = 7, chain_id: int = 1, length: int = 3, *, complete: bool = True
) -> ChainedRecordResult:
    """A result as the client would build it: records in chain_n order, paired events, timings."""
    sent = 1_700_000_000.0
    records = [record(handle + n, chain_id, n + 1) for n in range(length)]
    events: list[Event] = []
    user_events: list[Event] = []
    at = sent + 0.010
    for rec in records:
        events.append(Event(at, chained_message(rec, reference_id)))
        internal = internal_event(rec["recordHandle"], chain_id, "ChainedRecord", int(at * 1000) - 4)
        events.append(Event(at + 0.001, internal))
        user_events.append(events[-1])
        at += 0.002
    end = None
    if complete:
        end_data = copy.deepcopy(sample("get_chained_record.connect_response.json")[0]["data"])
        end_data["referenceId"] = reference_id
        events.append(Event(at, {"channel": "/v2/me/outbound", "data": end_data}))
        end = end_data
        internal = internal_event(handle, chain_id, "ChainedRecordsDataEnd", int(at * 1000) - 3)
        events.append(Event(at + 0.001, internal))
        user_events.append(events[-1])
    timings = CallTimings(sent=sent, http_answered=sent + 0.005, first_event=sent + 0.010,
                          data_end=(at + 0.001) if complete else None)
    return ChainedRecordResult(
        reference_id=reference_id,
        record_handle=handle,
        campaign_name="Campaign1",
        application_id=134,
        device_path=f"/devices/{DEVICE}",
        timings=timings,
        records=records,
        end=end,
        events=events,
        user_events=user_events,
    )
