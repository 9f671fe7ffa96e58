"""``make demo``: start an in-process sandbox, perform one GetChainedRecord through a raw HTTP exchange
(REST with requests, Bayeux JSON written by hand) and print the chain as a small table.

Run as ``python -m gwsnb._demo``. A later issue replaces the raw exchange by the gwsnb client.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from .sandbox import Sandbox

_COLUMNS = ("GSW_RECORD_HANDLE", "chain_id", "chain_n", "contact_info", "record_status", "call_result", "GSW_TZ_NAME")


def _bayeux(http: requests.Session, url: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    resp = http.post(url, json=messages, timeout=40)
    resp.raise_for_status()
    return list(resp.json())


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def main() -> None:
    with Sandbox(chains=1000, seed=1) as sb:
        print(f"sandbox at {sb.url}")
        http = requests.Session()
        me = http.get(sb.url + "/me", auth=(sb.username, sb.password), timeout=10)
        me.raise_for_status()
        http.headers[me.headers["X-CSRF-HEADER"]] = me.headers["X-CSRF-TOKEN"]
        cometd = sb.notifications_url
        [hs] = _bayeux(http, cometd, [{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}])
        cid = hs["clientId"]
        _bayeux(
            http,
            cometd,
            [
                {"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling", "advice": {"timeout": 0}},
                {"channel": "/meta/subscribe", "clientId": cid, "subscription": "/v2/me/outbound"},
            ],
        )
        handle = sb.record_handles[0]
        sent = time.perf_counter()
        ack = http.post(
            f"{sb.url}/me/outbound-records/{handle}",
            json={
                "operationName": "GetChainedRecord",
                "applicationId": sb.application_id,
                "campaignName": sb.campaign_name,
                "devicePath": sb.device_path,
                "referenceId": "demo-1",
            },
            timeout=10,
        ).json()
        print(f"POST /me/outbound-records/{handle} -> {ack}")
        records: list[dict[str, Any]] = []
        metrics: dict[str, Any] = {}
        done = False
        deadline = time.monotonic() + 30
        while not done and time.monotonic() < deadline:
            for m in _bayeux(http, cometd, [{"channel": "/meta/connect", "clientId": cid, "connectionType": "long-polling", "advice": {"timeout": 5000}}]):
                data = m.get("data", {})
                if data.get("notificationType") == "ChainedRecord":
                    records.append(data["record"]["userData"])
                elif data.get("notificationType") == "ChainedRecordsDataEnd":
                    done = True
                elif data.get("userData", {}).get("GSW_USER_EVENT") == "ChainedRecordsDataEnd":
                    metrics = data.get("metrics", {}).get("eventProcessing", {})
        elapsed_ms = (time.perf_counter() - sent) * 1000
        _bayeux(http, cometd, [{"channel": "/meta/disconnect", "clientId": cid}])
        print(f"chain of record {handle}: {len(records)} record(s), DataEnd {'received' if done else 'MISSING'} "
              f"in {elapsed_ms:.1f} ms\n")
        print(_table(records, _COLUMNS))
        if metrics:
            print(f"\nserver metrics of DataEnd: {metrics}")


if __name__ == "__main__":
    main()
