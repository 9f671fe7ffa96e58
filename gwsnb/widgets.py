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
hook) is used anywhere; results are rendered as HTML (tables, an inline SVG chart, a ``data:`` link)
by :mod:`gwsnb._display.render`, the helpers the results' and batches' notebook summaries use too.

The form is itself a widget (a :class:`ipywidgets.VBox`): display it, or put it inside another layout
(``VBox([header, form])``, a ``Tab``...).

Credentials: the password lives only in the Password widget until Connect, which clears it; neither
the form's repr nor any widget it renders shows it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import os
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from . import frames
from ._display import render as _render
from .batch import ChainedRecordBatch
from .errors import GwsError, InvalidParameterError, TransportError
from .pace import Pace
from .params import MAX_HANDLE, ChainedRecordParams, parse_handles
from .results import ChainedRecordResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ChainedRecordForm"]

_LABEL_WIDTH = "120px"
_FIELD = {"width": "360px"}
_status = _render.status


class _SecretText(w.Password):
    """A Password widget whose repr never shows its value."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(description={self.description!r}, value=<hidden>)"


def _style() -> dict[str, str]:
    return {"description_width": _LABEL_WIDTH}


#: rows of a streamed run's records shown in the form (the run's folder holds them all)
_RUN_ROWS_SHOWN = 200


class ChainedRecordForm(w.VBox):
    """An interactive GetChainedRecord form, itself a widget (an :class:`ipywidgets.VBox`).  Display it
    (last expression of a cell, or ``display(form)``) or place it in another layout.

    :param client: a connected :class:`~gwsnb.client.GwsClient`; without one the form shows a connection
        row (URL, username, password, verify TLS, Connect) and connects with :func:`gwsnb.connect`.
    :param campaign_name: initial campaign; ``campaigns`` are offered in the campaign combobox (free text
        is allowed too).
    :param application_id: initial OCS application id.
    :param record_handles: initial handle text, e.g. ``"7, 9, 20-30"``.
    :param timeout: seconds to wait for ChainedRecordsDataEnd, per handle.
    :param max_concurrency: calls in flight at once when several handles are asked for (the initial
        "concurrency" of the pace fields, unless ``pace`` is given).
    :param pace: the initial values of the "Pace" fields (a :class:`gwsnb.Pace`: concurrency or ``auto``,
        its ceiling, rate, budget, working windows and zone, the breaker's thresholds; one field per
        attribute, empty for ``None``); :attr:`pace` reads them back, checked (``docs/production.md``).
    :param out_dir: initial text of the optional "Output folder" field; when the field is filled the
        form passes ``out=<folder>`` to ``client.get_chained_records`` (records written there too).
    :param every_handle: initial state of the "Call every handle" box: by default a handle whose record
        came back in another handle's chain is not called (``docs/engine.md``, "Each chain once").

    The handles field is checked as you type (the count, or the parse error naming the bad token, beside
    it).  After a run: :attr:`results` (the successful :class:`~gwsnb.results.ChainedRecordResult` objects, in
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
        out_dir: str = "",
        every_handle: bool = False,
        pace: Pace | None = None,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise InvalidParameterError("max_concurrency", max_concurrency, "expected an integer >= 1")
        if pace is not None and not isinstance(pace, Pace):
            raise InvalidParameterError("pace", pace, "expected a gwsnb.Pace (or None)")
        self._lock = threading.RLock()
        self._client: Any = None
        self._owns_client = False
        self._worker: threading.Thread | None = None
        self._max_concurrency = max_concurrency
        self._pace = pace if pace is not None else Pace(concurrency=max_concurrency)  # the pace of the last submit
        self.results: list[ChainedRecordResult] = []
        self.errors: dict[int, BaseException] = {}
        self.error: BaseException | None = None
        #: the last run's :class:`~gwsnb.batch.ChainedRecordBatch` (attempts, skipped handles, calls_frame())
        self.batch: ChainedRecordBatch | None = None
        #: the streamed run of the last submit when the output folder was filled (``gwsnb.runs.Run``)
        self.run: Any = None

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
        self.handles_check = w.HTML(value="", layout=w.Layout(margin="0 0 0 124px"))
        self.timeout = w.FloatText(value=timeout, description="Timeout (s)", style=_style(), layout=_layout())
        self.out_dir = w.Text(value=out_dir, description="Output folder", placeholder="optional: write records here",
                              style=_style(), layout=_layout())
        self.every_handle = w.Checkbox(value=every_handle, description="Call every handle", indent=False,
                                       tooltip="also call a handle whose record came back in another handle's chain",
                                       layout=w.Layout(width="200px", margin="0 0 0 124px"))
        params_grid = w.HBox([w.VBox([self.campaign, self.application_id, self.device]),
                              w.VBox([self.handles, self.handles_check, self.timeout, self.out_dir,
                                      self.every_handle])])
        #: one text field per :class:`gwsnb.Pace` attribute, by name (``form.pace_fields["rate"]``)
        self.pace_fields = _pace_fields(pace if pace is not None else Pace(concurrency=max_concurrency))
        self.pace_box = w.Accordion(children=[w.GridBox(list(self.pace_fields.values()), layout=w.Layout(
            grid_template_columns="repeat(2, 380px)"))], titles=("Pace: rate, budget, working windows",),
            selected_index=None)
        params_grid = w.VBox([params_grid, self.pace_box])
        self.handles.observe(self._on_handles_change, names="value")
        self.handles_check.value = _handles_check(self.handles.value)

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

        super().__init__(
            [w.HTML("<h4 style='margin:0 0 6px 0'>GWS Outbound · GetChainedRecord</h4>"),
             self.connection_box, self.connection_label, params_grid, action_row, self.error_box, results_box],
            layout=w.Layout(padding="4px"),
        )
        self.add_class("gwsnb-form")
        # Stable CSS hooks for the browser test and for user stylesheets.
        for name in ("url", "username", "password", "verify", "connect_button", "campaign", "application_id",
                     "device", "handles", "handles_check", "timeout", "out_dir", "every_handle", "pace_box",
                     "run_button", "progress",
                     "status", "error_box", "summary", "records_table", "chart", "download"):
            getattr(self, name).add_class("gwsnb-" + name.replace("_", "-"))
        if client is not None:
            self._attach(client, owned=False)
        else:
            self._set_connected(False)

    # ------------------------------------------------------------------ display & repr
    @property
    def widget(self) -> ChainedRecordForm:
        """The form itself (it is the widget; kept for code written when it was a wrapper)."""
        return self

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

    @property
    def pace(self) -> Pace:
        """The :class:`gwsnb.Pace` of the pace fields (an empty field is ``None``; digits are numbers).

        :raises InvalidParameterError: naming the bad field and its value.
        """
        typed = {name: _typed(field.value) for name, field in self.pace_fields.items()}
        return Pace(**{name: value for name, value in typed.items() if value is not None})  # empty: the default

    def submit(self, *, wait: bool = True) -> list[ChainedRecordResult]:
        """Do what the "Get chained records" button does.

        Validates the fields (a bad one is shown inline and raised: nothing is sent), then calls
        GetChainedRecord for every handle, updating the progress bar, the status line and the results.
        Errors of individual calls do not raise: they are shown inline and kept in :attr:`errors`.

        :param wait: block until done and return :attr:`results` (default); with ``False`` the calls run
            in a background thread, as for a click, and the current (empty) results are returned.
        :raises InvalidParameterError: a field is invalid (also shown in the form), ``out_dir`` included
            when the client cannot write to a folder.
        :raises TransportError: not connected (the client raises the same).
        :raises RuntimeError: a run is already in progress.
        """
        with self._lock:
            if self.running:
                raise RuntimeError("a GetChainedRecord run is already in progress")
            if self._client is None:
                error = TransportError("not connected: fill in the connection row and press Connect")
                self._show_error(error)
                raise error
            try:
                params = self.params()
                self._pace = self.pace
                self._check_out_dir()
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
        return frames.records_frame(self.results)

    def calls_frame(self) -> pd.DataFrame:
        """One row per handle of the last run (see :meth:`gwsnb.batch.ChainedRecordBatch.calls_frame`)."""
        if self.batch is not None:
            return self.batch.calls_frame()
        return frames.calls_frame(self.results)

    def metrics_frame(self) -> pd.DataFrame:
        """The server timing metrics of :attr:`results`, as :func:`gwsnb.frames.metrics_frame` gives them."""
        return frames.metrics_frame(self.results)

    def close(self) -> None:
        """Close the widgets, and the client if the form opened it.  Idempotent."""
        worker = getattr(self, "_worker", None)
        if worker is not None and worker is not threading.current_thread():
            self.wait(5.0)
        client, self._client = getattr(self, "_client", None), None
        if getattr(self, "_owns_client", False) and client is not None:
            client.close()
        for child in self.children:
            _close_tree(child)
        super().close()

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
        with contextlib.suppress(InvalidParameterError, TransportError, RuntimeError):  # submit() shows it inline
            self.submit(wait=False)

    def _check_out_dir(self) -> None:
        folder = self.out_dir.value.strip()
        if folder and os.path.exists(folder) and not os.path.isdir(folder):
            raise InvalidParameterError("out_dir", folder, "is a file, not a folder for the run")

    def _on_handles_change(self, change: dict[str, Any]) -> None:
        self.handles_check.value = _handles_check(str(change.get("new") or ""))

    def _show_error(self, error: BaseException) -> None:
        with self._lock:
            self.error = error
            self.error_box.value = _render.error_list([(None, error)])
            self.status.value = _status("Error: nothing was sent" if isinstance(error, InvalidParameterError)
                                        else "Error", "error")

    def _start_run(self, params: list[ChainedRecordParams]) -> None:
        self.results = []
        self.batch = None
        self.run = None
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
                self._show_results(time.monotonic() - started, len(params))
                self.run_button.disabled = False

    def _call_all(self, params: list[ChainedRecordParams], done: dict[int, ChainedRecordResult],
                  failed: dict[int, BaseException]) -> None:
        """Run every handle through the client's bulk API (bounded concurrency, retries of lost calls).

        This runs in the form's worker thread; the calls execute on the client's own loop thread, and the
        form's progress bar stands in for tqdm.  No retries: a person watching the form wants a lost
        DataEnd reported after the timeout they typed, not after two more attempts.
        """
        first = params[0]  # the form has one campaign, application, device and timeout for all handles
        handles = [p.record_handle for p in params]
        common: dict[str, Any] = dict(campaign_name=first.campaign_name, application_id=first.application_id,
                                      device_path=first.device_path, pace=self._pace,
                                      timeout=first.timeout, retries=0, progress=_FormProgress(self, len(params)),
                                      every_handle=bool(self.every_handle.value))
        folder = self.out_dir.value.strip()
        if folder:  # streamed to a Parquet dataset: the form shows what the folder holds afterwards
            self._call_streamed(handles, folder, common, failed)
            return
        batch = self._client.get_chained_records(handles, keep_events=True, **common)
        self.batch = batch
        done.update((result.record_handle, result) for result in batch.results)
        failed.update((failure.record_handle, failure.error) for failure in batch.failures)
        why = ("not run: the pace's budget (max_calls) was spent" if batch.stopped_by == "max_calls"
               else "not run: the batch was interrupted")
        for handle in batch.skipped:
            failed[handle] = RuntimeError(why)

    def _call_streamed(self, handles: list[int], folder: str, common: dict[str, Any],
                       failed: dict[int, BaseException]) -> None:
        run = self._client.get_chained_records(handles, out=folder, **common)
        self.run = run
        for row in run.failures().itertuples(index=False):
            failed[int(row.record_handle)] = GwsError(f"{row.error} (kept in the run in {folder})")
        finished = set(handles) - set(run.remaining_handles())
        for handle in handles:
            if handle not in finished:
                failed.setdefault(handle, RuntimeError("not run: the run was interrupted"))

    def _show_results(self, elapsed: float, asked: int) -> None:
        results, errors = self.results, self.errors
        n_records = sum(len(r.records) for r in results)
        if errors and not results:
            style, text = "error", f"Failed: {len(errors)} of {asked} request(s)"
        elif errors:
            style, text = "warning", f"{len(results)} of {asked} request(s) done, {len(errors)} failed"
        else:
            style, text = "ok", f"Done: {n_records} record(s) from {len(results)} call(s)"
            covered = len(self.batch.covered) if self.batch is not None else 0
            if covered:
                text += f", {covered} handle(s) covered by another handle's chain"
        took = f"{elapsed * 1000:.0f} ms" if elapsed < 1 else f"{elapsed:.1f} s"
        self.status.value = _status(f"{text} in {took}", style)
        self.progress.bar_style = {"error": "danger", "warning": "warning"}.get(style, "success")
        self.error_box.value = _render.error_list(list(errors.items())) if errors else ""
        if self.run is not None:
            self._show_run(self.run)
        if not results:
            return
        try:
            records = self.records_frame()
            metrics = self.metrics_frame()
        except Exception as exc:  # noqa: BLE001 - show, never lose the results
            self.summary.value = f"<pre>{html.escape(repr(exc))}</pre>"
            return
        self.summary.value = _render.summary_table(results, metrics)
        self.records_table.value = _render.records_table(records)
        self.chart.value = _render.processing_chart(metrics)
        self.download.value = _render.download_link(records)


    def _show_run(self, run: Any) -> None:
        """A streamed run: its counts, where it is, and its first records (the folder holds them all)."""
        self.status.value = _status(
            f"Written to {run.path}: {run.done} handle(s) ok ({run.called} called, {run.covered} covered), "
            f"{run.failed} failed, {run.remaining} not done; "
            f"read it with gwsnb.open_run({str(run.path)!r})", "warning" if run.failed or run.remaining else "ok")
        try:
            records = run.records_frame()
        except Exception as exc:  # noqa: BLE001 - show, never lose the results
            self.summary.value = f"<pre>{html.escape(repr(exc))}</pre>"
            return
        self.records_table.value = _render.records_table(records.head(_RUN_ROWS_SHOWN))


class _FormProgress:
    """The tqdm-like object the bulk API drives (``update``/``set_postfix``), shown in the form's widgets."""

    def __init__(self, form: ChainedRecordForm, total: int) -> None:
        self._form = form
        self._total = total
        self._failed = 0

    def set_postfix(self, refresh: bool = True, failed: int = 0, **_load: Any) -> None:
        self._failed = failed

    def update(self, n: int = 1) -> None:
        form = self._form
        with form._lock:
            form.progress.value += n
            finished = form.progress.value
            form.status.value = _status(
                f"{finished}/{self._total} done" + (f", {self._failed} failed" if self._failed else ""), "info")


# ---------------------------------------------------------------------- small helpers
_PACE_HINTS = {"concurrency": "auto or 1..1024", "rate": "calls/s, empty: no cap", "max_calls": "empty: no budget",
               "window": "20:00-07:00", "tz": "Europe/Paris; empty: this machine's"}


def _pace_fields(pace: Pace) -> dict[str, w.Text]:
    """One text field per attribute of :class:`gwsnb.Pace` (composed from the dataclass, so a new setting
    gets its field), filled from ``pace``."""
    fields = {}
    for spec in dataclasses.fields(Pace):
        value = getattr(pace, spec.name)
        fields[spec.name] = w.Text(value="" if value is None else f"{value:g}" if isinstance(value, float) else str(value),
                                   description=spec.name.replace("_", " ").capitalize(),
                                   placeholder=_PACE_HINTS.get(spec.name, ""), style=_style(), layout=_layout())
        fields[spec.name].add_class("gwsnb-pace-" + spec.name.replace("_", "-"))
    return fields


def _typed(text: str) -> Any:
    """A pace field's text as the value :class:`gwsnb.Pace` checks: ``None`` when empty, a number when it
    reads as one, else the text (then Pace names it as invalid, or takes it: ``auto``, a window, a zone)."""
    text = text.strip()
    if not text:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text

def _layout() -> w.Layout:
    return w.Layout(**_FIELD)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(i) for i in items))


def _close_tree(widget: w.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()


def _handles_check(text: str) -> str:
    """The live verdict on the handles field: how many handles, or the parse error naming the token."""
    if not text.strip():
        return ""
    try:
        handles = parse_handles(text)
    except InvalidParameterError as exc:
        return _render.status(f"{exc.field}: {exc.reason}: {exc.value!r}", "error")
    if len(handles) == 1:
        return _render.status("1 handle", "muted")
    return _render.status(f"{len(handles)} handles ({handles[0]} … {handles[-1]})", "muted")
