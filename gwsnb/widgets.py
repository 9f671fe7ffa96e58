"""``ChainedRecordForm``: an ipywidgets form for GetChainedRecord (the only importer of ipywidgets).

The form is built from :class:`~gwsnb.params.ChainedRecordParams` and checks its input with the same
validator the client uses (:meth:`ChainedRecordParams.validate`, :func:`~gwsnb.params.parse_handles`), so
a bad value is refused, with the field named, before anything is sent.

Threading.  A click on "Get chained records" validates at once (in the kernel's thread), then runs the
calls in a background thread so the kernel stays responsive; :meth:`ChainedRecordForm.submit` is the
same code and, by default, blocks until every handle is done and returns the results (friendliest in a
notebook cell), or with ``wait=False`` behaves exactly like the click.  Widgets are only ever changed by
setting traitlets, under one lock: ipykernel sends comm messages from any thread through its IOPub
thread's per-thread pipes, so no Output-widget capture (which is tied to the main thread's display
hook) is used anywhere; results are rendered as HTML (tables, an inline SVG chart, a ``data:`` link).

Credentials: the password lives only in the Password widget until Connect, which clears it; neither
the form's repr nor any widget it renders shows it.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .batch import ChainedRecordBatch, percentiles
from .errors import (
    InvalidParameterError,
    describe_error,
)
from .params import MAX_HANDLE, ChainedRecordParams, parse_handles
from .results import ChainedRecordResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChainedRecordForm"]

_LABEL_WIDTH = "120px"
_FIELD = {"width": "360px"}
_CHART_MAX_BARS = 60  # beyond this a per-event bar chart is unreadable: show a histogram instead


class _SecretText(w.Password):
    """A Password widget whose repr never shows its value."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(description={self.description!r}, value=<hidden>)"


def _style() -> dict[str, str]:
    return {"description_width": _LABEL_WIDTH}


