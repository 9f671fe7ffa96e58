"""Fixtures of the streamed-run tests: a sandbox on a free port of 127.0.0.1 and a client connected to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox

#: not the user name, so a leak of the password into an output cannot hide behind the user name
PASSWORD = "Pw-2c9e!runs"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=400, seed=21, password=PASSWORD) as sb:
        yield sb


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0) as c:
        yield c


def heads(sb: Sandbox, n: int | None = None) -> list[int]:
    """The first record handle of each chain (each handle a distinct chain), at most ``n`` of them."""
    first = sb.calling_list.groupby("chain_id")["record_handle"].min().sort_values()
    return [int(h) for h in first.iloc[:n]]
