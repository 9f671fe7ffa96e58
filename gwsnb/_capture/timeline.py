"""The capture's timeline as a picture (matplotlib): each GWS exchange a bar, each notification a mark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes


__all__ = ["plot_timeline"]

_COLOURS = {"connect": "tab:blue", "rest": "tab:green", "failed": "tab:red", "other": "tab:gray"}


def plot_timeline(capture: Any, *, ax: Axes | None = None) -> Axes:
    """One row per GWS exchange (top: first) from its start to its end, seconds since the capture's start;
    long polls blue, REST green, failures (no answer, HTTP >= 400) red, other Bayeux requests grey;
    notifications as orange marks at the end of the long poll that carried them.  Returns the Axes."""
    import matplotlib.pyplot as plt

    entries = capture.gws_entries
    if ax is None:
        _, ax = plt.subplots(figsize=(10, min(0.12 * len(entries) + 1.5, 12)))
    start = capture.entries[0].started_s
    for row, entry in enumerate(entries):
        left = entry.started_s - start
        width = max(entry.ended_s - entry.started_s, 0.001)
        kind = "rest" if not entry.is_bayeux else (
            "connect" if any(m.get("channel") == "/meta/connect" for m in entry.sent_messages()) else "other")
        if entry.status == 0 or entry.status >= 400:
            kind = "failed"
        ax.barh(row, width, left=left, height=0.8, color=_COLOURS[kind])
        notifications = sum(1 for m in entry.received_messages() if not str(m.get("channel", "")).startswith("/meta/"))
        if notifications:
            ax.plot([left + width], [row], marker="o", color="tab:orange", markersize=3 + min(notifications, 8))
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the capture's start")
    ax.set_ylabel("GWS exchange (in start order)")
    ax.set_title(f"{len(entries)} GWS exchanges, {len(capture.notifications)} notifications")
    return ax
