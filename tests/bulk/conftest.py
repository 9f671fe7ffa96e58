"""Fixtures of the bulk tests: a sandbox on a free port of 127.0.0.1 and a client connected to it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import gwsnb
from gwsnb.sandbox import Faults, Sandbox

#: not the user name, so a leak of the password into an output cannot hide behind the user name
PASSWORD = "Pw-7f3a!bulk"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=300, seed=5, password=PASSWORD) as sb:
        yield sb


@pytest.fixture()
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox with its faults reset after each test."""
    sandbox.faults = Faults()
    yield sandbox
    sandbox.faults = Faults()


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0) as c:
        yield c


def all_handles(sb: Sandbox) -> list[int]:
    return [int(h) for h in sb.calling_list["record_handle"]]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


class ChainIndex:
    """The sandbox calling list grouped by chain, to compare a result's records with it quickly."""

    def __init__(self, sb: Sandbox) -> None:
        df = sb.calling_list.sort_values(["chain_id", "chain_n"])
        self.chain_of = {int(h): int(c) for h, c in zip(df["record_handle"], df["chain_id"], strict=True)}
        self.rows: dict[int, list[dict[str, Any]]] = {}
        for row in df.to_dict("records"):
            self.rows.setdefault(int(row["chain_id"]), []).append({k: _plain(v) for k, v in row.items()})

    def chain(self, handle: int) -> list[dict[str, Any]]:
        return self.rows[self.chain_of[handle]]

    def assert_matches(self, handle: int, records: list[dict[str, Any]]) -> None:
        rows = self.chain(handle)
        assert len(records) == len(rows), (handle, len(records), len(rows))
        for record, row in zip(records, rows, strict=True):
            assert record["recordHandle"] == row["record_handle"]
            user_data = record["userData"]
            for column, expected in row.items():
                if column == "record_handle":
                    continue
                got = _plain(user_data.get(column))
                if isinstance(expected, float) and got is not None:
                    assert got == pytest.approx(expected), (handle, column, got, expected)
                else:
                    assert got == expected, (handle, column, got, expected)


@pytest.fixture(scope="module")
def chains(sandbox: Sandbox) -> ChainIndex:
    return ChainIndex(sandbox)
