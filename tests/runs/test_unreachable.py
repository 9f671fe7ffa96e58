"""The one rule that tells a server outage (wait for it) from a lost call (retry it): ``gwsnb._engine.bulk.unreachable``,
and the typed error of a run that gave up waiting."""

from __future__ import annotations

import pytest

import gwsnb
from gwsnb import errors
from gwsnb._engine.bulk import unreachable


@pytest.mark.parametrize(("error", "connected", "expected"), [
    (errors.TransportError("POST /me: ConnectionError: refused", unreachable=True), True, True),
    (errors.TransportError("POST /me: HTTP 503", http_status=503), True, True),
    (errors.TransportError("POST /me: HTTP 502", http_status=502), True, True),
    (errors.TransportError("POST /me: HTTP 504", http_status=504), True, True),
    (errors.InternalServerError(4, "down", http_status=503), True, True),
    (errors.TransportError("POST /me: HTTP 500", http_status=500), True, False),
    (errors.TransportError("POST /me: no answer within 10 s"), True, False),
    (errors.NotificationTimeout("no DataEnd"), False, True),  # CometD down: the notifications had nowhere to go
    (errors.NotificationTimeout("no DataEnd"), True, False),  # a lost DataEnd on a healthy connection
    (errors.ChainedRecordError(104, "no such record"), False, False),
    (errors.InternalServerError(4, "bug", http_status=500), True, False),
    (ValueError("not ours"), False, False),
])
def test_what_counts_as_the_server_being_unreachable(error: BaseException, connected: bool, expected: bool) -> None:
    assert unreachable(error, connected) is expected


def test_server_unavailable_error_is_a_transport_error_and_exported() -> None:
    error = gwsnb.ServerUnavailableError("gone", waited_s=3.0)
    assert isinstance(error, gwsnb.TransportError) and isinstance(error, gwsnb.GwsError)
    assert error.unreachable and error.waited_s == 3.0 and error.batch is None
    assert errors.TransportError("x").unreachable is False
