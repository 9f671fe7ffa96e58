"""Fixtures of the pace tests: a sandbox on a free port of 127.0.0.1 (its request log counts the calls on the
server's side) and a client connected to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

#: not the user name, so a leak of the password into an output cannot hide behind the user name
PASSWORD = "Pw-9c1e!pace"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=1000, seed=11, password=PASSWORD, request_log_limit=50_000) as sb:
        yield sb


@pytest.fixture()
def sb(sandbox: Sandbox) -> Sandbox:
    sandbox.reset_stats()
    return sandbox


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0) as c:
        yield c


def all_handles(sb: Sandbox) -> list[int]:
    return [int(h) for h in sb.calling_list["record_handle"]]


def target(sb: Sandbox) -> dict[str, Any]:
    return {"campaign_name": sb.campaign_name, "application_id": sb.application_id}


def sent_times(sb: Sandbox) -> list[float]:
    """Epoch seconds at which the sandbox received each GetChainedRecord, oldest first."""
    return sorted(entry["t"] for entry in sb.request_log())
