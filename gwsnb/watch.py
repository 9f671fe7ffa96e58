"""``client.watch()``: a live view of a client's CometD session in a notebook (docs/watch.md).

The watch shows the messages of the session as they arrive (time, channel, messageType /
notificationType, the referenceId marked ``ours``, ``foreign`` or ``none``, the delivery delay as an
interval read against the server's clock) with alerts above them (a ``402``, a gap between connects, a
connect cut before the advised timeout, foreign referenceIds, ``multiple-clients``).  It is an
:mod:`ipywidgets` ``HTML`` widget with a stop button, redrawn in place from the client's loop thread at
most every ``interval`` seconds and only when something changed, from a bounded buffer: a bulk run in
another cell goes on at its own pace (``benchmarks/bench_watch.py`` measures it).

The logic (buffer, alerts, rows) is :class:`gwsnb._engine.watch.WatchCore`; the HTML is
:mod:`gwsnb._display.watch`; ``gwsnb watch`` prints the same rows as lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ._display import watch as _view
from ._engine.watch import ROW_FIELDS, Alert, WatchCore
from .errors import InvalidParameterError, TransportError
from .params import check_int

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from ._engine.clock import ClockOffset
    from ._engine.watch import OwnReferences
    from ._wire.cometd import CometdSession
    from ._wire.loop import LoopThread

__all__ = ["Watch"]

#: the shortest and longest redraw interval a watch accepts (seconds)
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.05, 60.0


def _check_interval(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not MIN_INTERVAL_S <= value <= MAX_INTERVAL_S:
        raise InvalidParameterError("interval", value, f"expected seconds between {MIN_INTERVAL_S} and {MAX_INTERVAL_S}")
    return float(value)


class Watch:
    """A live watch on one client's CometD session (make it with :meth:`gwsnb.GwsClient.watch`).

    Display it (the last expression of a cell, or ``display(watch)``) to see it update; ``stop()`` or its
    button ends it (the rows stay).  ``frame()`` gives the buffered rows as a DataFrame, ``alerts`` the
    alerts; ``renders`` counts the redraws.
    """

    def __init__(self, cometd: CometdSession | None, loop: LoopThread | None, references: OwnReferences,
                 clock: Callable[[], ClockOffset | None], *, rows: int = 25, interval: float = 0.25,
                 buffer: int = 5000) -> None:
        self.rows = check_int("rows", rows, 1, 1000)
        self.interval = _check_interval(interval)
        buffer = check_int("buffer", buffer, 10, 10_000_000)
        if cometd is None or loop is None or not loop.running:
            raise TransportError("the client is closed")
        self.core = WatchCore(references, clock, buffer=buffer)
        self._cometd = cometd
        self._stopped = threading.Event()
        self._client_closed = False
        self._lock = threading.Lock()
        #: redraws so far, and the last few as (time, first row's seq shown, rows shown)
        self.renders = 0
        self.render_log: deque[tuple[float, int, int]] = deque(maxlen=1000)
        self.widget, self._html, self._button = self._widgets()
        cometd.observers.append(self.core)
        self._render()
        self._future = loop.submit(self._redraw_loop())

    def _widgets(self) -> tuple[Any, Any, Any]:
        import ipywidgets as w

        html = w.HTML()
        button = w.Button(description="stop watching", button_style="warning", icon="stop",
                          layout=w.Layout(width="auto"))
        button.on_click(lambda _: self.stop())
        return w.VBox([w.HBox([button]), html]), html, button

    # --- drawing --------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        if not self._stopped.is_set():
            return "watching"
        return "stopped (the client was closed)" if self._client_closed else "stopped"

    def _render(self) -> None:
        with self._lock:  # the loop's redraws and a stop() from the kernel's thread
            self._html.value = _view.table_html(self.core, rows=self.rows, state=self.state)
            self.renders += 1
            shown = min(self.rows, self.core.received_count - self.core.dropped)
            self.render_log.append((time.time(), self.core.received_count, shown))

    async def _redraw_loop(self) -> None:
        drawn = self.core.version
        try:
            while not self._stopped.is_set():
                await asyncio.sleep(self.interval)
                version = self.core.version
                if version != drawn:
                    drawn = version
                    self._render()
        finally:
            if not self._stopped.is_set():  # cancelled by the client's close, not by stop()
                self._client_closed = True
                self._finish()

    def _finish(self) -> None:
        self._stopped.set()
        self.core.stopped = time.time()
        with contextlib.suppress(ValueError):
            self._cometd.observers.remove(self.core)
        self._button.disabled = True
        self._button.description = "stopped"
        self._render()

    def stop(self) -> None:
        """Stop watching (idempotent): the session forgets the watch, the view shows its last rows."""
        if self._stopped.is_set():
            return
        self._finish()
        self._future.cancel()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    # --- reading --------------------------------------------------------------------------------
    @property
    def alerts(self) -> list[Alert]:
        """The alerts so far (the last 200; ``core.alert_counts`` counts them all, by kind)."""
        return self.core.alert_list()

    def frame(self) -> pd.DataFrame:
        """The buffered messages, one row each, oldest first (``seq``, ``received_at`` UTC, ``channel``,
        ``message_type``, ``notification_type``, ``reference_id``, ``reference`` ours / foreign / none,
        ``record_handle``, ``delay_low_ms``, ``delay_high_ms``, ``detail``).  ``attrs``: ``dropped``
        (messages no longer buffered) and ``alerts`` (as dicts)."""
        import pandas as pd

        rows = self.core.rows()
        columns = {name: [row[name] for row in rows] for name in ROW_FIELDS}
        frame = pd.DataFrame({
            "seq": pd.array(columns["seq"], dtype="Int64"),
            "received_at": pd.to_datetime(pd.Series(columns["received_at"], dtype="float64"), unit="s", utc=True),
            **{name: pd.array(columns[name], dtype="string")
               for name in ("channel", "message_type", "notification_type", "reference_id")},
            "reference": pd.Categorical(columns["reference"], categories=["ours", "foreign", "none"]),
            "record_handle": pd.array(columns["record_handle"], dtype="Int64"),
            "delay_low_ms": pd.array(columns["delay_low_ms"], dtype="Float64"),
            "delay_high_ms": pd.array(columns["delay_high_ms"], dtype="Float64"),
            "detail": pd.array(columns["detail"], dtype="string"),
        })
        frame.attrs["dropped"] = self.core.dropped
        frame.attrs["alerts"] = [a.as_dict() for a in self.alerts]
        return frame

    # --- display --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Watch {_view.header(self.core, state=self.state)}>"

    def _repr_html_(self) -> str:
        return _view.table_html(self.core, rows=self.rows, state=self.state)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