class ChainedRecordForm:
    """An interactive GetChainedRecord form.  Display it (last expression of a cell, or ``display(form)``).

    :param client: a connected :class:`~gwsnb.client.GwsClient`; without one the form shows a connection
        row (URL, username, password, verify TLS, Connect) and connects with :func:`gwsnb.connect`.
    :param campaign_name: initial campaign; ``campaigns`` are offered in the campaign combobox (free text
        is allowed too).
    :param application_id: initial OCS application id.
    :param record_handles: initial handle text, e.g. ``"7, 9, 20-30"``.
    :param timeout: seconds to wait for ChainedRecordsDataEnd, per handle.
    :param max_concurrency: calls in flight at once when several handles are asked for.

    After a run: :attr:`results` (the successful :class:`~gwsnb.results.ChainedRecordResult` objects, in
    handle order), :attr:`errors` (``{handle: error}``), :meth:`records_frame`, :meth:`metrics_frame`.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        campaign_name: str = "",
        campaigns: Iterable[str] = (),
        application_id: int | None = None,
        record_handles: str = "",
        timeout: float = 30.0,
        max_concurrency: int = 8,
        url: str = "",
        username: str = "",
        verify: bool = True,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise InvalidParameterError("max_concurrency", max_concurrency, "expected an integer >= 1")
        self._lock = threading.RLock()
        self._client: Any = None
        self._owns_client = False
        self._worker: threading.Thread | None = None
        self._max_concurrency = max_concurrency
        self.results: list[ChainedRecordResult] = []
        self.errors: dict[int, BaseException] = {}
        self.error: BaseException | None = None
        #: the last run's :class:`~gwsnb.batch.ChainedRecordBatch` (attempts, skipped handles, calls_frame())
        self.batch: ChainedRecordBatch | None = None

        # Connection row (shown only while there is no client).
        self.url = w.Text(value=url, description="GWS URL", placeholder="https://gws.example.com/api/v2",
                          style=_style(), layout=w.Layout(width="720px"))
        self.username = w.Text(value=username, description="Username", style=_style(), layout=_layout())
        self.password = _SecretText(description="Password", style=_style(), layout=_layout())
        self.verify = w.Checkbox(value=verify, description="Verify TLS", indent=False,
                                 layout=w.Layout(width="100px", margin="0 0 0 12px"))
        self.connect_button = w.Button(description="Connect", icon="plug", layout=w.Layout(width="120px"))
        self.connect_button.on_click(self._on_connect_click)
        self.connection_box = w.VBox(
            [self.url, w.HBox([self.username, self.password, self.verify, self.connect_button],
                               layout=w.Layout(align_items="center"))],
            layout=w.Layout(border="1px solid #ddd", padding="6px", margin="0 0 6px 0"),
        )
        self.connection_label = w.HTML()

        # Parameters.
        self.campaign = w.Combobox(value=campaign_name, options=_unique(campaigns), ensure_option=False,
                                   description="Campaign", placeholder="campaign name",
                                   style=_style(), layout=_layout())
        self.application_id = w.BoundedIntText(value=application_id or 1, min=1, max=MAX_HANDLE,
                                               description="Application id", style=_style(), layout=_layout())
        self.device = w.Dropdown(options=[], description="Device", style=_style(), layout=_layout())
        self.handles = w.Text(value=record_handles, description="Record handles", placeholder="7, 9, 20-30",
                              style=_style(), layout=_layout())
        self.timeout = w.FloatText(value=timeout, description="Timeout (s)", style=_style(), layout=_layout())
        params_grid = w.HBox([w.VBox([self.campaign, self.application_id, self.device]),
                              w.VBox([self.handles, self.timeout])])

        self.run_button = w.Button(description="Get chained records", button_style="primary", icon="search",
                                   layout=w.Layout(width="200px"))
        self.run_button.on_click(self._on_run_click)
        self.progress = w.IntProgress(value=0, min=0, max=1, description="", bar_style="info",
                                      layout=w.Layout(width="240px", display="none"))
        self.status = w.HTML(value="", layout=w.Layout(margin="0 0 0 10px"))
        action_row = w.HBox([self.run_button, self.progress, self.status],
                            layout=w.Layout(align_items="center", margin="6px 0"))

        # Results (HTML only, see the module docstring for why).
        self.error_box = w.HTML(value="")
        self.summary = w.HTML(value="")
        self.records_table = w.HTML(value="", layout=w.Layout(max_height="320px", overflow="auto",
                                                              width="100%"))
        self.chart = w.HTML(value="")
        self.download = w.HTML(value="", layout=w.Layout(margin="8px 0 0 16px"))
        results_box = w.VBox([self.summary, self.records_table,
                              w.HBox([self.chart, self.download], layout=w.Layout(align_items="flex-start"))])

        self.widget = w.VBox(
            [w.HTML("<h4 style='margin:0 0 6px 0'>GWS Outbound · GetChainedRecord</h4>"),
             self.connection_box, self.connection_label, params_grid, action_row, self.error_box, results_box],
            layout=w.Layout(padding="4px"),
        )
        self.widget.add_class("gwsnb-form")
        # Stable CSS hooks for the browser test and for user stylesheets.
        for name in ("url", "username", "password", "verify", "connect_button", "campaign", "application_id",
                     "device", "handles", "timeout", "run_button", "progress", "status", "error_box",
                     "summary", "records_table", "chart", "download"):
            getattr(self, name).add_class("gwsnb-" + name.replace("_", "-"))
        if client is not None:
            self._attach(client, owned=False)
        else:
            self._set_connected(False)

    # ------------------------------------------------------------------ display & repr
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        state = "connected" if self._client is not None else "not connected"
        return (f"<ChainedRecordForm {state} campaign={self.campaign.value!r} "
                f"handles={self.handles.value!r} results={len(self.results)} errors={len(self.errors)}>")

    # ------------------------------------------------------------------ public API
    @property
    def client(self) -> Any:
        """The client the form uses (``None`` until connected)."""
        return self._client

    @property
    def running(self) -> bool:
        """True while a background run (a click or ``submit(wait=False)``) is in progress."""
        worker = self._worker
        return worker is not None and worker.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a background run ends; returns False if ``timeout`` passed first."""
        worker = self._worker
        if worker is None:
            return True
        worker.join(timeout)
        return not worker.is_alive()

    def set_params(
        self,
        *,
        campaign_name: str | None = None,
        application_id: int | None = None,
        device_path: str | None = None,
        record_handles: str | int | Sequence[int] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Fill the form's fields (only those given).

        :raises InvalidParameterError: ``device_path`` is not one of the connected user's devices, or
            ``application_id`` is not an integer in 1..2**31-1 (the field widget could not hold it).
        """
        with self._lock:
            if campaign_name is not None:
                self.campaign.value = campaign_name
            if application_id is not None:
                params = ChainedRecordParams(1, "x", application_id).validate()
                self.application_id.value = params.application_id
            if device_path is not None:
                choices = [value for _, value in self.device.options]
                if device_path not in choices:
                    error = InvalidParameterError(
                        "device_path", device_path,
                        "not one of this user's devices: " + (", ".join(choices) or "none (connect first)"))
                    self._show_error(error)
                    raise error
                self.device.value = device_path
            if record_handles is not None:
                if isinstance(record_handles, str):
                    self.handles.value = record_handles
                elif isinstance(record_handles, int):
                    self.handles.value = str(record_handles)
                else:
                    self.handles.value = ", ".join(str(h) for h in record_handles)
            if timeout is not None:
                self.timeout.value = float(timeout)

    def params(self) -> list[ChainedRecordParams]:
        """The validated parameters the form would send, one per handle.

        :raises InvalidParameterError: naming the first bad field (``record_handles``, ``campaign_name``,
            ``application_id``, ``device_path`` or ``timeout``) and its value.
        """
        handles = parse_handles(self.handles.value)
        device = self.device.value if self.device.value else None
        return [
            ChainedRecordParams(handle, self.campaign.value, self.application_id.value, device, None,
                                self.timeout.value).validate()
            for handle in handles
        ]

    def submit(self, *, wait: bool = True) -> list[ChainedRecordResult]:
        """Do what the "Get chained records" button does.

        Validates the fields (a bad one is shown inline and raised: nothing is sent), then calls
        GetChainedRecord for every handle, updating the progress bar, the status line and the results.
        Errors of individual calls do not raise: they are shown inline and kept in :attr:`errors`.

        :param wait: block until done and return :attr:`results` (default); with ``False`` the calls run
            in a background thread, as for a click, and the current (empty) results are returned.
        :raises InvalidParameterError: a field is invalid (also shown in the form).
        :raises RuntimeError: not connected, or a run is already in progress.
        """
        with self._lock:
            if self.running:
                raise RuntimeError("a GetChainedRecord run is already in progress")
            if self._client is None:
                error = RuntimeError("not connected: fill in the connection row and press Connect")
                self._show_error(error)
                raise error
            try:
                params = self.params()
            except InvalidParameterError as exc:
                self._show_error(exc)
                raise
            self._start_run(params)
            # Always a worker thread: the kernel's main thread runs its own event loop.
            self._worker = threading.Thread(target=self._run, args=(params,), name="gwsnb-form", daemon=True)
            self._worker.start()
        if wait:
            self._worker.join()
        return list(self.results)

    def connect(self, url: str | None = None, username: str | None = None, password: str | None = None,
                *, verify: bool | None = None) -> Any:
        """Connect with the given values, or those of the connection row (what Connect does); blocks.

        The password widget is cleared whatever the outcome.

        :raises GwsError: the connection failed (also shown inline).
        """
        from .client import connect as gws_connect

        url = self.url.value if url is None else url
        username = self.username.value if username is None else username
        secret = self.password.value if password is None else password
        verify = self.verify.value if verify is None else verify
        with self._lock:
            self.password.value = ""
            self.connect_button.disabled = True
            self.status.value = _status("Connecting…", "info")
        try:
            if not url or not url.strip():
                raise InvalidParameterError("url", url, "must not be empty")
            if not username or not username.strip():
                raise InvalidParameterError("username", username, "must not be empty")
            # never None: connect() would fall back to getpass and block this thread
            client = gws_connect(url.strip(), username.strip(), secret or "", verify=verify)
        except Exception as exc:
            with self._lock:
                self.connect_button.disabled = False
                self._show_error(exc)
            raise
        finally:
            secret = None
        with self._lock:
            self.connect_button.disabled = False
            self._attach(client, owned=True)
        return client

    def records_frame(self) -> pd.DataFrame:
        """The records of :attr:`results`, as :func:`gwsnb.frames.records_frame` gives them."""
        from . import frames

        return frames.records_frame(self.results)

    def metrics_frame(self) -> pd.DataFrame:
        """The server timing metrics of :attr:`results`, as :func:`gwsnb.frames.metrics_frame` gives them."""
        from . import frames

        return frames.metrics_frame(self.results)

    def close(self) -> None:
        """Close the widgets, and the client if the form opened it."""
        self.wait(5.0)
        if self._owns_client and self._client is not None:
            self._client.close()
        self._client = None
        _close_tree(self.widget)

    # ------------------------------------------------------------------ internals
    def _attach(self, client: Any, *, owned: bool) -> None:
        self._client = client
        self._owns_client = owned
        devices = list(getattr(client, "devices", []) or [])
        options = []
        for device in devices:
            label = str(device.id)
            if getattr(device, "phone_number", None):
                label = f"{device.phone_number} · {label}"  # the number first: ids are long uuids
            options.append((label, device.path))
        self.device.options = options
        if options:
            self.device.value = options[0][1]
        self._set_connected(True)

    def _set_connected(self, connected: bool) -> None:
        self.connection_box.layout.display = "none" if connected else None
        self.run_button.disabled = not connected
        if connected:
            me = getattr(self._client, "me", None)
            who = getattr(me, "user_name", None) or getattr(me, "username", None) or getattr(me, "userName", None)
            if who is None and isinstance(me, dict):
                who = me.get("userName")
            where = getattr(self._client, "url", None) or getattr(self._client, "base_url", None)
            text = "Connected"
            if who:
                text += f" as <b>{html.escape(str(who))}</b>"
            if where:
                text += f" to <code>{html.escape(str(where))}</code>"
            self.connection_label.value = f"<span style='color:#2e7d32'>●</span> {text}"
            self.status.value = _status("Ready", "muted")
        else:
            self.connection_label.value = ""
            self.status.value = _status("Not connected", "muted")

    def _on_connect_click(self, _button: Any) -> None:
        def work() -> None:
            with contextlib.suppress(Exception):  # connect() already shows it inline
                self.connect()

        threading.Thread(target=work, name="gwsnb-form-connect", daemon=True).start()

    def _on_run_click(self, _button: Any) -> None:
        with contextlib.suppress(InvalidParameterError, RuntimeError):  # submit() shows it inline
            self.submit(wait=False)

    def _show_error(self, error: BaseException) -> None:
        with self._lock:
            self.error = error
            self.error_box.value = _error_html([(None, error)])
            self.status.value = _status("Error: nothing was sent" if isinstance(error, InvalidParameterError)
                                        else "Error", "error")

    def _start_run(self, params: list[ChainedRecordParams]) -> None:
        self.results = []
        self.batch = None
        self.errors = {}
        self.error = None
        self.run_button.disabled = True
        self.error_box.value = ""
        self.summary.value = ""
        self.records_table.value = ""
        self.chart.value = ""
        self.download.value = ""
        self.progress.max = len(params)
        self.progress.value = 0
        self.progress.bar_style = "info"
        self.progress.layout.display = None if len(params) > 1 else "none"
        self.status.value = _status(f"Running {len(params)} request(s)…", "info")

    def _run(self, params: list[ChainedRecordParams]) -> None:
        started = time.monotonic()
        done: dict[int, ChainedRecordResult] = {}
        failed: dict[int, BaseException] = {}
        try:
            self._call_all(params, done, failed)
        except BaseException as exc:  # noqa: BLE001 - a crash must not leave the button disabled
            failed.setdefault(-1, exc)
        finally:
            order = [p.record_handle for p in params]
            with self._lock:
                self.results = [done[h] for h in order if h in done]
                self.errors = {h: failed[h] for h in order if h in failed}
                if -1 in failed:
                    self.errors[-1] = failed[-1]
                self.error = next(iter(self.errors.values()), None)
                self._render(time.monotonic() - started, len(params))
                self.run_button.disabled = False

    def _call_all(self, params: list[ChainedRecordParams], done: dict[int, ChainedRecordResult],
                  failed: dict[int, BaseException]) -> None:
        """Run every handle through the client's bulk API (bounded concurrency, retries of lost calls).

        This runs in the form's worker thread; the calls execute on the client's own loop thread, and the
        form's progress bar stands in for tqdm.  No retries: a person watching the form wants a lost
        DataEnd reported after the timeout they typed, not after two more attempts.
        """
        first = params[0]  # the form has one campaign, application, device and timeout for all handles
        batch = self._client.get_chained_records(
            [p.record_handle for p in params], campaign_name=first.campaign_name,
            application_id=first.application_id, device_path=first.device_path,
            concurrency=self._max_concurrency, timeout=first.timeout, retries=0, keep_events=True,
            progress=_FormProgress(self, len(params)))
        self.batch = batch
        done.update((result.record_handle, result) for result in batch.results)
        failed.update((failure.record_handle, failure.error) for failure in batch.failures)
        for handle in batch.skipped:
            failed[handle] = RuntimeError("not run: the batch was interrupted")

    def _render(self, elapsed: float, asked: int) -> None:
        results, errors = self.results, self.errors
        n_records = sum(len(r.records) for r in results)
        if errors and not results:
            style, text = "error", f"Failed: {len(errors)} of {asked} request(s)"
        elif errors:
            style, text = "warning", f"{len(results)} of {asked} request(s) done, {len(errors)} failed"
        else:
            style, text = "ok", f"Done: {n_records} record(s) from {len(results)} call(s)"
        took = f"{elapsed * 1000:.0f} ms" if elapsed < 1 else f"{elapsed:.1f} s"
        self.status.value = _status(f"{text} in {took}", style)
        self.progress.bar_style = {"error": "danger", "warning": "warning"}.get(style, "success")
        self.error_box.value = _error_html(list(errors.items())) if errors else ""
        if not results:
            return
        try:
            records = self.records_frame()
            metrics = self.metrics_frame()
        except Exception as exc:  # noqa: BLE001 - show, never lose the results
            self.summary.value = f"<pre>{html.escape(repr(exc))}</pre>"
            return
        self.summary.value = _summary_html(results, metrics)
        self.records_table.value = _records_html(records)
        self.chart.value = _chart_svg(metrics)
        self.download.value = _download_html(records)


class _FormProgress:
    """The tqdm-like object the bulk API drives (``update``/``set_postfix``), shown in the form's widgets."""

    def __init__(self, form: ChainedRecordForm, total: int) -> None:
        self._form = form
        self._total = total
        self._failed = 0

    def set_postfix(self, failed: int = 0, refresh: bool = True) -> None:
        self._failed = failed

    def update(self, n: int = 1) -> None:
        form = self._form
        with form._lock:
            form.progress.value += n
            finished = form.progress.value
            form.status.value = _status(
                f"{finished}/{self._total} done" + (f", {self._failed} failed" if self._failed else ""), "info")


# ---------------------------------------------------------------------- rendering helpers
def _layout() -> w.Layout:
    return w.Layout(**_FIELD)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(i) for i in items))


