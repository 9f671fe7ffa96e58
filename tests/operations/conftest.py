"""Fixtures of the record-operation tests: a small sandbox per test (the operations change its calling list),
a client allowed to write and one that is not, and helpers reading a chain back through GetChainedRecord."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

CAMPAIGN = "Campaign1"
APPLICATION = 134
LIST = "CallingList1"
KW: dict[str, Any] = {"campaign_name": CAMPAIGN, "application_id": APPLICATION}


#: (record_handle, contact_info, contact_info_type, chain_id, chain_n): every record Ready, General (2),
#: never called; chain 5 is the contract's example (handles 7 and 8)
RECORDS = [
    (1, "+12125550101", 1, 1, 0), (2, "+12125550102", 4, 1, 1), (3, "+12125550103", 2, 1, 2),
    (4, "+13125550104", 1, 2, 0), (5, "+13125550105", 4, 2, 1),
    (6, "+14155550106", 1, 3, 0),
    (7, "+14155550107", 1, 5, 0), (8, "+14155550108", 4, 5, 1),
]


def calling_list(records: list[tuple[str | int, ...]] = RECORDS) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=["record_handle", "contact_info", "contact_info_type", "chain_id",
                                           "chain_n"])
    frame["record_type"] = 2
    frame["customer_name"] = [f"Customer {c}" for c in frame["chain_id"]]
    frame["tz_dbid"] = 104
    return frame


@pytest.fixture()
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(calling_list=calling_list()) as sb:
        yield sb


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, allow_writes=True) as c:
        yield c


@pytest.fixture()
def reader(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    """A read-only client (the default)."""
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0) as c:
        yield c


def chain(client: gwsnb.GwsClient, handle: int) -> dict[int, dict[str, Any]]:
    """handle -> userData of every record of the chain holding ``handle``, read with GetChainedRecord."""
    result = client.get_chained_record(handle, **KW)
    return {r["recordHandle"]: r["userData"] for r in result.records}


def row(client: gwsnb.GwsClient, handle: int) -> dict[str, Any]:
    return chain(client, handle)[handle]


def preview(client: gwsnb.GwsClient) -> gwsnb.OperationResult:
    """StartPreviewSession then GetPreviewRecord: the chain handed out is held by the client's device."""
    client.start_preview_session(**KW)
    result = client.get_preview_record(**KW)
    assert result.notification_type == "PreviewRecord", result
    return result


def last_body(sb: Sandbox) -> tuple[str, dict[str, Any]]:
    """(path, JSON body) of the last POST the sandbox received."""
    body = sb.received_bodies()[-1]
    return body.path, body.json


def rest_requests(sb: Sandbox) -> int:
    return sum(n for key, n in sb.request_counts().items() if "/notifications" not in key)
