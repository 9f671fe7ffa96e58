"""The pace of a bulk run in one value: how many calls in flight, how many per second, how many in all, and
when (see ``docs/production.md``).

:class:`Pace` is to :meth:`gwsnb.GwsClient.get_chained_records` what httpx's ``Limits`` and ``Timeout`` are
to a client: a frozen value, checked when it is made, that the bulk API, the form and the command line
accept alike::

    night = gwsnb.Pace(rate=50, max_calls=200_000, window="20:00-07:00", tz="Europe/Paris")
    client.get_chained_records(handles, campaign_name=..., application_id=..., pace=night)

Rules (each violation raises :class:`~gwsnb.errors.InvalidParameterError` naming the field and the value,
before anything is sent):

- ``concurrency``: an integer 1..1024, or ``"auto"`` (the calls in flight follow the server, up to
  ``max_concurrency``).
- ``max_concurrency``: an integer 1..1024, at least ``concurrency`` when that is an integer.
- ``rate``: ``None`` (no cap) or a finite number of calls per second, 0.01..100000, across all the
  workers of a run.
- ``max_calls``: ``None`` (no budget) or an integer 1..10**9: the GetChainedRecord calls a run may send
  (retries are calls too).
- ``window``: ``None`` (any time) or ``"HH:MM-HH:MM"`` (seconds allowed: ``"HH:MM:SS"``), several joined by
  commas; a window whose end is before its start runs past midnight (``"20:00-07:00"``).
- ``tz``: ``None`` (the machine's zone) or an IANA zone name (``"Europe/Paris"``).
- ``breaker_window``: an integer 5..10000 (the recent calls the circuit breaker looks at);
  ``breaker_threshold``: a number in (0, 1] (the share of them that must have failed to open it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidParameterError
from .params import check_int

__all__ = ["CALL_KINDS", "DEFAULT_CONCURRENCY", "Load", "MAX_CONCURRENCY", "Pace", "Window", "parse_windows"]

DEFAULT_CONCURRENCY = 16
#: the most calls in flight a run may have (fixed or auto)
MAX_CONCURRENCY = 1024
MAX_RATE = 100_000.0
MIN_RATE = 0.01
MAX_CALLS = 10**9
_TIME = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9]))?")
_DAY = 86_400


def _seconds(field: str, value: str, text: str) -> int:
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise InvalidParameterError(field, value, f"{text.strip()!r} is not a time of day (HH:MM or HH:MM:SS)")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    total = hours * 3600 + minutes * 60 + seconds
    if total > _DAY:
        raise InvalidParameterError(field, value, f"{text.strip()!r} is past 24:00")
    return total


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


@dataclass(frozen=True)
class Window:
    """One daily working window, in seconds since midnight (local to the pace's zone); ``end < start``
    means it runs past midnight."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{_clock(self.start)}–{_clock(self.end)}"

    def spans(self, day: dt.date, tz: dt.tzinfo | None) -> tuple[dt.datetime, dt.datetime]:
        """The window of ``day`` as aware datetimes (the end on the next day when it runs past midnight)."""
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        end_day = 0 if self.end > self.start else 1
        # wall-clock arithmetic on an aware datetime: 20:00 stays 20:00 on a day that changes the clock
        start = midnight + dt.timedelta(seconds=self.start)
        end = midnight + dt.timedelta(days=end_day, seconds=self.end)
        return start, end


def parse_windows(value: Any, field: str = "window") -> tuple[Window, ...]:
    """``"20:00-07:00"`` or ``"08:00-12:00, 14:00-17:30:30"`` as :class:`Window` values.

    :raises InvalidParameterError: not a string, an empty part, a bad time, or a window of no length.
    """
    if not isinstance(value, str):
        raise InvalidParameterError(field, value, "expected a string like '20:00-07:00'")
    windows = []
    for part in value.split(","):
        if part.count("-") != 1:
            raise InvalidParameterError(field, value, f"{part.strip()!r} is not 'start-end' (e.g. '20:00-07:00')")
        start_text, end_text = part.split("-")
        start, end = _seconds(field, value, start_text), _seconds(field, value, end_text)
        if start % _DAY == end % _DAY:
            raise InvalidParameterError(field, value, f"{part.strip()!r} has no length (start equals end)")
        windows.append(Window(start % _DAY, end % _DAY if end != _DAY else _DAY))
    return tuple(windows)


def _zone(value: Any) -> dt.tzinfo | None:
    if value is None:
        return None  # naive local datetimes: the machine's wall clock, its changes of offset included
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError("tz", value, "expected an IANA time zone name like 'Europe/Paris'")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidParameterError("tz", value, "unknown time zone (expected an IANA name like 'Europe/Paris')") \
            from None


def _rate(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterError("rate", value, "expected a number of calls per second")
    if not math.isfinite(value) or not MIN_RATE <= value <= MAX_RATE:
        raise InvalidParameterError("rate", value, f"must be between {MIN_RATE:g} and {MAX_RATE:g} calls per second")
    return float(value)


def _concurrency(value: Any) -> int | Literal["auto"]:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    return check_int("concurrency", value, 1, MAX_CONCURRENCY, digits=True)


@dataclass(frozen=True)
class Pace:
    """How fast, how much and when a bulk run may call (see the module's rules and ``docs/production.md``).

    Frozen and checked when made; :meth:`replace` returns a checked copy with some fields changed.

    :param concurrency: calls in flight at most (an int), or ``"auto"``: the number follows the server's
        latency, up to ``max_concurrency``.
    :param max_concurrency: the ceiling of ``"auto"`` (and the number of workers a run starts).
    :param rate: calls per second across all the workers of a run (``None``: no cap).
    :param max_calls: the GetChainedRecord calls a run may send, retries included; the run then stops
        cleanly (a streamed run resumes where it stopped).
    :param window: daily working windows, ``"20:00-07:00"`` or several joined by commas; outside them no
        call is sent and a run in progress pauses (the calls in flight finish).
    :param tz: the windows' time zone (an IANA name; default the machine's zone).
    :param breaker_window: the recent calls the circuit breaker looks at.
    :param breaker_threshold: the share of those calls that must have failed to open the breaker.
    :raises InvalidParameterError: naming the field and the value.
    """

    concurrency: int | Literal["auto"] = DEFAULT_CONCURRENCY
    max_concurrency: int = 64
    rate: float | None = None
    max_calls: int | None = None
    window: str | None = None
    tz: str | None = None
    breaker_window: int = 50
    breaker_threshold: float = 0.5

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: the checked (normalised) values are set once, here
        concurrency = _concurrency(self.concurrency)
        set_(self, "concurrency", concurrency)
        ceiling = check_int("max_concurrency", self.max_concurrency, 1, MAX_CONCURRENCY, digits=True)
        if isinstance(concurrency, int) and ceiling < concurrency:
            ceiling = concurrency  # the ceiling of auto only: a fixed concurrency above it raises it
        set_(self, "max_concurrency", ceiling)
        set_(self, "rate", _rate(self.rate))
        if self.max_calls is not None:
            set_(self, "max_calls", check_int("max_calls", self.max_calls, 1, MAX_CALLS, digits=True))
        if self.window is not None:
            parse_windows(self.window)
            set_(self, "window", self.window.strip())
        _zone(self.tz)
        set_(self, "breaker_window", check_int("breaker_window", self.breaker_window, 5, 10_000))
        threshold = self.breaker_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise InvalidParameterError("breaker_threshold", threshold, "expected a share in (0, 1]")
        set_(self, "breaker_threshold", float(threshold))

    def replace(self, **changes: Any) -> Pace:
        """A checked copy with ``changes``.

        :raises InvalidParameterError: a changed field is invalid.
        """
        return dataclasses.replace(self, **changes)

    @property
    def auto(self) -> bool:
        """Whether the concurrency follows the server (``concurrency="auto"``)."""
        return self.concurrency == "auto"

    @property
    def workers(self) -> int:
        """The most calls a run may have in flight: ``concurrency``, or ``max_concurrency`` for auto."""
        return self.max_concurrency if self.concurrency == "auto" else int(self.concurrency)

    @property
    def windows(self) -> tuple[Window, ...]:
        """The parsed windows (empty: any time)."""
        return () if self.window is None else parse_windows(self.window)

    @property
    def zone(self) -> dt.tzinfo | None:
        """The windows' time zone (``None``: the machine's, as naive local datetimes)."""
        return _zone(self.tz)

    def describe(self) -> str:
        """One line: ``"concurrency 16 · rate 50/s · max 1,000 calls · window 20:00–07:00 (Europe/Paris)"``."""
        parts = [f"concurrency auto (max {self.max_concurrency})" if self.auto else f"concurrency {self.concurrency}"]
        parts.append("no rate cap" if self.rate is None else f"rate {self.rate:g}/s")
        if self.max_calls is not None:
            parts.append(f"max {self.max_calls:,} calls")
        if self.window is not None:
            parts.append(f"window {', '.join(map(str, self.windows))} ({self.tz or 'local time'})")
        return " · ".join(parts)

    # --- the windows in time ------------------------------------------------------------------------
    def _spans_around(self, now: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        today = now.date()
        for offset in (-1, 0, 1, 2):
            for window in self.windows:
                yield window.spans(today + dt.timedelta(days=offset), now.tzinfo)

    def open_until(self, now: dt.datetime) -> dt.datetime | None:
        """The end of the window ``now`` is in, ``None`` when outside every window; without windows,
        ``datetime.max`` (in ``now``'s zone).  ``now`` is :meth:`now` or a datetime in the pace's zone."""
        if self.window is None:
            return dt.datetime.max.replace(tzinfo=now.tzinfo)
        ends = [end for start, end in self._spans_around(now) if start <= now < end]
        return max(ends) if ends else None

    def next_opening(self, now: dt.datetime) -> dt.datetime:
        """The start of the next window after ``now`` (``now`` itself when a window is open)."""
        if self.open_until(now) is not None:
            return now
        return min(start for start, _ in self._spans_around(now) if start > now)

    def now(self) -> dt.datetime:
        """The current time in the pace's zone."""
        return dt.datetime.now(self.zone)


#: the keyword shortcuts of the bulk API, in the order they are checked
SHORTCUTS = ("concurrency", "rate", "max_calls")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Pace)}


def resolve_pace(pace: Any = None, **shortcuts: Any) -> Pace:
    """The pace of a run from ``pace=`` and the keyword shortcuts (``concurrency=``, ``rate=``,
    ``max_calls=``; ``None`` means not given).

    A shortcut fills a field the pace leaves at its default; given with a pace that sets the same field
    to another value, it is refused rather than one of them silently winning.

    :raises InvalidParameterError: ``pace`` is not a :class:`Pace`, a shortcut is invalid, or a shortcut
        contradicts the pace.
    """
    if pace is not None and not isinstance(pace, Pace):
        raise InvalidParameterError("pace", pace, "expected a gwsnb.Pace (or None)")
    base = pace if pace is not None else Pace()
    given = {name: value for name, value in shortcuts.items() if value is not None}
    unknown = set(given) - set(SHORTCUTS)
    if unknown:
        raise TypeError(f"unknown pace shortcut(s): {sorted(unknown)}")
    if not given:
        return base
    changed = base.replace(**given)  # checks each shortcut (field and value named)
    for name in given:
        ours, theirs = getattr(base, name), getattr(changed, name)
        if pace is not None and ours != _DEFAULTS[name] and ours != theirs:
            raise InvalidParameterError(name, given[name], f"contradicts pace.{name}={ours!r}; give one of them")
    return changed


#: the kinds of a call attempt's end, as the load log stores them (index = code)
CALL_KINDS = ("ok", "ocs_error", "timeout", "http_429", "http_503", "transport", "other")
_KIND_CODES = {kind: code for code, kind in enumerate(CALL_KINDS)}
#: seconds over which the progress bar's rate and latency are taken
RECENT_S = 5.0
#: attempts :meth:`Load.summary` reads at a time
_SUMMARY_BLOCK = 65_536


class Load:
    """The load a run put on the server, one entry per call attempt (retries included), in compact arrays
    (17 bytes an attempt): when it was sent (epoch seconds), its latency (seconds from the POST to its end),
    the concurrency limit in force and the calls in flight when it was sent (itself included), and its kind
    (:data:`CALL_KINDS`).  ``batch.load`` / ``run.load`` of a run made in this process; :meth:`frame` for
    pandas, :meth:`summary` for the figures the summaries show, ``batch.plot_load()`` for the picture.
    """

    def __init__(self) -> None:
        from array import array

        self.sent = array("d")
        self.latency = array("f")
        self.concurrency = array("H")
        self.in_flight = array("H")
        self.kind = array("B")
        self.floor_s: float | None = None  # the lowest latency of a successful call so far

    def add(self, sent: float, latency_s: float, concurrency: int, in_flight: int, kind: str) -> None:
        """One call attempt (once per attempt on the loop thread: kept to appends, a lookup and compares)."""
        self.sent.append(sent)
        self.latency.append(latency_s)
        self.concurrency.append(concurrency if concurrency < 65535 else 65535)
        self.in_flight.append(in_flight if in_flight < 65535 else 65535)
        self.kind.append(_KIND_CODES.get(kind, len(CALL_KINDS) - 1))  # an unknown kind is "other", the last
        if kind == "ok":
            floor = self.floor_s
            if floor is None or latency_s < floor:
                self.floor_s = latency_s

    def __len__(self) -> int:
        return len(self.sent)

    def recent(self, now: float, seconds: float = RECENT_S) -> tuple[float, float | None]:
        """``(calls per second, median latency in seconds)`` over the attempts that ended in the last
        ``seconds`` before ``now`` (epoch seconds; over the run's age when it is younger); the latency is
        ``None`` when none ended."""
        latencies = []
        # the loop thread appends while the progress bar reads: kind is appended last, so every array
        # holds at least len(kind) entries
        for i in range(len(self.kind) - 1, -1, -1):  # newest first: stops at the first one too old
            if self.sent[i] + self.latency[i] < now - seconds:
                break
            latencies.append(self.latency[i])
        if not latencies:
            return 0.0, None
        latencies.sort()
        span = min(seconds, now - self.sent[0])  # a run younger than `seconds` is measured over its age
        return len(latencies) / max(span, 0.1), latencies[len(latencies) // 2]

    def summary(self) -> dict[str, Any]:
        """``calls``, ``seconds`` (first send to last end), ``rate`` (calls/s over those), ``concurrency``
        (the limit in force: its last value, and its ``concurrency_min``/``concurrency_max``),
        ``in_flight_max``, ``latency_p50_ms``/``latency_p95_ms`` (successful calls) and ``latency_floor_ms``
        (the lowest); empty when no call ended."""
        import numpy as np

        n = len(self.kind)  # appended last: the other arrays hold at least as many
        if not n:
            return {}
        # numpy over copies of slices of the arrays, a block at a time: no Python float per attempt, no
        # view on an array the loop thread may be appending to, and a few hundred KiB at a time however
        # long the run (whole-array copies come to about 12 MiB for a million attempts, by their sizes)
        end, first = -math.inf, math.inf
        ok_blocks = []
        for start in range(0, n, _SUMMARY_BLOCK):
            stop = min(n, start + _SUMMARY_BLOCK)
            sent = np.frombuffer(self.sent[start:stop], dtype=np.float64)
            latency = np.frombuffer(self.latency[start:stop], dtype=np.float32)
            end = max(end, float((sent + latency).max()))  # float32 widened exactly, summed in float64
            first = min(first, float(sent.min()))
            ok_blocks.append(latency[np.frombuffer(self.kind[start:stop], dtype=np.uint8) == 0])
        ok = np.concatenate(ok_blocks)
        del ok_blocks
        ok.sort()
        seconds = max(end - first, 1e-9)

        def pct(p: int) -> float | None:
            return None if not len(ok) else round(float(ok[min(len(ok) - 1, int(p / 100 * len(ok)))]) * 1000, 1)

        concurrency = self.concurrency[:n]  # array('H'): 2 bytes an attempt, min/max in C
        return {"calls": n, "seconds": round(seconds, 2), "rate": round(n / seconds, 1),
                "concurrency": concurrency[-1], "concurrency_min": min(concurrency),
                "concurrency_max": max(concurrency), "in_flight_max": max(self.in_flight[:n]),
                "latency_p50_ms": pct(50), "latency_p95_ms": pct(95),
                "latency_floor_ms": None if self.floor_s is None else round(self.floor_s * 1000, 1)}

    def text(self) -> str:
        """One line of :meth:`summary`: ``"1,500 calls in 30.0 s: 50.0 calls/s, concurrency 16 (max in
        flight 3), latency p50 12.1 ms (floor 8.0 ms)"``."""
        s = self.summary()
        if not s:
            return "no call"
        conc = (f"concurrency {s['concurrency']}" if s["concurrency_min"] == s["concurrency_max"]
                else f"concurrency {s['concurrency_min']}–{s['concurrency_max']} (last {s['concurrency']})")
        latency = "" if s["latency_p50_ms"] is None else (
            f", latency p50 {s['latency_p50_ms']:.1f} ms (floor {s['latency_floor_ms']:.1f} ms)")
        return (f"{s['calls']:,} calls in {s['seconds']:.1f} s: {s['rate']:.1f} calls/s, {conc} "
                f"(max in flight {s['in_flight_max']}){latency}")

    def frame(self) -> Any:
        """One row per call attempt: ``sent`` (``datetime64[ns, UTC]``), ``latency_ms`` (float64),
        ``concurrency``, ``in_flight`` (int64), ``kind`` (category of :data:`CALL_KINDS`)."""
        import numpy as np
        import pandas as pd

        return pd.DataFrame({
            "sent": pd.to_datetime(np.asarray(self.sent, dtype="float64"), unit="s", utc=True),
            "latency_ms": np.asarray(self.latency, dtype="float64") * 1000.0,
            "concurrency": np.asarray(self.concurrency, dtype="int64"),
            "in_flight": np.asarray(self.in_flight, dtype="int64"),
            "kind": pd.Categorical.from_codes(np.asarray(self.kind, dtype="int64"), categories=list(CALL_KINDS)),
        })