def _close_tree(widget: w.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


_COLORS = {"ok": "#2e7d32", "error": "#c62828", "warning": "#ef6c00", "info": "#1565c0", "muted": "#666"}


def _status(text: str, style: str) -> str:
    return f"<span class='gwsnb-status-text' style='color:{_COLORS[style]}'>{html.escape(text)}</span>"


def _error_html(items: list[tuple[int | None, BaseException]]) -> str:
    lines = []
    for handle, error in items[:20]:
        where = "" if handle is None or handle < 0 else f"record handle {handle}: "
        lines.append(f"<li>{html.escape(where + describe_error(error))}</li>")
    if len(items) > 20:
        lines.append(f"<li>… and {len(items) - 20} more (see form.errors)</li>")
    return ("<div class='gwsnb-error' style='border-left:4px solid #c62828;background:#fdecea;"
            "padding:4px 8px;margin:4px 0'><ul style='margin:0;padding-left:16px'>" + "".join(lines)
            + "</ul></div>")


def _fmt_ms(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f} ms"


def processing_ms(metrics: pd.DataFrame) -> pd.Series | None:
    """Server processing time per event in ms: ``nodeProcessingTimeNanos`` where GWS gave it (whole-ms
    ``serverProcessingTimeTotalMs`` reads 0 or 1 on a fast server), else ``serverProcessingTimeTotalMs``."""
    if "node_processing" in metrics and metrics["node_processing"].notna().any():
        return metrics["node_processing"].dt.total_seconds() * 1000.0
    if "server_processing_ms" in metrics:
        return metrics["server_processing_ms"].astype("Float64").astype(float)
    return None


def _summary_html(results: list[ChainedRecordResult], metrics: pd.DataFrame) -> str:
    totals = sorted(t for r in results if (t := r.timings.total_ms) is not None)
    per_event = processing_ms(metrics)
    server = None if per_event is None else per_event.dropna()

    cells = [
        ("calls", str(len(results))),
        ("records", str(sum(len(r.records) for r in results))),
        ("events", str(sum(len(r.events) for r in results))),
        ("DataEnd p50", _fmt_ms(percentiles(totals, (50,)).get(50))),
        ("DataEnd max", _fmt_ms(totals[-1] if totals else None)),
    ]
    if server is not None and len(server):
        cells += [("server p50", _fmt_ms(float(server.median()))), ("server max", _fmt_ms(float(server.max())))]
    return ("<table class='gwsnb-summary' style='border-collapse:collapse;margin:4px 0'><tr>"
            + "".join(f"<th style='padding:2px 10px;text-align:left'>{html.escape(k)}</th>" for k, _ in cells)
            + "</tr><tr>"
            + "".join(f"<td style='padding:2px 10px'>{html.escape(v)}</td>" for _, v in cells)
            + "</tr></table>")


_TABLE_COLUMNS = ("record_handle", "chain_id", "chain_n", "contact_info", "contact_info_type", "record_status",
                  "call_result", "attempt", "calling_list")


def _records_html(records: pd.DataFrame) -> str:
    shown = records[[c for c in _TABLE_COLUMNS if c in records.columns]]
    more = ""
    if len(shown) > 500:
        more = f"<p>first 500 of {len(shown)} rows; all in form.records_frame()</p>"
        shown = shown.head(500)
    table = shown.to_html(index=False, na_rep="", border=0, classes="gwsnb-records", escape=True)
    return f"{_TABLE_STYLE}<div class='gwsnb-records-wrap'>{table}</div>{more}"


# Scoped to the form's own classes; JupyterLab's rendered-HTML table style does not reach widget HTML.
_TABLE_STYLE = """<style>
table.gwsnb-records {border-collapse: collapse; font-size: 12px; margin: 4px 0;}
table.gwsnb-records th {text-align: left !important; background: #f3f3f3; padding: 3px 10px; position: sticky; top: 0;
  border-bottom: 1px solid #bbb; white-space: nowrap;}
table.gwsnb-records td {padding: 2px 10px; border-bottom: 1px solid #eee; white-space: nowrap;}
table.gwsnb-records tbody tr:nth-child(even) td {background: #fafafa;}
</style>"""


def _chart_svg(metrics: pd.DataFrame) -> str:
    """Server processing time per event as an inline SVG (matplotlib's object API: no pyplot state)."""
    per_event = processing_ms(metrics)
    if per_event is None or not len(metrics):
        return ""
    from matplotlib.figure import Figure

    values = per_event.to_numpy(dtype=float, na_value=math.nan)
    fig = Figure(figsize=(4.2, 2.4), dpi=100)
    ax = fig.add_subplot()
    if len(values) <= _CHART_MAX_BARS:
        events = metrics["user_event"].astype(str).tolist() if "user_event" in metrics else [""] * len(values)
        colors = ["#ef6c00" if e == "ChainedRecordsDataEnd" else "#1565c0" for e in events]
        ax.bar(range(1, len(values) + 1), [0.0 if math.isnan(v) else v for v in values], color=colors)
        ax.set_xlabel("event (orange: DataEnd)")
    else:
        ax.hist([v for v in values if not math.isnan(v)], bins=30, color="#1565c0")
        ax.set_xlabel("server processing time (ms)")
    ax.set_ylabel("ms" if len(values) <= _CHART_MAX_BARS else "events")
    ax.set_title("Server processing time per event", fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.find("<svg"):]


def _download_html(records: pd.DataFrame) -> str:
    payload = base64.b64encode(records.to_csv(index=False).encode("utf-8")).decode("ascii")
    return (f"<a class='gwsnb-download' download='chained-records.csv' href='data:text/csv;base64,{payload}' "
            f"style='color:#1565c0'>⬇ Download {len(records)} record(s) as CSV</a>")
