"""Fixtures of the client tests: a sandbox on a free port of 127.0.0.1 and a client connected to it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import gwsnb
from gwsnb.sandbox import Faults, Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=300, seed=3) as sb:
        yield sb


@pytest.fixture()
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox with its faults reset after each test."""
    sandbox.faults = Faults()
    yield sandbox
    sandbox.faults = Faults()


@pytest.fixture()
def client(sb: Sandbox) -> Iterator[gwsnb.GwsClient]:
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0) as c:
        yield c


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def chain_rows(sb: Sandbox, handle: int) -> list[dict[str, Any]]:
    """The sandbox calling-list rows of the chain holding ``handle``, in chain_n order, as plain values."""
    df = sb.calling_list
    chain_id = df.loc[df["record_handle"] == handle, "chain_id"].iloc[0]
    rows = df[df["chain_id"] == chain_id].sort_values("chain_n")
    return [{k: _plain(v) for k, v in row.items()} for row in rows.to_dict("records")]


def assert_records_match(sb: Sandbox, handle: int, records: list[dict[str, Any]]) -> None:
    rows = chain_rows(sb, handle)
    assert len(records) == len(rows), (handle, len(records), len(rows))
    for record, row in zip(records, rows, strict=True):
        assert record["recordHandle"] == row["record_handle"]
        user_data = record["userData"]
        for column, expected in row.items():
            if column == "record_handle":
                continue
            got = _plain(user_data.get(column))
            if isinstance(expected, float) and got is not None:
                assert got == pytest.approx(expected), (column, got, expected)
            else:
                assert got == expected, (column, got, expected)
