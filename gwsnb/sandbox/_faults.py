"""Fault switches of the sandbox: what a test or a user can make go wrong, at start or at run time.

The switches are plain attributes read by the event-loop thread each time they matter, so assigning one
from another thread (``sb.faults.latency_ms = 50``) takes effect for the next notification; assigning a
whole new set (``sb.faults.error_handles = {7, 9}``) is atomic under the GIL. Mutating a set in place
from another thread while calls run is not guarded: replace it instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Faults"]


@dataclass
class Faults:
    """Fault injection switches (all off by default).

    :param latency_ms: added before each notification is queued for delivery.
    :param drop_data_end: never send the ChainedRecordsDataEnd pair (outbound message and user event).
    :param drop_data_end_handles: drop that pair only for these requested record handles.
    :param duplicate: every notification is queued twice.
    :param reorder: the notifications of one call are queued in a shuffled order, DataEnd included.
    :param error_handles: a GetChainedRecord for these handles answers with the asynchronous ``Error``
        notification (errorCode 104) instead of the chain.
    :param silent: while on, a held ``/meta/connect`` is never answered (messages stay queued); when it
        is switched off, held connects answer with whatever was queued.
    """

    latency_ms: float = 0.0
    drop_data_end: bool = False
    drop_data_end_handles: set[int] = field(default_factory=set)
    duplicate: bool = False
    reorder: bool = False
    error_handles: set[int] = field(default_factory=set)
    silent: bool = False

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms!r}")
        self.drop_data_end_handles = set(self.drop_data_end_handles)
        self.error_handles = set(self.error_handles)

    def drops_data_end(self, handle: int) -> bool:
        """Whether the DataEnd pair of a call for ``handle`` is to be dropped."""
        return self.drop_data_end or handle in self.drop_data_end_handles
