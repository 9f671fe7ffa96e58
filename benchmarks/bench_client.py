"""Median per-call latency of ``GwsClient.get_chained_record`` against the sandbox on loopback, compared in
the same run with a minimal raw baseline: a requests POST plus a hand-rolled Bayeux long-poll on the same
server (no threads, no correlation, no event log).  Target: ratio <= 1.25.

Run: ``.venv/bin/python -m benchmarks.bench_client [--calls N]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

import requests

import gwsnb
from gwsnb.sandbox import Sandbox


class RawBaseline:
    """The least a script can do: one requests session, Bayeux by hand, sequential."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.http = requests.Session()
        self.http.auth = (sb.username, sb.password)
        r = self.http.get(sb.url + "/me")
        self.csrf = {r.headers["X-CSRF-HEADER"]: r.headers["X-CSRF-TOKEN"]}
        self.http.post(sb.url + "/me", json={"operationName": "StartContactCenterSession", "channels": ["voice"]},
                       headers=self.csrf).raise_for_status()
        self.cometd = sb.url + "/notifications"
        hs = self.bayeux([{"channel": "/meta/handshake", "version": "1.0",
                           "supportedConnectionTypes": ["long-polling"]}])
        self.client_id = hs[0]["clientId"]
        self.bayeux([{"channel": "/meta/connect", "clientId": self.client_id, "connectionType": "long-polling",
                      "advice": {"timeout": 0}}])
        self.bayeux([{"channel": "/meta/subscribe", "clientId": self.client_id, "subscription": "/v2/me/outbound"}])

    def bayeux(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r = self.http.post(self.cometd, json=messages, headers=self.csrf, timeout=40)
        r.raise_for_status()
        out: list[dict[str, Any]] = r.json()
        return out

    def call(self, handle: int) -> int:
        ref = uuid.uuid4().hex
        body = {"operationName": "GetChainedRecord", "campaignName": self.sb.campaign_name,
                "applicationId": self.sb.application_id, "devicePath": self.sb.device_path, "referenceId": ref}
        self.http.post(f"{self.sb.url}/me/outbound-records/{handle}", json=body, headers=self.csrf).raise_for_status()
        records = 0
        while True:
            for m in self.bayeux([{"channel": "/meta/connect", "clientId": self.client_id,
                                   "connectionType": "long-polling"}]):
                data = m.get("data") or {}
                if data.get("referenceId") == ref:
                    if data.get("notificationType") == "ChainedRecord":
                        records += 1
                    elif data.get("notificationType") == "ChainedRecordsDataEnd":
                        return records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    with Sandbox(chains=200, seed=1, cometd_timeout_ms=30000) as sb:
        handles = [sb.record_handles[i % len(sb.record_handles)] for i in range(args.calls)]
        raw = RawBaseline(sb)
        client = gwsnb.connect(sb.url, sb.username, sb.password)
        for h in handles[:20]:  # warm-up
            raw.call(h)
            client.get_chained_record(h, campaign_name=sb.campaign_name, application_id=sb.application_id)
        raw_t: list[float] = []
        cli_t: list[float] = []
        for h in handles:  # interleaved, so both see the same machine state
            t0 = time.perf_counter()
            n_raw = raw.call(h)
            t1 = time.perf_counter()
            result = client.get_chained_record(h, campaign_name=sb.campaign_name, application_id=sb.application_id)
            t2 = time.perf_counter()
            assert n_raw == len(result.records)
            raw_t.append(t1 - t0)
            cli_t.append(t2 - t1)
        client.close()
    raw_med, cli_med = statistics.median(raw_t) * 1000, statistics.median(cli_t) * 1000
    print(f"calls: {len(handles)}")
    print(f"raw baseline (requests POST + hand-rolled long-poll): median {raw_med:.2f} ms")
    print(f"gwsnb get_chained_record:                            median {cli_med:.2f} ms")
    print(f"ratio: {cli_med / raw_med:.2f}x (target <= 1.25x)")


if __name__ == "__main__":
    main()
