"""HTTP captures (HAR files) of GWS traffic, read as GWS traffic: ``gwsnb.read_capture(path)``.

A HAR exported from Chrome, Edge or Firefox's developer tools, recorded by Playwright, or written by
mitmproxy (or by gwsnb itself, ``gwsnb.connect(..., capture="session.har")``) holds the REST requests and
answers of a GWS session and every CometD long poll with the notifications in its body.
:func:`read_capture` reads one into a :class:`Capture`: its HTTP exchanges, its Bayeux messages, and the
GetChainedRecord calls found in it paired with their notifications by the client's own correlator, as
the same frames a live result gives (see docs/captures.md).

Reading a capture that still holds secrets (a Basic ``Authorization``, cookie values, a CSRF token, a
password field) warns once with :class:`CaptureSecretsWarning`, naming what was found, never the value;
:meth:`Capture.redact` writes a copy fit to travel.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ._capture.har import CaptureMessage, Entry, HarFormatError, HarLog, read_har, value_hash
from .errors import CaptureError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from ._capture.calls import CapturedCall
    from ._doctor.report import Diagnosis
    from .results import ChainedRecordResult, Event

__all__ = ["Capture", "CaptureMessage", "CaptureSecretsWarning", "Creator", "Entry", "read_capture"]


class CaptureSecretsWarning(UserWarning):
    """The capture read still holds credentials or session secrets (the message names which kinds)."""


@dataclass(frozen=True)
class Creator:
    """Who wrote the capture: ``name`` and ``version`` from the HAR's ``log.creator``, and ``kind``:
    ``chrome`` (also Edge: WebInspector), ``firefox``, ``playwright``, ``mitmproxy``, ``gwsnb`` or
    ``other``."""

    name: str
    version: str
    kind: str


def _creator(log: HarLog) -> Creator:
    name = str(log.creator.get("name", "")) if log.creator else ""
    version = str(log.creator.get("version", "")) if log.creator else ""
    lowered = name.lower()
    kinds = (("playwright", "playwright"), ("mitmproxy", "mitmproxy"), ("webinspector", "chrome"),
             ("chrome", "chrome"), ("edge", "chrome"), ("firefox", "firefox"), ("gwsnb", "gwsnb"))
    kind = next((k for needle, k in kinds if needle in lowered), "other")
    if kind == "other" and log.browser and "firefox" in str(log.browser.get("name", "")).lower():
        kind = "firefox"
    return Creator(name, version, kind)


def read_capture(path: str | os.PathLike[str]) -> Capture:
    """Read a HAR 1.2 file (Chrome, Edge, Firefox, Playwright, mitmproxy, gwsnb) as GWS traffic.

    :raises CaptureError: the file cannot be read, is not a HAR, is cut short, has no entries, or holds
        no GWS traffic (no request to ``/api/v2`` and no Bayeux message); ``.reason`` says which.
    :raises InvalidParameterError: ``path`` is not a path.
    """
    from .errors import InvalidParameterError

    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterError("path", path, "expected the path of a HAR file")
    name = os.fspath(path)
    try:
        log = read_har(name)
    except HarFormatError as exc:
        raise CaptureError(name, str(exc)) from None
    except OSError as exc:
        raise CaptureError(name, f"cannot read it ({type(exc).__name__}: {exc.strerror or exc})") from None
    if not log.entries:
        why = "the log has no entries" if not log.total else f"none of its {log.total} entries is an HTTP exchange"
        raise CaptureError(name, why)
    if not any(entry.is_gws for entry in log.entries):
        hosts = sorted({entry.url.split("/")[2] for entry in log.entries if entry.url.count("/") >= 2})[:3]
        raise CaptureError(name, f"no GWS traffic in this capture: {len(log.entries)} entries "
                                 f"(to {', '.join(hosts) or 'no host'}), none to /api/v2 or a CometD endpoint")
    capture = Capture(name, log)
    capture._warn_secrets()
    return capture


class Capture:
    """A HAR capture of GWS traffic (made by :func:`read_capture`).

    ``entries``: every HTTP exchange (:class:`~gwsnb._capture.har.Entry`), sorted by start;
    ``gws_entries``: those to GWS (the API and the CometD endpoint); ``messages``: every Bayeux message
    (:class:`CaptureMessage`); ``creator`` (:class:`Creator`), ``start`` / ``end`` (UTC), ``pages``
    (the HAR's pages), ``comment`` (the HAR's, where gwsnb's writer counts dropped entries).
    """

    def __init__(self, path: str, log: HarLog) -> None:
        self.path = path
        self.entries: list[Entry] = log.entries
        self.creator = _creator(log)
        self.browser = log.browser
        self.pages = log.pages
        self.version = log.version
        self.comment = log.comment
        #: raw entries that were not HTTP exchanges (no request or no start time)
        self.skipped = log.skipped
        self.start: datetime = self.entries[0].started
        self.end: datetime = datetime.fromtimestamp(max(e.ended_s for e in self.entries), tz=timezone.utc)

    def __repr__(self) -> str:
        from ._capture.calls import chained_record_request

        # the POSTs are counted, not replayed: a repr must stay cheap on a 200 MB capture
        posts = sum(1 for entry in self.gws_entries if chained_record_request(entry) is not None)
        return (f"<Capture {os.path.basename(self.path)!r} {self.creator.kind} entries={len(self.entries)} "
                f"gws={len(self.gws_entries)} calls={posts} {self.start:%Y-%m-%d %H:%M:%S}Z "
                f"+{(self.end - self.start).total_seconds():.1f}s>")

    # --- what the file holds -------------------------------------------------------------------------
    @cached_property
    def gws_entries(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.is_gws]

    @cached_property
    def messages(self) -> list[CaptureMessage]:
        """Every Bayeux message, in entry order (a request's messages, then its answer's; a WebSocket's
        frames in their order)."""
        found: list[CaptureMessage] = []
        for entry in self.gws_entries:
            for direction, at, messages in entry.bayeux_frames():
                found.extend(CaptureMessage(entry.index, direction, at, m) for m in messages)
        return found

    @property
    def notifications(self) -> list[Event]:
        """The received messages that are not ``/meta``, as :class:`~gwsnb.results.Event` objects (receipt
        time: the end of the long poll that carried them)."""
        from .results import Event

        return [Event(m.at, m.message) for m in self.messages
                if m.direction == "received" and not str(m.message.get("channel", "")).startswith("/meta/")]

    @cached_property
    def calls(self) -> list[CapturedCall]:
        """The GetChainedRecord calls, each paired with its notifications (see :mod:`gwsnb._capture.calls`)."""
        from ._capture.calls import replay_calls

        return replay_calls(self.gws_entries)

    @property
    def results(self) -> list[ChainedRecordResult]:
        """The calls' results (complete or not), in the order the calls were sent."""
        return [call.result for call in self.calls]

    @property
    def sessions(self) -> Counter[str]:
        """Requests per HTTP session (the short hash of the JSESSIONID sent; see docs/captures.md)."""
        return Counter(e.session_hash for e in self.gws_entries if e.session_hash is not None)

    @property
    def clients(self) -> Counter[str]:
        """Bayeux messages sent per CometD client (the short hash of the clientId)."""
        return Counter(value_hash(str(m.message["clientId"])) for m in self.messages
                       if m.direction == "sent" and m.message.get("clientId"))

    @property
    def sanitized(self) -> bool:
        """No GWS request or answer in the capture carries a cookie or an Authorization header (as
        Chrome's default, sanitized, export writes it): the findings that need them cannot be checked."""
        return all(entry.sanitized for entry in self.gws_entries)

    def secrets(self) -> dict[str, int]:
        """What secrets the capture holds, by kind, with how many entries carry each (never the values)."""
        from ._capture.redact import find_secrets

        return find_secrets(self.entries)

    def _warn_secrets(self) -> None:
        found = self.secrets()
        if found:
            kinds = ", ".join(f"{kind} ({count} entr{'y' if count == 1 else 'ies'})" for kind, count in found.items())
            warnings.warn(f"{os.path.basename(self.path)} holds secrets: {kinds}; redact it before it travels "
                          "(Capture.redact or `gwsnb capture redact`)", CaptureSecretsWarning, stacklevel=3)

    # --- frames ---------------------------------------------------------------------------------------
    def requests_frame(self) -> pd.DataFrame:
        """One row per HTTP exchange to GWS; columns in docs/captures.md."""
        from ._capture.frames import requests_frame

        return requests_frame(self.gws_entries)

    def messages_frame(self) -> pd.DataFrame:
        """One row per Bayeux message (sent and received); columns in docs/captures.md."""
        from ._capture.frames import messages_frame

        return messages_frame(self.messages, {e.index: e for e in self.gws_entries})

    def events_frame(self) -> pd.DataFrame:
        """The notifications as :func:`gwsnb.frames.events_frame` builds them for a live client."""
        from .frames import events_frame

        return events_frame(self.notifications)

    def records_frame(self, **kwargs: Any) -> pd.DataFrame:
        """The records of the calls, as :func:`gwsnb.frames.records_frame` builds them for live results."""
        from .frames import records_frame

        return records_frame(self.results, **kwargs)

    def metrics_frame(self) -> pd.DataFrame:
        """The calls' server events, as :func:`gwsnb.frames.metrics_frame` builds them for live results."""
        from .frames import metrics_frame

        return metrics_frame(self.results)

    def calls_frame(self) -> pd.DataFrame:
        """One row per call, as :func:`gwsnb.frames.calls_frame` builds it for a live batch (``attempts``
        is 1: a resend is a call of its own in a capture)."""
        from .frames import calls_frame

        return calls_frame([call.outcome for call in self.calls])

    def plot_timeline(self, *, ax: Axes | None = None) -> Axes:
        """Every GWS exchange as a bar from its start to its end (long polls, REST calls, failures), and
        the notifications as marks at their receipt; seconds since the capture's start.  Returns the Axes."""
        from ._capture.timeline import plot_timeline

        return plot_timeline(self, ax=ax)

    # --- diagnosis ------------------------------------------------------------------------------------
    def diagnose(self) -> Diagnosis:
        """The doctor's verdict from this capture's evidence alone (docs/captures.md#findings): the same
        :class:`~gwsnb.doctor.Diagnosis` (text, HTML, JSON, causes and fixes) as ``gwsnb.diagnose()``, each
        step ``ok``, ``warn``, ``fail`` or ``skipped`` (not in this capture) with the entries that show it."""
        from ._capture.diagnose import diagnose_entries

        creator = f"{self.creator.name} {self.creator.version}".strip() or self.creator.kind
        return diagnose_entries(self.gws_entries, path=self.path, creator=creator, calls=self.calls)

    # --- text and redaction ---------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What ``gwsnb capture show --json`` prints: sessions, clients, calls, errors, the timeline."""
        from ._capture.show import summary

        return summary(self)

    def text(self) -> str:
        """What ``gwsnb capture show`` prints."""
        from ._capture.show import text

        return text(self.summary())

    def redact(self, path_out: str | os.PathLike[str], *, customer_data: bool = False) -> dict[str, int]:
        """Write a copy of the capture with its secrets replaced by stable placeholders (docs/captures.md):
        Basic ``Authorization``, password fields, cookie values, CSRF tokens and Bayeux clientIds; with
        ``customer_data`` also phone numbers, contact info and the records' custom fields.  Returns the
        replacements made, by kind.

        :raises CaptureError: ``path_out`` is the capture itself, or cannot be written.
        """
        from ._capture.redact import redact_file

        out = os.fspath(path_out)
        if os.path.exists(out) and os.path.samefile(out, self.path):
            raise CaptureError(out, "the redacted copy must not overwrite the capture itself")
        try:
            return redact_file(self.path, out, customer_data=customer_data)
        except OSError as exc:
            raise CaptureError(out, f"cannot write it ({type(exc).__name__}: {exc.strerror or exc})") from None
