"""The pictures a debugging session or a campaign analysis needs, each in one call (matplotlib).

- :func:`timeline`: one call's messages against milliseconds since its POST, the HTTP answer and
  ChainedRecordsDataEnd marked, notifications and the server's user events drawn differently;
- :func:`latency`: the client's POST-to-DataEnd time and the server's processing time per event, as
  histograms with their p50 / p90 / p99 (the percentiles of :func:`gwsnb.batch.percentiles`), and the
  calls' time split into POST round trip, server processing and delivery delay (an interval, read
  against the server's clock: docs/watch.md);
- :func:`breakdown`: chain lengths, ``record_status`` and ``call_result`` counts;
- :func:`load`: the load a run put on the server: calls/s, calls in flight with the concurrency limit,
  latency with its floor, over the run.

The same functions are methods of the data model: ``result.plot_timeline()``, ``batch.plot_latency()``,
``batch.plot_breakdown()``.  Each returns what it drew on (the :class:`~matplotlib.axes.Axes` for one
panel, the :class:`~matplotlib.figure.Figure` for several) so that you can adjust titles, limits or
save it.  Given no ``ax`` / ``fig``, a new pyplot figure is made: in a notebook it is shown under the
cell, as pandas' ``.plot()`` does (assign the result, ``fig = batch.plot_latency()``, or end the line
with ``;``: a Figure left as a cell's last value is drawn a second time by Jupyter, as any pyplot figure
is); in a script call ``matplotlib.pyplot.show()`` or ``fig.savefig(...)``.
The HTML summaries draw the same pictures, small, on figures of their own (no pyplot state).

``latency`` and ``breakdown`` take a :class:`~gwsnb.batch.ChainedRecordBatch`, a
:class:`~gwsnb.widgets.ChainedRecordForm`, or any iterable of results and the errors the client raised
(what ``asyncio.gather(..., return_exceptions=True)`` returns, for example).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from . import frames, protocol
from .batch import percentiles
from .results import ChainedRecordResult

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["breakdown", "latency", "load", "load_frame", "timeline"]

BLUE = "#1565c0"
ORANGE = "#ef6c00"
GREEN = "#2e7d32"
PURPLE = "#6a1b9a"
GREY = "#757575"
PERCENTILES = (50, 90, 99)
_PERCENTILE_STYLE = {50: "-", 90: "--", 99: ":"}
_MAX_TICK_LABELS = 40  # beyond this many messages the per-message labels would overlap
_TOP_RESULTS = 12


# ---------------------------------------------------------------------------------------- timeline
def _lane(message: Any) -> str:
    channel = message.get("channel") if isinstance(message, dict) else None
    if channel == protocol.CHANNEL_INTERNAL:
        return "user event"
    if isinstance(channel, str) and channel.startswith(protocol.CHANNEL_OUTBOUND):
        return "notification"
    return "other"


def _what(message: Any) -> str:
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, dict):
        return str(message.get("channel", "?")) if isinstance(message, dict) else "?"
    user_data = data.get("userData")
    if data.get("messageType") == "DeviceUserEventMessage" and isinstance(user_data, dict):
        return f"user event {user_data.get('GSW_USER_EVENT', '?')}"
    what = str(data.get("notificationType") or data.get("messageType") or "?")
    record = data.get("record")
    if isinstance(record, dict) and isinstance(record.get("userData"), dict):
        chain_n = record["userData"].get("chain_n")
        if chain_n is not None:
            what += f" #{chain_n}"
    return what


_LANES = {"notification": (BLUE, "o"), "user event": (ORANGE, "^"), "other": (GREY, "s")}


def draw_timeline(ax: Axes, result: ChainedRecordResult, *, labels: bool = True) -> Axes:
    """Draw :func:`timeline` on ``ax``; ``labels=False`` leaves out the per-message tick labels and legend
    (the small chart of the HTML summary)."""
    sent = result.timings.sent
    events = list(result.events)
    offsets = [(event.received_at - sent) * 1000.0 for event in events]
    lanes = [_lane(event.message) for event in events]
    for lane, (color, marker) in _LANES.items():
        rows = [i for i, name in enumerate(lanes) if name == lane]
        if rows:
            ax.scatter([offsets[i] for i in rows], rows, c=color, marker=marker, s=28 if labels else 14,
                       zorder=3, label=f"{lane} ({len(rows)})")
    if result.timings.http_ms is not None:
        ax.axvline(result.timings.http_ms, color=GREY, linestyle="--", label="HTTP answer")
    if result.timings.total_ms is not None:
        ax.axvline(result.timings.total_ms, color="#c62828", linestyle=":", label="ChainedRecordsDataEnd")
    ax.set_xlabel("ms since the POST")
    ax.set_ylim(len(events) - 0.5 if events else 0.5, -0.5)  # first message on top
    if labels and len(events) <= _MAX_TICK_LABELS:
        ax.set_yticks(range(len(events)), [_what(event.message) for event in events], fontsize=7)
    else:
        ax.set_ylabel("message (arrival order)")
    state = "" if result.complete else " (incomplete: no DataEnd)"
    ax.set_title(f"GetChainedRecord handle {result.record_handle}: {len(events)} messages{state}",
                 fontsize=9 if labels else 8)
    ax.grid(axis="x", alpha=0.3)
    if labels:
        # outside, on the right: the messages run from the top left to the bottom right
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return ax


def timeline(result: ChainedRecordResult, *, ax: Axes | None = None) -> Axes:
    """One call's messages (each ChainedRecord, each user event, DataEnd) against ms since the POST.

    One mark per message in ``result.events``, in arrival order from the top: notifications
    (``/v2/me/outbound``) as blue circles, the server's user events (``/me/internal``) as orange
    triangles; dashed line: the HTTP answer, dotted: ChainedRecordsDataEnd.  Returns the Axes.
    """
    if ax is not None:
        return draw_timeline(ax, result)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 0.3 * min(len(result.events), _MAX_TICK_LABELS) + 1.4))
    draw_timeline(ax, result)
    fig.tight_layout()
    return ax


# ---------------------------------------------------------------------------------------- sources
def _frame(source: Any, name: str) -> pd.DataFrame:
    """``source.<name>()`` for a batch or a form, else the builder of :mod:`gwsnb.frames` over the items."""
    method = getattr(source, name, None)
    if callable(method) and not isinstance(source, (list, tuple)):
        return method()
    if isinstance(source, ChainedRecordResult):
        return getattr(frames, name)([source])
    if not isinstance(source, Iterable):
        raise TypeError(f"expected a batch, a form or an iterable of results, got {type(source).__name__}")
    with warnings.catch_warnings():  # a FrameWarning belongs to whoever builds the frame, not to a picture
        warnings.simplefilter("ignore", frames.FrameWarning)
        return getattr(frames, name)(source)  # what a builder does not read it skips (errors, other messages)


def _reusable(source: Any) -> Any:
    """``source`` itself, or a list of it when it is a one-pass iterator (a generator, ``map(...)``)."""
    if isinstance(source, Iterator):
        return list(source)
    return source


def server_ms(metrics: pd.DataFrame) -> pd.Series:
    """Server processing time per event in ms: ``node_processing_ms`` where GWS gave it (whole-ms
    ``server_processing_ms`` reads 0 or 1 on a fast server), else ``server_processing_ms``."""
    node = metrics["node_processing_ms"]
    chosen = node if node.notna().any() else metrics["server_processing_ms"]
    return chosen.astype("Float64").dropna().astype(float)


def client_ms(calls: pd.DataFrame) -> pd.Series:
    """POST to ChainedRecordsDataEnd in ms, of the calls that succeeded."""
    ok = calls[calls["status"] == "ok"]
    return ok["total_ms"].astype("Float64").dropna().astype(float)


# ---------------------------------------------------------------------------------------- latency
def draw_histogram(ax: Axes, values: Sequence[float], *, color: str, title: str, unit: str = "ms",
                   marks: Sequence[int] = PERCENTILES, legend: bool = True) -> Axes:
    """A histogram of ``values`` with a vertical line per percentile in ``marks``."""
    values = list(values)
    if values:
        ax.hist(values, bins=min(30, max(5, len(values) // 3)), color=color, alpha=0.85)
    for p, value in percentiles(values, marks).items():
        ax.axvline(value, color="black", linestyle=_PERCENTILE_STYLE.get(p, "-"), linewidth=1,
                   label=f"p{p} {value:.1f} {unit}")
    ax.set_xlabel(f"{title} ({unit})")
    ax.set_ylabel("count")
    if not values:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center", color=GREY)
    elif legend:
        ax.legend(fontsize=7)
    return ax


def draw_split(ax: Axes, calls: pd.DataFrame) -> Axes:
    """Where a call's time goes, from the calls frame's columns: one bar each for the POST round trip
    (``http_ms``), the server's processing (``server_processing_ms``) and the delivery delay
    (``delivery_low_ms`` .. ``delivery_high_ms``), at their medians, a thin line out to their p90.  The
    delivery bar is solid up to the median low end and hatched over the interval's width: the part the
    clocks cannot tell apart (docs/watch.md)."""
    ok = calls[calls["status"] == "ok"]
    parts = [("http_ms", PURPLE), ("server_processing_ms", BLUE)]
    rows = ["POST round trip", "server processing", "delivery delay"]
    drawn = 0
    for y, (column, color) in enumerate(parts):
        values = ok[column].astype("Float64").dropna().astype(float).tolist()
        if values:
            pct = percentiles(values, (50, 90))
            ax.barh(y, pct[50], color=color, alpha=0.85)
            ax.plot([pct[50], pct[90]], [y, y], color="black", linewidth=1)
            ax.text(pct[50], y, f" {pct[50]:.1f} ms", va="center", fontsize=7)
            drawn += 1
    low = ok["delivery_low_ms"].astype("Float64").dropna().astype(float).tolist()
    high = ok["delivery_high_ms"].astype("Float64").dropna().astype(float).tolist()
    if low and high:
        lows, highs = percentiles(low, (50, 90)), percentiles(high, (50, 90))
        ax.barh(2, lows[50], color=GREEN, alpha=0.85)
        ax.barh(2, max(highs[50] - lows[50], 0.0), left=lows[50], color="white", edgecolor=GREEN, hatch="///")
        ax.plot([highs[50], highs[90]], [2, 2], color="black", linewidth=1)
        ax.text(highs[50], 2, f" {lows[50]:.1f}–{highs[50]:.1f} ms", va="center", fontsize=7)
        drawn += 1
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("median per call, line to p90 (ms)")
    offset = calls.attrs.get("clock_offset")
    if isinstance(offset, dict):
        from ._engine.clock import ClockOffset

        clock = ClockOffset(**offset)
        ax.set_title(f"{clock.describe()}", fontsize=8)
    else:
        ax.set_title("no server timestamps: delivery cannot be split", fontsize=8)
    if not drawn:
        ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center", color=GREY)
    return ax


def latency(source: Any, *, fig: Figure | None = None) -> Figure:
    """Three panels: the client's POST-to-DataEnd time of each successful call (left) and the server's
    processing time of each event (middle, ``node_processing_ms``, else ``server_processing_ms``) as
    histograms, each with its p50 / p90 / p99 as vertical lines labelled in ms; and (right) the calls'
    time split into POST round trip, server processing and delivery delay (:func:`draw_split`).
    Returns the Figure."""
    source = _reusable(source)
    calls = _frame(source, "calls_frame")
    metrics = _frame(source, "metrics_frame")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(15, 3.5))
    left, right, split = fig.subplots(1, 3)
    draw_histogram(left, client_ms(calls).tolist(), color=PURPLE, title="client: POST to DataEnd")
    left.set_title(f"{int((calls['status'] == 'ok').sum())} successful call(s)", fontsize=9)
    draw_histogram(right, server_ms(metrics).tolist(), color=BLUE, title="server processing per event")
    right.set_title(f"{len(metrics)} server event(s)", fontsize=9)
    draw_split(split, calls)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------- breakdown
def _barh(ax: Axes, counts: pd.Series, *, color: str, title: str) -> None:
    counts = counts[counts > 0]
    ax.barh([str(label) for label in counts.index], counts.to_numpy(dtype=float), color=color)
    ax.invert_yaxis()
    ax.set_xlabel("records")
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="y", labelsize=7)


def breakdown(source: Any, *, fig: Figure | None = None) -> Figure:
    """Three bar charts of the records: chain lengths (how many calls returned a chain of n records),
    ``record_status`` counts and the most frequent ``call_result`` labels.  Returns the Figure."""
    records = _frame(source, "records_frame")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(13, 3.6))
    lengths_ax, status_ax, result_ax = fig.subplots(1, 3)
    key = "reference_id" if records["reference_id"].notna().any() else "chain_id"
    lengths = records.groupby(key, observed=True).size().value_counts().sort_index()
    lengths_ax.bar([str(n) for n in lengths.index], lengths.to_numpy(dtype=float), color=BLUE)
    lengths_ax.set_xlabel("records in the chain")
    lengths_ax.set_ylabel("chains")
    lengths_ax.set_title(f"chain lengths ({int(lengths.sum())} chains)", fontsize=9)
    _barh(status_ax, records["record_status"].value_counts(sort=True), color=GREEN, title="record_status")
    results = records["call_result"].value_counts(sort=True)
    top = results[results > 0].head(_TOP_RESULTS)
    _barh(result_ax, top, color=ORANGE, title=f"call_result (top {_TOP_RESULTS})")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------- load
def load_frame(source: Any) -> pd.DataFrame:
    """One row per call attempt of a run: ``sent`` (UTC), ``latency_ms``, ``concurrency`` (the limit in
    force; NaN when unknown) and ``in_flight`` at send.  From the run's :class:`gwsnb.pace.Load` when it
    has one (a batch or a run made in this process), else a streamed run's load logs
    (:meth:`gwsnb.runs.Run.load_frame`), else its calls table (a run written before the load logs: the
    last attempt of each handle, the calls in flight counted from their send and end times)."""
    import numpy as np
    import pandas as pd

    load = getattr(source, "load", None)
    if load is not None and len(load):
        return load.frame()
    stored = source.load_frame() if callable(getattr(source, "load_frame", None)) else None
    if stored is not None and len(stored):
        return stored.sort_values("sent", ignore_index=True)
    calls = source.calls_frame(columns=["sent", "total_ms"]) if hasattr(source, "meta") else _frame(source,
                                                                                                    "calls_frame")
    calls = calls[calls["sent"].notna() & calls["total_ms"].notna()].sort_values("sent")
    starts = calls["sent"].astype("int64").to_numpy() / 1e9
    latency = calls["total_ms"].to_numpy(dtype="float64")
    ends = np.sort(starts + latency / 1000.0)
    in_flight = np.arange(1, len(starts) + 1) - np.searchsorted(ends, starts, side="right")
    return pd.DataFrame({"sent": calls["sent"].to_numpy(), "latency_ms": latency,
                         "concurrency": np.full(len(starts), np.nan), "in_flight": in_flight.astype("int64")})


def _per_second(frame: pd.DataFrame) -> pd.DataFrame:
    """The load per second since the first send: calls, max in flight, concurrency, latency p50/p95."""
    import numpy as np

    seconds = ((frame["sent"] - frame["sent"].min()).dt.total_seconds()).to_numpy()
    grouped = frame.assign(second=np.floor(seconds).astype("int64")).groupby("second")
    per = grouped.agg(calls=("latency_ms", "size"), in_flight=("in_flight", "max"),
                      concurrency=("concurrency", "last"), p50=("latency_ms", "median"))
    per["p95"] = grouped["latency_ms"].quantile(0.95)
    return per.reindex(range(int(per.index.max()) + 1)).fillna({"calls": 0})


def load(source: Any, *, fig: Figure | None = None) -> Figure:
    """Three panels over the run, per second since its first call: calls sent per second, calls in flight
    (the most at a send in that second) with the concurrency limit in force, and the latency (POST to
    DataEnd, p50 and p95) with its floor (the lowest).  ``source``: a batch or a streamed run (see
    :func:`load_frame`).  Returns the Figure."""
    frame = load_frame(source)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(15, 3.5))
    rate_ax, flight_ax, latency_ax = fig.subplots(1, 3, sharex=True)
    if frame.empty:
        for ax in (rate_ax, flight_ax, latency_ax):
            ax.text(0.5, 0.5, "no calls", transform=ax.transAxes, ha="center", va="center", color=GREY)
        return fig
    per = _per_second(frame)
    rate_ax.bar(per.index, per["calls"], width=1.0, align="edge", color=BLUE)
    rate_ax.set_title(f"calls/s ({len(frame):,} calls)", fontsize=9)
    flight_ax.step(per.index, per["in_flight"], where="post", color=PURPLE, label="in flight (max)")
    if per["concurrency"].notna().any():
        flight_ax.step(per.index, per["concurrency"], where="post", color=ORANGE, linestyle="--",
                       label="concurrency limit")
    flight_ax.set_title("calls in flight", fontsize=9)
    flight_ax.set_ylim(bottom=0)
    flight_ax.legend(fontsize=7)
    latency_ax.plot(per.index, per["p50"], color=GREEN, label="p50")
    latency_ax.plot(per.index, per["p95"], color=GREEN, linestyle=":", label="p95")
    latency_ax.axhline(float(frame["latency_ms"].min()), color=GREY, linestyle="--", label="floor")
    latency_ax.set_title("latency (ms)", fontsize=9)
    latency_ax.set_ylim(bottom=0)
    latency_ax.legend(fontsize=7)
    for ax in (rate_ax, flight_ax, latency_ax):
        ax.set_xlabel("seconds since the first call")
    fig.tight_layout()
    return fig
