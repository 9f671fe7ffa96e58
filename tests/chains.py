"""What a result's records should be: the sandbox's own calling list, grouped by chain."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from gwsnb.sandbox import Sandbox


def plain(value: Any) -> Any:
    """A DataFrame cell as the JSON value GWS would send (None for missing, Python scalars)."""
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
            self.rows.setdefault(int(row["chain_id"]), []).append({k: plain(v) for k, v in row.items()})

    def chain(self, handle: int) -> list[dict[str, Any]]:
        """The rows of the chain holding ``handle``, in chain_n order, as plain values."""
        return self.rows[self.chain_of[handle]]

    def keys(self, handle: int) -> list[tuple[int, Any]]:
        """``(record_handle, chain_n)`` of the chain holding ``handle``, in chain order."""
        return [(int(row["record_handle"]), row["chain_n"]) for row in self.chain(handle)]

    def assert_matches(self, handle: int, records: list[dict[str, Any]]) -> None:
        """Every record equals its calling-list row, column by column, in chain order."""
        rows = self.chain(handle)
        assert len(records) == len(rows), (handle, len(records), len(rows))
        for record, row in zip(records, rows, strict=True):
            assert record["recordHandle"] == row["record_handle"]
            user_data = record["userData"]
            for column, expected in row.items():
                if column == "record_handle":
                    continue
                got = plain(user_data.get(column))
                if isinstance(expected, float) and got is not None:
                    assert got == pytest.approx(expected), (handle, column, got, expected)
                else:
                    assert got == expected, (handle, column, got, expected)


def record_keys(records: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """``(recordHandle, chain_n)`` of a result's records, in the order received."""
    return [(int(r["recordHandle"]), plain(r["userData"].get("chain_n"))) for r in records]
