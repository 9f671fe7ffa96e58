"""Session fixtures of the Chromium captures (tests/capture/producer.py): made once per test session, in
a temporary folder (they hold the throwaway sandboxes' passwords and cookies), with Chrome-style sanitized
copies beside them."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

import pytest

from ..browser.conftest import CHROMIUM
from .producer import Produced, produce_all, sanitize_like_chrome


@pytest.fixture(scope="session")
def chromium_captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Produced]:
    """Every scenario's capture by name (``healthy``, then one per cause)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make browser` installs Debian's chromium")
    out = tmp_path_factory.mktemp("chromium-captures")
    started = time.monotonic()
    # the heap's next full collection now, not in the middle of the captures: it would stop the sandboxes'
    # threads (they run in this process) and the healthy capture's GET /me would look slow (docs/testing.md)
    gc.collect()
    made = asyncio.run(produce_all(CHROMIUM, out))
    print(f"\n{len(made)} Chromium captures in {time.monotonic() - started:.1f} s")
    for produced in made.values():
        assert "error" not in produced.page_result, produced.page_result
        if produced.scenario.cut:  # Chromium resends a cut connect silently before the page sees one fail
            assert produced.page_result["connectFailures"] > 0, ("the page saw no cut", produced.page_result)
    return made


@pytest.fixture(scope="session")
def sanitized_captures(chromium_captures: dict[str, Produced],
                       tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same captures as Chrome's default export writes them (no Cookie, Set-Cookie, Authorization)."""
    out = tmp_path_factory.mktemp("sanitized-captures")
    return {name: sanitize_like_chrome(p.path, out / p.path.name) for name, p in chromium_captures.items()}
