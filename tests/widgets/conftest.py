"""A sandbox on a free port of 127.0.0.1 and a client connected to it, for the form tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=200, seed=5) as sb:
        yield sb


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sandbox.url, sandbox.username, sandbox.password, timeout=10.0) as c:
        yield c
