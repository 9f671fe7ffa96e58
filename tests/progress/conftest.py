"""Fixtures of the campaign-progress tests: sandboxes on free ports of 127.0.0.1 and helpers to run them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gwsnb
from gwsnb.sandbox import Sandbox

#: not the user name, so a leak of the password into an output cannot hide behind the user name
PASSWORD = "Pw-5e1d!progress"


def heads(sb: Sandbox) -> list[int]:
    """The first record handle of each chain of the sandbox's current list."""
    return sorted(int(h) for h in sb.calling_list.groupby("chain_id")["record_handle"].min())


def run(sb: Sandbox, handles: list[int], out: Path | None = None, **kwargs: Any) -> Any:
    """A run (streamed to ``out``, else in memory) of ``handles`` against ``sb``."""
    with gwsnb.connect(sb.url, sb.username, PASSWORD, timeout=10.0) as client:
        return client.get_chained_records(handles, campaign_name=sb.campaign_name, application_id=sb.application_id,
                                          progress=False, out=out, **kwargs)
