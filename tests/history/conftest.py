"""Fixtures of the history tests: the helpers of the campaign-progress tests (sandboxes on 127.0.0.1)."""

from __future__ import annotations

from ..progress.conftest import PASSWORD, heads, run

__all__ = ["PASSWORD", "heads", "run"]
