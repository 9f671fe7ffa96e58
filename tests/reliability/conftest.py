"""Fixtures of the reliability suite and the plugin that writes its results table.

Each test records one or more *cases* through the ``reliability`` fixture: how many calls (or inputs)
were tried, how many ended as they should (a correct result, or the typed error the case expects), how
many results were lost (a call that neither returned nor raised in time, or returned wrong records) and
how many were reported twice.  At the end of the session the rows are written to
``build/reliability.md`` (or the file named by ``GWSNB_RELIABILITY_TABLE``) as a markdown table (with the
test's outcome), for docs/reliability.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gwsnb.sandbox import Sandbox

_ROOT = Path(__file__).resolve().parents[2]
# GWSNB_RELIABILITY_TABLE: another file, so that a run on another Python leaves the main table (docs/reliability.md) alone
_TABLE = Path(os.environ.get("GWSNB_RELIABILITY_TABLE") or _ROOT / "build" / "reliability.md")


@dataclass
class Case:
    item: str
    name: str
    tried: int
    survived: int
    lost: int
    duplicated: int
    note: str = ""
    outcome: str = "?"


_CASES: list[Case] = []


class Recorder:
    """Handed to a test: ``reliability.record(name, tried=..., survived=..., lost=..., duplicated=...)``."""

    def __init__(self, item: str) -> None:
        self.item = item
        self.cases: list[Case] = []

    def record(self, name: str, *, tried: int, survived: int, lost: int = 0, duplicated: int = 0,
               note: str = "") -> None:
        case = Case(self.item, name, tried, survived, lost, duplicated, note)
        self.cases.append(case)
        _CASES.append(case)


@pytest.fixture()
def reliability(request: pytest.FixtureRequest) -> Recorder:
    recorder = Recorder(request.node.nodeid)
    request.node._reliability = recorder
    return recorder


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    recorder = getattr(item, "_reliability", None)
    if recorder is not None and (report.when == "call" or report.failed):
        for case in recorder.cases:
            if case.outcome in ("?", "passed"):
                case.outcome = report.outcome
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _CASES:
        return
    lines = [
        "| case | tried | survived | lost | duplicated | test |",
        "|---|---:|---:|---:|---:|---|",
    ]
    groups: dict[str, list[Case]] = {}
    for case in _CASES:  # cases recorded under one name (a parametrized table) make one row
        groups.setdefault(case.name, []).append(case)
    for name, cases in groups.items():
        note = cases[0].note if len(cases) == 1 else f"{len(cases)} cases"
        passed = sum(c.outcome == "passed" for c in cases)
        outcome = "passed" if passed == len(cases) else f"{len(cases) - passed} not passed"
        label = name + (f" ({note})" if note else "")
        lines.append(f"| {label} | {sum(c.tried for c in cases)} | {sum(c.survived for c in cases)} | "
                     f"{sum(c.lost for c in cases)} | {sum(c.duplicated for c in cases)} | {outcome} |")
    total = [sum(getattr(c, f) for c in _CASES) for f in ("tried", "survived", "lost", "duplicated")]
    lines.append(f"| **total** | {total[0]} | {total[1]} | {total[2]} | {total[3]} | "
                 f"{sum(c.outcome == 'passed' for c in _CASES)}/{len(_CASES)} passed |")
    try:
        _TABLE.parent.mkdir(parents=True, exist_ok=True)
        _TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError:  # a read-only checkout must not fail the run
        pass


# --- shared helpers -------------------------------------------------------------------------------

def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=600, seed=11, cometd_timeout_ms=2000) as sb:
        yield sb


