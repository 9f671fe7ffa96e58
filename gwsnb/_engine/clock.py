"""The server's clock against ours, as an interval that every answered call narrows.

A notification that our POST caused was generated after we sent the POST and before we received the
notification, so its ``serverGenerationTimestamp`` G (the GWS node's clock, epoch ms) bounds the offset

    offset = server's clock - ours  in  [G - received, G - sent]

(both instants ours, in ms; G names a whole millisecond, so the generation lies in [G, G + 1) and the
upper end gets the one-millisecond resolution added: ``RESOLUTION_MS``). Intersecting these over many calls narrows the interval to about the
shortest round trip, as NTP does. Offsets and the delays derived from them stay intervals: a point
estimate would turn a 2 ms uncertainty into negative delivery delays. The HTTP ``Date`` header (1 s
resolution, possibly the balancer's clock rather than the node's) is kept apart as a cross-check.
See docs/watch.md (latency against the server's clock).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

#: the resolution of ``serverGenerationTimestamp``: whole milliseconds, truncated (Java's currentTimeMillis)
RESOLUTION_MS = 1.0
#: bounds beyond this (about 3000 years) come from a NaN or an infinity, not from a clock
_FAR_MS = 1e14

__all__ = ["RESOLUTION_MS", "ClockEstimator", "ClockOffset", "DateHeaderClock", "estimate", "generated_ms",
           "offset_from_date_header"]


@dataclass(frozen=True)
class ClockOffset:
    """The server's clock minus ours lies in ``[low_ms, high_ms]`` (positive: the server is ahead).

    ``samples`` counts the notifications intersected; ``resets`` counts the times a new sample fell
    outside the interval (a clock step on either side, or a sample that was not caused by our POST) and
    the estimate restarted from it.
    """

    low_ms: float
    high_ms: float
    samples: int
    resets: int = 0

    @property
    def width_ms(self) -> float:
        return self.high_ms - self.low_ms

    @property
    def midpoint_ms(self) -> float:
        return (self.low_ms + self.high_ms) / 2

    def contains(self, offset_ms: float) -> bool:
        return self.low_ms <= offset_ms <= self.high_ms

    def describe(self, useful_width_ms: float = 1000.0) -> str:
        """One sentence a person reads, e.g. "the server's clock is 89.9–90.0 s ahead of ours"."""
        if self.width_ms > useful_width_ms:
            return (f"the offset cannot be told within {useful_width_ms / 1000:g} s "
                    f"(between {_seconds(self.low_ms)} and {_seconds(self.high_ms)} s from {self.samples} samples)")
        if self.low_ms <= 0 <= self.high_ms:
            return (f"the server's clock agrees with ours within {_seconds(self.width_ms)} s "
                    f"({_seconds(self.low_ms)} to {_seconds(self.high_ms)} s, {self.samples} samples)")
        side = "ahead of" if self.low_ms > 0 else "behind"
        low, high = sorted((abs(self.low_ms), abs(self.high_ms)))
        first, last = _seconds_pair(low, high)
        return f"the server's clock is {first}–{last} s {side} ours ({self.samples} samples)"

    def delay_ms(self, generated_ms: float, received_s: float,
                 resolution_ms: float = RESOLUTION_MS) -> tuple[float, float]:
        """The interval of a message's delivery delay: from its generation (server's clock, ``generated_ms``
        naming a whole ``resolution_ms`` step) to ``received_s``.

        Never negative at its low end when the message's own sample is in the estimate; clamped to 0 otherwise.
        """
        in_our_clock_high = generated_ms + resolution_ms - self.low_ms
        in_our_clock_low = generated_ms - self.high_ms
        received_ms = received_s * 1000.0
        return max(0.0, received_ms - in_our_clock_high), max(0.0, received_ms - in_our_clock_low)

    def as_dict(self) -> dict[str, float | int]:
        return {"low_ms": self.low_ms, "high_ms": self.high_ms, "samples": self.samples, "resets": self.resets}


def _seconds_pair(low_ms: float, high_ms: float) -> tuple[str, str]:
    """Both ends with the fewest decimals (1 to 3) that keep them apart: 89.999–90.002, not 90.0–90.0."""
    for decimals in (1, 2):
        first, last = f"{low_ms / 1000:.{decimals}f}", f"{high_ms / 1000:.{decimals}f}"
        if first != last:
            return first, last
    return f"{low_ms / 1000:.3f}", f"{high_ms / 1000:.3f}"


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.1f}" if abs(ms) >= 100 else f"{ms / 1000:.3f}"


class ClockEstimator:
    """Intersects the offset intervals of answered calls; cheap enough to run on every notification."""

    __slots__ = ("_low", "_high", "_samples", "_resets", "resolution_ms")

    def __init__(self, resolution_ms: float = RESOLUTION_MS) -> None:
        self.resolution_ms = resolution_ms
        self._low = -math.inf
        self._high = math.inf
        self._samples = 0
        self._resets = 0

    def add_user_events(self, sent_s: float, events: Iterable[Any]) -> None:
        """Every user event of one call whose POST left at ``sent_s`` (``Event``-like: ``message``,
        ``received_at``); events without a generation time are skipped."""
        add = self.add
        for event in events:
            generated = generated_ms(event.message)
            if generated is not None:
                add(sent_s, event.received_at, generated)

    def add(self, sent_s: float, received_s: float, generated_ms: float) -> None:
        """One notification: our POST left at ``sent_s``, the message arrived at ``received_s`` (ours, s)."""
        if not received_s >= sent_s:  # also false for a NaN
            return  # not caused by that POST: it cannot bound anything
        low = generated_ms - received_s * 1000.0
        high = generated_ms + self.resolution_ms - sent_s * 1000.0
        if not -_FAR_MS < low <= high < _FAR_MS:  # a NaN or an infinity somewhere
            return
        self._samples += 1
        if low <= self._low and high >= self._high:  # the usual case once narrowed: nothing to change
            return
        new_low, new_high = max(self._low, low), min(self._high, high)
        if new_low > new_high:
            self._resets += 1
            new_low, new_high, self._samples = low, high, 1
        self._low, self._high = new_low, new_high

    @property
    def offset(self) -> ClockOffset | None:
        """The current interval, or ``None`` before the first sample."""
        if not self._samples:
            return None
        return ClockOffset(self._low, self._high, self._samples, self._resets)


def offset_from_date_header(sent_s: float, received_s: float, date_header: str) -> ClockOffset | None:
    """The coarse interval an HTTP ``Date`` header gives (1 s resolution); ``None`` if it does not parse."""
    try:
        server_s = parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # the header truncates to the second: the server's instant lies in [server_s, server_s + 1)
    return ClockOffset((server_s - received_s) * 1000.0, (server_s + 1 - sent_s) * 1000.0, 1)


class DateHeaderClock:
    """The HTTP ``Date`` headers' offset interval, intersected over answers: the 1 s cross-check.

    Kept apart from :class:`ClockEstimator` because the header may come from a balancer rather than the
    GWS node.  A header equal to the previous one is not parsed again (it changes once a second), so
    feeding every answer costs a string comparison.
    """

    __slots__ = ("_header", "_server_s", "_low", "_high", "_samples", "_resets")

    def __init__(self) -> None:
        self._header: str | None = None
        self._server_s = math.nan
        self._low = -math.inf
        self._high = math.inf
        self._samples = 0
        self._resets = 0

    def add(self, sent_s: float, received_s: float, date_header: str | None) -> None:
        """One HTTP answer: the request left at ``sent_s``, its answer arrived at ``received_s`` (ours)."""
        if date_header is None or received_s < sent_s:
            return
        if date_header != self._header:
            parsed = offset_from_date_header(0.0, 0.0, date_header)
            self._header = date_header
            self._server_s = math.nan if parsed is None else parsed.low_ms / 1000.0
        server_s = self._server_s
        if server_s != server_s:  # NaN: the header did not parse
            return
        low, high = (server_s - received_s) * 1000.0, (server_s + 1 - sent_s) * 1000.0
        new_low, new_high = max(self._low, low), min(self._high, high)
        if new_low > new_high:
            self._resets += 1
            new_low, new_high, self._samples = low, high, 0
        self._low, self._high = new_low, new_high
        self._samples += 1

    @property
    def offset(self) -> ClockOffset | None:
        """The current interval, or ``None`` before the first answer with a ``Date`` header."""
        if not self._samples:
            return None
        return ClockOffset(self._low, self._high, self._samples, self._resets)


def generated_ms(message: Any) -> float | None:
    """A user event's ``data.metrics.eventProcessing.serverGenerationTimestamp`` (epoch ms), or ``None``."""
    try:
        value = message["data"]["metrics"]["eventProcessing"]["serverGenerationTimestamp"]
    except (KeyError, TypeError, IndexError):
        return None
    if type(value) is int or type(value) is float:
        return float(value)
    return None


def estimate(samples: Iterable[tuple[float, float, float]]) -> ClockOffset | None:
    """The offset interval of ``(sent_s, received_s, generated_ms)`` samples (see :class:`ClockEstimator`)."""
    clock = ClockEstimator()
    for sent_s, received_s, generated_ms in samples:
        clock.add(sent_s, received_s, generated_ms)
    return clock.offset
