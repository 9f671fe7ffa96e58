"""The GWS sandbox: a local Genesys Web Services v2 emulator (REST, CSRF, CometD, OCS calling lists).

``Sandbox`` runs it in-process; ``Faults`` are its fault-injection switches; ``CallingList`` is its
calling-list model. ``gwsnb sandbox`` runs it from the command line; ``remote_advance`` moves the campaign of
one running in another process forward (``Sandbox.advance``).
"""

from __future__ import annotations

from ._calling_list import CallingList, CallingListError
from ._faults import Faults
from ._remote import remote_advance
from ._runner import Sandbox

__all__ = ["CallingList", "CallingListError", "Faults", "Sandbox", "remote_advance"]
