"""gwsnb's own HAR writer: ``gwsnb.connect(..., capture="session.har")`` (docs/captures.md, "gwsnb's own").

The REST session and the CometD transport each hand every exchange to :meth:`HarRecorder.record` at the
one place they send requests (``_wire/rest.py``, ``_wire/cometd.py``), with the instants they use
themselves: a notification's receipt time in the capture is the one the live result holds, so a capture
read back gives the same frames.  With no recorder (the default) the cost is one ``is None`` test per
request.

Bounded: the entries kept are limited by their bytes (``max_bytes``, default 64 MiB, the bodies and
headers as recorded); beyond it the oldest are dropped and counted, and the HAR's ``log.comment`` says how
many.  Written on :meth:`close` (and by :meth:`save` at any time), atomically; redacted as
:mod:`gwsnb._capture.redact` does unless ``secrets=True``.
"""

from __future__ import annotations

import base64
import math
import os
import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

__all__ = ["DEFAULT_CAPTURE_BYTES", "HarRecorder", "make_recorder"]

#: the default byte budget of the entries a capture keeps (the oldest beyond it are dropped and counted)
DEFAULT_CAPTURE_BYTES = 64 * 1024 * 1024


def _iso(seconds: float) -> str:
    micros = int(round(seconds * 1e6))
    moment = datetime.fromtimestamp(micros // 10**6, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros % 10**6:06d}Z"


def _exact_ms(start: float, end: float) -> float:
    """Milliseconds ``t`` such that ``start + t / 1000.0 == end`` in floating point where one exists near:
    a reader then gets the receipt instant the live client used, to the last bit (equal frames)."""
    total = max(0.0, (end - start) * 1000.0)
    for _ in range(8):
        back = start + total / 1000.0
        if back == end or total <= 0.0:
            break
        total = math.nextafter(total, math.inf if back < end else -math.inf)
    return total


def _headers(headers: Mapping[str, str] | Any) -> list[dict[str, str]]:
    if headers is None:
        return []
    items: Any = headers.items() if hasattr(headers, "items") else headers
    return [{"name": str(pair[0]), "value": str(pair[1])} for pair in items]


def _body(raw: bytes | None, mime: str) -> dict[str, Any]:
    if raw is None:
        return {"size": 0, "mimeType": mime}
    try:
        return {"size": len(raw), "mimeType": mime, "text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"size": len(raw), "mimeType": mime, "text": base64.b64encode(raw).decode("ascii"),
                "encoding": "base64"}


class HarRecorder:
    """Keeps the exchanges of one client, bounded in bytes, and writes them as HAR 1.2.

    :param path: the file written on :meth:`close` / :meth:`save`
    :param secrets: keep credentials, cookies, CSRF tokens and clientIds (default: redacted on write)
    :param max_bytes: the byte budget of the entries kept
    """

    def __init__(self, path: str, *, secrets: bool = False, max_bytes: int = DEFAULT_CAPTURE_BYTES,
                 creator_version: str = "") -> None:
        self.path = os.fspath(path)
        self.secrets = secrets
        self.max_bytes = max_bytes
        self.creator_version = creator_version
        self._entries: deque[tuple[int, dict[str, Any]]] = deque()
        self._bytes = 0
        #: entries dropped to stay within ``max_bytes``
        self.dropped = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, method: str, url: str, request_headers: Any, request_body: bytes | None, started: float,
               status: int, response_headers: Any, response_body: bytes | None, ended: float, *,
               http_version: str = "HTTP/1.1", error: str | None = None, answered: float | None = None) -> None:
        """One exchange (instants are ``time.time()`` seconds; ``status`` 0 and ``error`` for no answer;
        ``answered``: when the answer's headers came, if known)."""
        started_us = int(round(started * 1e6))
        total_ms = _exact_ms(started_us / 1e6, ended)
        wait_ms = total_ms if answered is None else max(0.0, min(total_ms, (answered - started) * 1000.0))
        response_mime = ""
        if response_headers is not None:
            response_mime = str(response_headers.get("Content-Type", ""))
        request_mime = str(request_headers.get("Content-Type", "application/json")) if request_headers else ""
        req_headers, resp_headers = _headers(request_headers), _headers(response_headers)
        entry: dict[str, Any] = {
            "startedDateTime": _iso(started_us / 1e6),
            "time": total_ms,
            "request": {
                "method": method, "url": url, "httpVersion": http_version, "cookies": [],
                "headers": req_headers, "queryString": [], "headersSize": -1,
                "bodySize": len(request_body) if request_body is not None else 0,
            },
            "response": {
                "status": status, "statusText": "", "httpVersion": http_version if status else "",
                "cookies": [], "headers": resp_headers, "content": _body(response_body, response_mime),
                "redirectURL": "", "headersSize": -1,
                "bodySize": len(response_body) if response_body is not None else -1,
            },
            "cache": {},
            "timings": {"send": 0, "wait": round(wait_ms, 3), "receive": round(total_ms - wait_ms, 3)},
        }
        if request_body is not None:
            entry["request"]["postData"] = {"mimeType": request_mime or "application/json",
                                            **{k: v for k, v in _body(request_body, "").items()
                                               if k in ("text", "encoding")}}
            if "text" not in entry["request"]["postData"]:
                entry["request"]["postData"]["text"] = ""
        if error:
            entry["response"]["_error"] = error
            entry["comment"] = f"no answer: {error}"
        size = (len(request_body or b"") + len(response_body or b"") + 64 * (len(req_headers) + len(resp_headers))
                + len(url) + 512)
        with self._lock:
            self._entries.append((size, entry))
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                dropped, _ = self._entries.popleft()
                self._bytes -= dropped
                self.dropped += 1

    def har(self) -> dict[str, Any]:
        """The HAR 1.2 object of what is kept (not yet redacted)."""
        with self._lock:
            entries = [entry for _, entry in self._entries]
            dropped = self.dropped
        comment = (f"written by gwsnb; bounded to {self.max_bytes} bytes of entries: "
                   f"{dropped} oldest entr{'y' if dropped == 1 else 'ies'} dropped")
        # the comment before the entries: a streaming reader meets it without reading them
        return {"log": {"version": "1.2", "creator": {"name": "gwsnb", "version": self.creator_version},
                        "comment": comment, "pages": [], "entries": entries}}

    def save(self) -> str:
        """Write the HAR now (redacted unless ``secrets``), atomically; returns its path."""
        from .redact import redact_har, write_json

        har = self.har()
        if not self.secrets:
            # the entries are recorded once: redacting them in place leaves the next save nothing to redo
            har, _ = redact_har(har)
        write_json(har, self.path)
        return self.path

    def close(self) -> str:
        """Write the HAR (see :meth:`save`)."""
        return self.save()


def make_recorder(capture: Any, secrets: Any, version: str = "") -> HarRecorder | None:
    """The recorder of a ``capture=`` argument (``None``: no capture).

    :raises InvalidParameterError: ``capture`` is not a path in an existing folder, or ``secrets`` not a bool.
    """
    from ..errors import InvalidParameterError

    if not isinstance(secrets, bool):
        raise InvalidParameterError("capture_secrets", secrets, "expected True or False")
    if capture is None:
        return None
    if not isinstance(capture, (str, os.PathLike)) or not os.fspath(capture):
        raise InvalidParameterError("capture", capture, "expected the path of the HAR file to write")
    folder = os.path.dirname(os.path.abspath(os.fspath(capture)))
    if not os.path.isdir(folder):
        raise InvalidParameterError("capture", capture, f"its folder {folder} does not exist")
    return HarRecorder(os.fspath(capture), secrets=secrets, creator_version=version)
