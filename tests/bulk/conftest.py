"""Fixtures of the bulk tests: a sandbox on a free port of 127.0.0.1 and a client connected to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import gwsnb
from gwsnb.sandbox import Sandbox
from tests.chains import ChainIndex

#: not the user name, so a leak of the password into an output cannot hide behind the user name
PASSWORD = "Pw-7f3a!bulk"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=300, seed=5, password=PASSWORD) as sb:
        yield sb


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0) as c:
        yield c


def all_handles(sb: Sandbox) -> list[int]:
    return [int(h) for h in sb.calling_list["record_handle"]]


@pytest.fixture(scope="module")
def chains(sandbox: Sandbox) -> ChainIndex:
    return ChainIndex(sandbox)
