"""Fixtures shared by every test folder.  Each folder's conftest provides its own ``sandbox`` (a
:class:`gwsnb.Sandbox` of the size and seed it needs); ``sb`` is that sandbox with clean fault switches."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gwsnb.sandbox import Faults, Sandbox


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the imports and the collection made lives for the whole session: it is moved out of the cyclic
    collector's reach (``gc.freeze``), so that a full collection during the tests scans only what the tests
    made.  Such a collection stops every thread of the process at once, the sandboxes' and the clients'
    loops included: 0.2 to 0.7 s on this suite's heap on a quiet machine, longer under load (docs/testing.md)."""
    gc.collect()
    gc.freeze()


@pytest.fixture()
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The folder's shared sandbox with its faults reset around each test."""
    sandbox.faults = Faults()
    yield sandbox
    sandbox.faults = Faults()
