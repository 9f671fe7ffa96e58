"""A pytest plugin that logs every cyclic garbage collection longer than a threshold, with the test it ran in.

A full collection stops every thread of the process, the sandboxes' and the clients' event loops included;
docs/testing.md tells what this found in the suite.

Run: ``PYTHONPATH=tools GC_PAUSES_LOG=/tmp/gc.log GC_PAUSES_MIN_S=0.2 .venv/bin/pytest -p gc_pauses``
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

_MIN_S = float(os.environ.get("GC_PAUSES_MIN_S", "0.2"))
_LOG = open(os.environ.get("GC_PAUSES_LOG", "gc-pauses.log"), "a", encoding="utf-8")  # noqa: SIM115 (whole session)
_started = 0.0
_test = "(collection)"


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    global _started
    if phase == "start":
        _started = time.perf_counter()
        return
    took = time.perf_counter() - _started
    if took >= _MIN_S:
        _LOG.write(f"{time.strftime('%H:%M:%S')} gen{info['generation']} {took:.2f}s "
                   f"collected={info['collected']} test={_test}\n")
        _LOG.flush()


gc.callbacks.append(_on_gc)


def pytest_runtest_setup(item: Any) -> None:
    global _test
    _test = item.nodeid
