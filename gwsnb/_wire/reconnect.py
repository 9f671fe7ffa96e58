"""Reconnect pacing of the CometD session: the server's advice, and our backoff and handshake cap.

:class:`Advice` follows what the server advises (``reconnect``, ``interval``, ``timeout``) and remembers
the last long-poll ``timeout`` it named, because advice often omits it (a ``402`` reply's usually does):
a long-poll then still gets a deadline of 1.2 × that timeout, so a silent server is noticed instead of
stalling the session for good.  Until the server names one, GWS's 30 s is assumed.

:class:`ReconnectPolicy`: after a failure (refused meta message, HTTP error, network error, silence) each
further handshake or connect waits a full-jitter exponential backoff ``uniform(0, min(cap, base·2^(n-1)))``
(n = consecutive failures, reset by a successful handshake or connect), and at most ``max_handshakes``
handshakes are sent per ``window`` seconds, so a server that keeps forgetting the client cannot cause a
handshake storm.  See docs/cometd.md.
"""

from __future__ import annotations

import random
import time
from collections import deque
from typing import Any

__all__ = ["DEFAULT_ADVICE_TIMEOUT_MS", "Advice", "ReconnectPolicy"]

#: the long-poll timeout assumed until the server advises one (GWS advises 30000 ms)
DEFAULT_ADVICE_TIMEOUT_MS = 30_000
#: a long-poll gets this multiple of the advised timeout before the server counts as silent
POLL_GRACE = 1.2


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return float(value)


class Advice:
    """The server's current advice (Bayeux ``advice`` field), updated by every meta reply that has one."""

    def __init__(self, timeout_ms: float | None = None) -> None:
        self.reconnect = "retry"
        self.interval_ms = 0.0
        self.timeout_ms = float(DEFAULT_ADVICE_TIMEOUT_MS if timeout_ms is None else timeout_ms)

    def update(self, advice: Any) -> None:
        """Take what ``advice`` names; what it omits keeps its last value."""
        if not isinstance(advice, dict):
            return
        reconnect = advice.get("reconnect")
        if reconnect in ("retry", "handshake", "none"):
            self.reconnect = reconnect
        interval = _number(advice.get("interval"))
        if interval is not None:
            self.interval_ms = interval
        timeout = _number(advice.get("timeout"))
        if timeout is not None:
            self.timeout_ms = timeout

    @property
    def poll_deadline_s(self) -> float:
        """Seconds a long-poll may stay unanswered before the server counts as silent."""
        return max(self.timeout_ms / 1000.0 * POLL_GRACE, 1.0)

    @property
    def interval_s(self) -> float:
        return self.interval_ms / 1000.0


class ReconnectPolicy:
    """Full-jitter exponential backoff after failures and a cap on handshakes per window (see module doc)."""

    def __init__(self, *, base: float = 0.25, cap: float = 15.0, max_handshakes: int = 10,
                 window: float = 60.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.max_handshakes = max_handshakes
        self.window = window
        self.failures = 0
        self.handshakes: deque[float] = deque()
        self._rng = rng or random.Random()

    def failure(self) -> None:
        self.failures += 1

    def success(self) -> None:
        self.failures = 0

    def delay(self, *, handshake: bool, now: float | None = None, cap: float | None = None) -> float:
        """Seconds to wait before the next connect (or handshake) attempt; ``cap`` lowers the backoff's cap
        (not the handshake window's)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        if self.failures > 0:
            ceiling = self.cap if cap is None else min(cap, self.cap)
            wait = self._rng.uniform(0.0, min(ceiling, self.base * 2 ** (self.failures - 1)))
        if handshake:
            while self.handshakes and now - self.handshakes[0] > self.window:
                self.handshakes.popleft()
            if len(self.handshakes) >= self.max_handshakes:
                wait = max(wait, self.handshakes[0] + self.window - now)
        return wait

    def handshake_sent(self, now: float | None = None) -> None:
        self.handshakes.append(time.monotonic() if now is None else now)
