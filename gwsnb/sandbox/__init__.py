"""The GWS sandbox: a local Genesys Web Services v2 emulator (REST, CSRF, CometD, OCS calling lists).

``Sandbox`` runs it in-process; ``Faults`` are its fault-injection switches; ``CallingList`` is its
calling-list model. ``gwsnb sandbox`` runs it from the command line; ``remote_advance`` moves the campaign of
one running in another process forward (``Sandbox.advance``); ``remote_stats`` and ``remote_reset_stats`` read
and reset its capacity statistics and request log (``Sandbox.stats``, ``Sandbox.request_log``);
``remote_set_capacity``, ``remote_restart_schedule`` and ``remote_fail_calls_for`` change it at run time.
"""

from __future__ import annotations

from ._calling_list import CallingList, CallingListError
from ._faults import Faults
from ._remote import (
    remote_advance,
    remote_fail_calls_for,
    remote_reset_stats,
    remote_restart_schedule,
    remote_set_capacity,
    remote_stats,
)
from ._runner import Sandbox

__all__ = ["CallingList", "CallingListError", "Faults", "Sandbox", "remote_advance", "remote_fail_calls_for",
           "remote_reset_stats", "remote_restart_schedule", "remote_set_capacity", "remote_stats"]
