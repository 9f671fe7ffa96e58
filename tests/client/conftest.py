"""Fixtures of the client tests: a sandbox on a free port of 127.0.0.1 and a client connected to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=300, seed=3) as sb:
        yield sb


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0) as c:
        yield c
