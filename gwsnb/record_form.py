"""``RecordActionsForm``: a small ipywidgets form for the record operations that change a calling list.

It stays apart from :class:`~gwsnb.widgets.ChainedRecordForm`, which only reads.  Every send needs its own
explicit confirmation (a checkbox that is cleared again after each send), goes through the client's own
methods (so the client's read-only default, ``allow_writes``, and its one validator apply: a bad value or a
read-only client is reported in the form and nothing is sent), and shows the acknowledgement or the error.
The operations and their errors are described in docs/record-operations.md.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w

from .errors import GwsError, describe_error
from .results import OperationResult

__all__ = ["RecordActionsForm"]

#: the form's choices -> (client method, keyword arguments the choice adds)
ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "Complete": ("complete_record", {}),
    "Reject": ("reject_record", {}),
    "Reschedule": ("reschedule_record", {}),
    "Do not call (whole chain)": ("do_not_call", {"chain": True}),
    "Do not call (this record only)": ("do_not_call", {"chain": False}),
}
_STYLE = {"description_width": "120px"}
_FIELD = w.Layout(width="360px")


def _text(description: str, value: str = "", placeholder: str = "") -> w.Text:
    return w.Text(value=value, description=description, placeholder=placeholder, style=_STYLE, layout=_FIELD)


class RecordActionsForm:
    """Complete, reject, reschedule or mark do-not-call one record, after an explicit confirmation.

    :param client: a connected :class:`~gwsnb.client.GwsClient` (``allow_writes=True`` for anything to be
        sent; a read-only client gets :class:`~gwsnb.errors.WritesNotAllowedError` shown in the form).
    Widgets: ``action``, ``handle``, ``campaign_name``, ``application_id``, ``calling_list``, ``call_result``
    (Complete), ``callback_type`` and ``timestamp`` (Reschedule: epoch seconds), ``confirm``, ``send_button``,
    ``status`` (HTML).  :meth:`submit` is what the button does; ``last_result``/``last_error`` keep the outcome.
    """

    def __init__(self, client: Any, *, campaign_name: str = "", application_id: int | str = "",
                 calling_list: str = "") -> None:
        self._client = client
        self._lock = threading.Lock()
        self.action = w.Dropdown(options=list(ACTIONS), value="Complete", description="Action", style=_STYLE,
                                 layout=_FIELD)
        self.handle = _text("Record handle", placeholder="e.g. 7")
        self.campaign_name = _text("Campaign", campaign_name)
        self.application_id = _text("Application id", str(application_id))
        self.calling_list = _text("Calling list", calling_list)
        self.call_result = _text("Call result", placeholder="Complete: a label (Busy, NoAnswer) or a code")
        self.callback_type = w.Dropdown(options=["Campaign", "Personal"], description="Callback type",
                                        style=_STYLE, layout=_FIELD)
        self.timestamp = _text("When (epoch s)", placeholder="Reschedule: epoch seconds, UTC")
        self.confirm = w.Checkbox(value=False, description="I confirm: this changes the calling list",
                                  indent=False)
        self.send_button = w.Button(description="Send", button_style="danger", icon="exclamation-triangle")
        self.status = w.HTML()
        self.last_result: OperationResult | None = None
        self.last_error: BaseException | None = None
        self.send_button.on_click(lambda _button: self.submit())
        self.widget = w.VBox([self.action, self.handle, self.campaign_name, self.application_id, self.calling_list,
                              self.call_result, self.callback_type, self.timestamp, self.confirm, self.send_button,
                              self.status])
        if not getattr(client, "allow_writes", False):
            self._show("warning", "This client is read-only: connect with allow_writes=True to send these.")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"<RecordActionsForm action={self.action.value!r} handle={self.handle.value!r}>"

    def _arguments(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """The client method, its positional and keyword arguments (unchecked: the client validates)."""
        method, extra = ACTIONS[self.action.value]
        kwargs: dict[str, Any] = {"campaign_name": self.campaign_name.value, "calling_list": self.calling_list.value,
                                  **extra}
        application = self.application_id.value.strip()
        kwargs["application_id"] = int(application) if application.isdigit() else application
        if method == "complete_record" and self.call_result.value.strip():
            result = self.call_result.value.strip()
            kwargs["call_result"] = int(result) if result.isdigit() else result
        if method == "reschedule_record":
            del kwargs["calling_list"]
            when = self.timestamp.value.strip()
            kwargs.update(callback_type=self.callback_type.value, timestamp=int(when) if when.isdigit() else when)
        return method, (self.handle.value.strip(),), kwargs

    def submit(self) -> OperationResult | None:
        """Send the chosen operation if ``confirm`` is ticked (then untick it); show and return the outcome.

        Returns ``None`` when nothing was sent or the operation failed (``last_error`` says why).
        """
        with self._lock:
            self.last_result, self.last_error = None, None
            if not self.confirm.value:
                self._show("warning", "Nothing sent: tick the confirmation first.")
                return None
            self.confirm.value = False  # one confirmation, one send
            method, args, kwargs = self._arguments()
            self.send_button.disabled = True
            try:
                result = getattr(self._client, method)(*args, **kwargs)
            except GwsError as exc:
                self.last_error = exc
                self._show("error", describe_error(exc))
                return None
            finally:
                self.send_button.disabled = False
            self.last_result = result
            self._show("ok", f"{result.operation} on handle {result.record_handle}: {result.notification_type}")
            return result

    def _show(self, kind: str, text: str) -> None:
        color = {"ok": "#1a7f37", "warning": "#9a6700", "error": "#cf222e"}[kind]
        self.status.value = f"<span style='color:{color}'>{html.escape(text)}</span>"
