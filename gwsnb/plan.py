"""A plan before a bulk run: how many calls, how fast, how long, and in which windows, from a small sample
(:meth:`gwsnb.GwsClient.plan`, ``gwsnb chained-records --plan``; see ``docs/production.md``).

**The calls.**  With each chain once (the default, :mod:`gwsnb._engine.coverage`), a run calls about one
handle per chain among its handles.  The plan calls a random sample of the handles (every handle of the
sample called, ``every_handle``) and, for each sampled handle ``h``, counts ``m(h)``, the handles of the
list in ``h``'s chain.  A chain with ``m`` handles in the list is drawn ``m`` times as often as a chain
with one, so the number of chains is estimated as ``handles × mean(1 / m(h))`` (each handle stands for
``1/m`` of a chain: the Horvitz–Thompson estimate).  The plain ``handles / mean chain size`` would count
the long chains too often (a handle drawn at random sits in a long chain more often than a chain drawn at
random is long) and under-estimates the calls: by more than 10% on the sandbox's lists, where this estimate
is within 10% (``tests/pace/test_plan.py``).  The coverage calls
a chain more than once only when its handles in the list lie farther apart than its window
(:data:`gwsnb._engine.coverage.WINDOW`) and the lanes reach them before the first call answered: the
plan's ``calls_high`` counts each such group of a sampled chain as a call of its own (an upper bound).

**The time.**  Calls per second are the rate cap, or the concurrency divided by the sample's mean
latency when that is lower; for ``concurrency="auto"`` the ceiling (``max_concurrency``) is taken, an
optimistic figure.  The windows cut the time into the spans the run sends in.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._engine.coverage import WINDOW, record_handles
from .pace import Pace

__all__ = ["Plan", "estimate_calls", "schedule"]

#: the longest a plan's schedule looks ahead (a run that does not end within it is shown as not ending)
HORIZON_DAYS = 366


def _groups(members: Sequence[int], window: int = WINDOW) -> int:
    """How many groups the sorted ``members`` form when a gap wider than ``window`` splits them."""
    groups = 1
    for low, high in zip(members, members[1:], strict=False):
        if high - low > window:
            groups += 1
    return groups


def estimate_calls(handles: int, handle_set: set[int], chains: Iterable[Sequence[Any]],
                   every_handle: bool = False) -> tuple[float, float]:
    """``(calls, calls_high)`` a run of ``handles`` handles makes, from the records of the sampled calls'
    chains (one sequence of record dicts per sampled handle); see the module.  Every handle when
    ``every_handle`` or when nothing was sampled."""
    if every_handle:
        return float(handles), float(handles)
    shares, highs = [], []
    for records in chains:
        members = sorted(set(record_handles(records)) & handle_set)
        m = max(1, len(members))
        shares.append(1.0 / m)
        highs.append(_groups(members) / m if members else 1.0)
    if not shares:
        return float(handles), float(handles)
    return handles * sum(shares) / len(shares), handles * sum(highs) / len(highs)


def schedule(pace: Pace, work_s: float, start: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """The spans a run that needs ``work_s`` seconds of sending spends sending, from ``start`` (a datetime
    in the pace's zone) through the pace's windows: one span without windows; empty when it does not end
    within ``HORIZON_DAYS`` (366 days)."""
    if pace.window is None:
        return [(start, start + dt.timedelta(seconds=work_s))]
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    now, left = start, work_s
    limit = start + dt.timedelta(days=HORIZON_DAYS)
    while left > 0 and now < limit:
        opening = pace.next_opening(now)
        closing = pace.open_until(opening)
        assert closing is not None
        span = min(left, (closing - opening).total_seconds())
        end = opening + dt.timedelta(seconds=span)
        spans.append((opening, end))
        left -= span
        now = closing
    return spans if left <= 0 else []


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class Plan:
    """What a bulk run would do, estimated from a sample (see the module): ``handles``; ``sampled`` (the
    sample's calls) with their ``mean_chain`` size and ``latency_ms`` (mean, POST to DataEnd);
    ``calls`` (the estimate with each chain once; every handle with ``every_handle``) and ``calls_high``
    (an upper bound); ``stops_at`` (``max_calls`` when the budget ends the run first); ``rate`` and
    ``concurrency`` that apply; ``calls_per_s`` and ``duration_s`` (sending time); ``spans`` (the
    (start, end) datetimes the run sends in: one without windows, several with pauses between them).
    ``to_dict()``; shown as text (``str``) and HTML in a notebook.
    """

    pace: Pace
    handles: int
    sampled: int
    mean_chain: float | None
    latency_ms: float | None
    calls: int
    calls_high: int
    calls_per_s: float | None
    spans: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)
    every_handle: bool = False

    @property
    def stops_at(self) -> int | None:
        """``max_calls`` when the budget is spent before the run is done, else ``None``."""
        budget = self.pace.max_calls
        return budget if budget is not None and budget < self.calls else None

    @property
    def sent_calls(self) -> int:
        return self.calls if self.stops_at is None else self.stops_at

    @property
    def duration_s(self) -> float | None:
        """Seconds of sending (windows' pauses not counted); ``None`` when the speed is unknown."""
        return None if not self.calls_per_s else self.sent_calls / self.calls_per_s

    @property
    def pauses(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """The waits between the spans (outside the windows)."""
        return [(a[1], b[0]) for a, b in zip(self.spans, self.spans[1:], strict=False)]

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain values (datetimes as ISO strings)."""
        return {
            "handles": self.handles, "sampled": self.sampled, "mean_chain": self.mean_chain,
            "latency_ms": self.latency_ms, "every_handle": self.every_handle,
            "calls": self.calls, "calls_high": self.calls_high, "stops_at": self.stops_at,
            "concurrency": self.pace.concurrency, "max_concurrency": self.pace.max_concurrency,
            "rate": self.pace.rate, "max_calls": self.pace.max_calls, "window": self.pace.window,
            "tz": self.pace.tz, "calls_per_s": self.calls_per_s, "duration_s": self.duration_s,
            "spans": [(a.isoformat(), b.isoformat()) for a, b in self.spans],
        }

    def lines(self) -> list[str]:
        """The plan as lines of text (what ``str()`` and ``gwsnb chained-records --plan`` show)."""
        out = [f"handles      {self.handles:,}"]
        if self.sampled:
            latency = "" if self.latency_ms is None else f", latency {self.latency_ms:.0f} ms"
            out.append(f"sample       {self.sampled} call(s): mean chain {self.mean_chain:.2f} record(s){latency}")
        how = "every handle" if self.every_handle else "each chain once"
        out.append(f"calls        ~{self.calls:,} ({how}; at most ~{self.calls_high:,})")
        if self.stops_at is not None:
            out.append(f"budget       stops after {self.stops_at:,} calls (max_calls); resume to go on")
        out.append(f"pace         {self.pace.describe()}")
        if self.duration_s is not None:
            assert self.calls_per_s is not None
            out.append(f"duration     ~{_duration(self.duration_s)} of sending at ~{self.calls_per_s:,.0f} calls/s")
        else:
            out.append("duration     unknown (no sample and no rate)")
        for i, (start, end) in enumerate(self.spans):
            label = "runs" if i == 0 else "resumes"
            out.append(f"{label:<12} {start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S}")
        if self.pace.window is not None and not self.spans and self.duration_s is not None:
            out.append(f"windows      the run does not end within {HORIZON_DAYS} days")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(line[:12].strip())}</th>"
                       f"<td style='text-align:left'>{html.escape(line[12:].strip())}</td></tr>"
                       for line in self.lines())
        return f"<div class='gwsnb-plan'><p><b>GetChainedRecord plan</b></p><table>{rows}</table></div>"


def make_plan(pace: Pace, handles: Sequence[int], sample: Sequence[Any], *, every_handle: bool,
              start: dt.datetime | None = None) -> Plan:
    """The :class:`Plan` of a run of ``handles`` from the ``sample``'s results (complete results of
    sampled handles; other items are passed over)."""
    results = [r for r in sample if getattr(r, "complete", False)]
    chains = [r.records for r in results]
    calls, high = estimate_calls(len(handles), set(handles), chains, every_handle)
    latencies = [r.timings.total_ms for r in results if r.timings.total_ms is not None]
    latency_ms = sum(latencies) / len(latencies) if latencies else None
    speeds = [] if pace.rate is None else [pace.rate]
    if latency_ms:
        speeds.append(pace.workers / (latency_ms / 1000.0))
    calls_per_s = min(speeds) if speeds else None
    plan = Plan(pace, len(handles), len(results),
                sum(len(c) for c in chains) / len(chains) if chains else None, latency_ms,
                math.ceil(calls), math.ceil(high), calls_per_s, every_handle=every_handle)
    if plan.duration_s is not None:
        plan.spans = schedule(pace, plan.duration_s, start if start is not None else pace.now())
    return plan
