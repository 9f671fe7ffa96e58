"""Fault switches of the sandbox: what a test or a user can make go wrong, at start or at run time.

The switches are plain attributes read by the event-loop thread each time they matter, so assigning one
from another thread (``sb.faults.latency_ms = 50``) takes effect for the next notification; assigning a
whole new set (``sb.faults.error_handles = {7, 9}``) is atomic under the GIL. Mutating a set in place
from another thread while calls run is not guarded: replace it instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["FAIL_KINDS", "Faults"]

#: the values ``Faults.fail_calls`` accepts (``None``: off)
FAIL_KINDS = ("http500", "timeout")


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
    :param malformed: each call also queues malformed notifications naming its ``referenceId`` where
        one can be named: ``data`` a string that is not JSON, ``data`` a list, no ``data``, a
        non-string ``notificationType``, a ``record`` that is not an object, a user event whose
        ``userData`` is a string, a message without ``channel`` and an array element that is not an
        object at all. None of them is a well-formed ChainedRecord, DataEnd or Error.
    :param unknown_types: each call also queues a notification of an unknown ``notificationType`` with
        its ``referenceId`` and a ``/me/internal`` message of an unknown ``messageType``.
    :param refuse_handshakes: while on, every ``/meta/handshake`` is refused (``500::``) with the advice
        to handshake again at once: the worst case for a client's handshake storm.
    :param clock_offset_ms: the server's clock runs this many ms ahead of the machine's (negative: behind):
        every ``serverGenerationTimestamp`` and the HTTP ``Date`` header are shifted by it, as a GWS node
        whose clock is off would send them (docs/choices.md#server-clock).
    :param drop_user_events: never send the ``/me/internal`` DeviceUserEventMessages (a GWS whose
        user events do not reach this session): only the outbound notifications arrive.
    :param omit_timeout_advice: handshake and connect replies advise no ``timeout`` (the server still
        holds connects for its own timeout): a client must not wait forever on a silent server then.
    :param foreign: every notification of a call is also delivered to the CometD clients of every
        *other* HTTP session (a server mixing up sessions): they see referenceIds that are not theirs.
    :param outage_after_ack_s: when > 0, the next GetChainedRecord or record operation the sandbox
        acknowledges (HTTP answer ``statusCode 0``) takes the server down right after that answer: no
        notification is delivered from then on (the call's own included; a record operation is applied),
        the server stops (its port refuses connections) and starts again on the same port this many
        seconds later, with its CometD state forgotten as after a restart.  One shot: the switch goes back
        to 0 when it fires.  Only a :class:`~gwsnb.sandbox.Sandbox` object can bounce itself.
    :param fail_calls: ``"http500"``: every valid GetChainedRecord POST is answered HTTP 500 with a GWS
        error envelope (``statusCode 4``); ``"timeout"``: it is acknowledged (``statusCode 0``) but no
        notification is ever sent; ``None``: off.  ``Sandbox.fail_calls_for(seconds, kind)`` switches it on
        for a while (docs/guides/sandbox.md#capacity-and-pushback).
    """

    latency_ms: float = 0.0
    drop_data_end: bool = False
    drop_data_end_handles: set[int] = field(default_factory=set)
    duplicate: bool = False
    reorder: bool = False
    error_handles: set[int] = field(default_factory=set)
    silent: bool = False
    malformed: bool = False
    unknown_types: bool = False
    foreign: bool = False
    drop_user_events: bool = False
    omit_timeout_advice: bool = False
    refuse_handshakes: bool = False
    clock_offset_ms: float = 0.0
    outage_after_ack_s: float = 0.0
    fail_calls: str | None = None

    def __setattr__(self, name: str, value: object) -> None:
        if name == "fail_calls" and value is not None and value not in FAIL_KINDS:
            raise ValueError(f"fail_calls must be one of {', '.join(map(repr, FAIL_KINDS))} or None, got {value!r}")
        object.__setattr__(self, name, value)

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms!r}")
        if self.outage_after_ack_s < 0:
            raise ValueError(f"outage_after_ack_s must be >= 0, got {self.outage_after_ack_s!r}")
        self.drop_data_end_handles = set(self.drop_data_end_handles)
        self.error_handles = set(self.error_handles)

    def server_time_ms(self) -> int:
        """The server's wall clock in epoch ms (``clock_offset_ms`` ahead of ours)."""
        return time.time_ns() // 1_000_000 + int(self.clock_offset_ms)

    def drops_data_end(self, handle: int) -> bool:
        """Whether the DataEnd pair of a call for ``handle`` is to be dropped."""
        return self.drop_data_end or handle in self.drop_data_end_handles
