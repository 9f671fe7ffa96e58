"""Fixtures shared by every test folder.  Each folder's conftest provides its own ``sandbox`` (a
:class:`gwsnb.Sandbox` of the size and seed it needs); ``sb`` is that sandbox with clean fault switches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gwsnb.sandbox import Faults, Sandbox


@pytest.fixture()
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The folder's shared sandbox with its faults reset around each test."""
    sandbox.faults = Faults()
    yield sandbox
    sandbox.faults = Faults()
