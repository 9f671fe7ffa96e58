"""Isolation and load: 50 HTTP sessions × 20 GetChainedRecord requests in flight at once; every notification
reaches exactly the session that caused it, exactly once (aiohttp peers speaking raw Bayeux)."""

from __future__ import annotations

import asyncio
import base64
import random
from collections import Counter, defaultdict
from typing import Any

import aiohttp
import pytest

from gwsnb.sandbox import Sandbox

SESSIONS = 50
REQUESTS = 20


class AsyncPeer:
    def __init__(self, sb: Sandbox, index: int) -> None:
        self.sb = sb
        self.index = index
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.client_id = ""
        self.outbound: list[dict[str, Any]] = []
        self.internal: list[dict[str, Any]] = []
        self.data_ends = 0

    async def bayeux(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with self.http.post(self.sb.notifications_url, json=messages) as resp:
            assert resp.status == 200, await resp.text()
            return list(await resp.json())

    async def open(self) -> None:
        basic = base64.b64encode(f"{self.sb.username}:{self.sb.password}".encode()).decode()
        async with self.http.get(self.sb.url + "/me", headers={"Authorization": f"Basic {basic}"}) as resp:
            assert resp.status == 200
            self.http.headers["X-CSRF-TOKEN"] = resp.headers["X-CSRF-TOKEN"]
        [hs] = await self.bayeux([{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": ["long-polling"]}])
        self.client_id = hs["clientId"]
        await self.bayeux(
            [
                {"channel": "/meta/connect", "clientId": self.client_id, "connectionType": "long-polling", "advice": {"timeout": 0}},
                {"channel": "/meta/subscribe", "clientId": self.client_id, "subscription": "/v2/me/outbound"},
            ]
        )

    async def poll_until(self, data_ends: int) -> None:
        while self.data_ends < data_ends:
            answer = await self.bayeux([{"channel": "/meta/connect", "clientId": self.client_id, "connectionType": "long-polling", "advice": {"timeout": 2000}}])
            for m in answer:
                if m["channel"] == "/meta/connect":
                    assert m["successful"] is True, m
                elif m["channel"] == "/me/internal":
                    self.internal.append(m)
                else:
                    self.outbound.append(m)
                    if m["data"]["notificationType"] == "ChainedRecordsDataEnd":
                        self.data_ends += 1

    async def request(self, handle: int, ref: str) -> None:
        body = {
            "operationName": "GetChainedRecord",
            "applicationId": self.sb.application_id,
            "campaignName": self.sb.campaign_name,
            "devicePath": self.sb.device_path,
            "referenceId": ref,
        }
        async with self.http.post(f"{self.sb.url}/me/outbound-records/{handle}", json=body) as resp:
            assert resp.status == 200
            assert await resp.json() == {"statusCode": 0}


@pytest.mark.slow
async def test_fifty_sessions_twenty_requests_each() -> None:
    with Sandbox(chains=500, seed=11) as sb:
        df = sb.calling_list
        chain_len = df.groupby("chain_id")["record_handle"].transform("size")
        length_of = dict(zip(df["record_handle"].tolist(), chain_len.tolist(), strict=True))
        handles = df["record_handle"].tolist()
        rng = random.Random(5)
        peers = [AsyncPeer(sb, i) for i in range(SESSIONS)]
        try:
            await asyncio.gather(*(p.open() for p in peers))
            plan = {p.index: [(rng.choice(handles), f"s{p.index}-r{j}") for j in range(REQUESTS)] for p in peers}
            pollers = [asyncio.create_task(asyncio.wait_for(p.poll_until(REQUESTS), 60)) for p in peers]
            await asyncio.gather(*(p.request(h, ref) for p in peers for h, ref in plan[p.index]))
            await asyncio.gather(*pollers)
            # Anything extra (a duplicate, a stray) would be queued right behind: drain once more.
            for p in peers:
                extra = await p.bayeux([{"channel": "/meta/connect", "clientId": p.client_id, "connectionType": "long-polling", "advice": {"timeout": 0}}])
                assert [m["channel"] for m in extra] == ["/meta/connect"]
            for p in peers:
                expected_refs = {ref: h for h, ref in plan[p.index]}
                by_ref: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for m in p.outbound:
                    by_ref[m["data"]["referenceId"]].append(m)
                assert set(by_ref) == set(expected_refs)  # nothing from another session
                for ref, msgs in by_ref.items():
                    h = expected_refs[ref]
                    kinds = [m["data"]["notificationType"] for m in msgs]
                    assert kinds == ["ChainedRecord"] * length_of[h] + ["ChainedRecordsDataEnd"], ref
                    handles_seen = Counter(m["data"]["record"]["recordHandle"] for m in msgs[:-1])
                    assert all(c == 1 for c in handles_seen.values())  # each record exactly once
                    assert msgs[-1]["data"]["record"]["recordHandle"] == h
                expected_internal = sum(length_of[h] + 1 for h, _ in plan[p.index])
                assert len(p.internal) == expected_internal
        finally:
            await asyncio.gather(*(p.http.close() for p in peers))
