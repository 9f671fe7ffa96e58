"""Reading HAR 1.2 files into compact :class:`Entry` objects (docs/captures.md).

A HAR is what a browser's developer tools (Chrome, Edge, Firefox), Playwright's recorder and proxies
such as mitmproxy export: one JSON object ``{"log": {"creator", "pages", "entries": [...]}}``.  The
entries are streamed one by one with ``ijson`` (its C backend) so that a 200 MB file is never held
whole as Python objects besides the entries made from it; each raw entry dict is dropped as soon as its
:class:`Entry` is built.  Entries are sorted by ``startedDateTime`` (writers do not all keep them in
order); :attr:`Entry.index` keeps the position in the file, which is how a person finds it again.

What varies between writers and is read here: bodies as text or base64 (``encoding: "base64"``, as
Firefox and mitmproxy write binary or compressed answers), ``Set-Cookie`` as several headers or one
header with newline-separated values (Firefox), cookies in the headers or only in ``cookies`` arrays,
failed requests as status 0 (Chrome, with ``_error``) or -1 (Playwright, with ``_failureText``), ``-1`` for timings not measured, fractional
milliseconds, and a time zone offset or ``Z`` in ``startedDateTime``.

A session is named by :func:`value_hash` of its ``JSESSIONID``: the first 8 hex digits of the value's
SHA-256, no salt, so the same value gives the same name in every capture and in the redacted copy
(whose placeholder carries the hash, see :mod:`gwsnb._capture.redact`).  A session id has far more
entropy than 32 bits of its hash give away.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import IO, Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from .. import protocol

__all__ = [
    "CaptureMessage",
    "Entry",
    "Headers",
    "HarLog",
    "PLACEHOLDER_PREFIX",
    "iter_raw_entries",
    "parse_started",
    "read_har",
    "value_hash",
]

#: every placeholder the redaction writes starts with this (``gwsnb-redacted-<kind>-<hash>``)
PLACEHOLDER_PREFIX = "gwsnb-redacted-"
_PLACEHOLDER = re.compile(r"gwsnb-redacted-[a-z-]+-([0-9a-f]{8})\Z")
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?\Z")
_CSRF_NAME = re.compile(r"csrf|xsrf", re.IGNORECASE)


def _obj(holder: Any, key: str) -> dict[str, Any]:
    """``holder[key]`` when both are JSON objects, else an empty dict."""
    value = holder.get(key) if isinstance(holder, dict) else None
    return value if isinstance(value, dict) else {}


@lru_cache(maxsize=1024)
def _is_csrf_name(name: str) -> bool:
    return _CSRF_NAME.search(name) is not None


def value_hash(value: str) -> str:
    """A short stable name for a secret value (a JSESSIONID, a clientId): 8 hex digits of its SHA-256.

    A redaction placeholder (``gwsnb-redacted-jsessionid-1a2b3c4d``) names the hash of the value it
    replaced, so a capture and its redacted copy give the same names.
    """
    match = _PLACEHOLDER.match(value)
    if match:
        return match.group(1)
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def parse_started(text: Any) -> datetime | None:
    """``startedDateTime`` as an aware UTC datetime, or ``None`` when it is not ISO 8601."""
    if not isinstance(text, str):
        return None
    if len(text) in (24, 27) and text[-1] == "Z":  # Chrome's and gwsnb's form: ms or us, then Z
        try:
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    match = _ISO.match(text.strip())
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    micros = (fraction or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if zone in (None, "Z") else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{whole}.{micros}{zone}")
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


class Headers:
    """A small case-insensitive multi-map of HTTP headers, in the order the capture lists them."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = [(str(name), str(value)) for name, value in items]

    @classmethod
    def from_har(cls, raw: Any, pool: dict[tuple[str, str], tuple[str, str]] | None = None) -> Headers:
        """From a HAR ``headers`` array (entries without a name are skipped).  ``pool`` shares one tuple
        per distinct header between entries: a long capture repeats the same few hundred headers."""
        headers = cls()
        if not isinstance(raw, list):
            return headers
        pairs = [(h["name"], str(h.get("value", ""))) for h in raw
                 if isinstance(h, dict) and isinstance(h.get("name"), str)]
        headers._items = pairs if pool is None else [pool.setdefault(pair, pair) for pair in pairs]
        return headers

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, else ``default``."""
        lowered = name.lower()
        for key, value in self._items:
            if key.lower() == lowered:
                return value
        return default

    def getall(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        lowered = name.lower()
        return [value for key, value in self._items if key.lower() == lowered]

    def names(self) -> list[str]:
        return [key for key, _ in self._items]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<Headers {', '.join(self.names())}>"


def _number(value: Any) -> float | None:
    """A HAR size or timing: ``None`` for -1 (not measured), missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    number = float(value)
    return None if number < 0 or number != number else number


def decode_body(text: Any, encoding: Any) -> tuple[str | None, bool]:
    """A HAR body as text, and whether it was binary (not UTF-8: then the text is ``None``)."""
    if not isinstance(text, str):
        return None, False
    if isinstance(encoding, str) and encoding.lower() == "base64":
        try:
            raw = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            return None, True
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            return None, True
    return text, False


def _cookie_pairs(header: str) -> Iterator[tuple[str, str]]:
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            yield name.strip(), value.strip()


def _set_cookie_pair(line: str) -> tuple[str, str] | None:
    first = line.split(";", 1)[0]
    name, sep, value = first.strip().partition("=")
    return (name.strip(), value.strip()) if sep and name.strip() else None


def _har_cookies(raw: Any) -> dict[str, str]:
    if not isinstance(raw, list):
        return {}
    return {c["name"]: str(c.get("value", "")) for c in raw if isinstance(c, dict) and isinstance(c.get("name"), str)}


class CaptureMessage(NamedTuple):
    """One Bayeux message of a capture: the entry it travelled in, its direction (``"sent"`` in a request
    body, ``"received"`` in an answer), when (the request's start, or the answer's end, epoch seconds) and
    the message itself (a dict, as on the wire)."""

    entry: int
    direction: str
    at: float
    message: dict[str, Any]


@dataclass(eq=False)
class Entry:
    """One HTTP exchange of a capture, with what gwsnb reads from it.

    ``index`` is the entry's position in the file; ``started`` its ``startedDateTime`` (UTC) and
    ``started_s`` the same as epoch seconds; ``status`` is 0 for a request that got no answer (then
    ``error`` says why when the writer recorded it).  Bodies are text (base64 decoded; ``None`` when
    absent or binary, ``request_binary`` / ``response_binary`` tell which); a Bayeux answer is kept as
    its parsed messages (:meth:`received_messages`; :attr:`response_body` rebuilds its text).  Timings are milliseconds,
    ``None`` where the writer did not measure them.
    """

    index: int
    started: datetime
    method: str
    url: str
    status: int
    http_version: str = ""
    status_text: str = ""
    request_headers: Headers = field(default_factory=Headers)
    response_headers: Headers = field(default_factory=Headers)
    request_body: str | None = None
    response_text: str | None = None
    request_mime: str | None = None
    response_mime: str | None = None
    request_binary: bool = False
    response_binary: bool = False
    request_size: float | None = None
    response_size: float | None = None
    wait_ms: float | None = None
    receive_ms: float | None = None
    total_ms: float | None = None
    server_ip: str | None = None
    error: str | None = None
    request_cookies_har: dict[str, str] = field(default_factory=dict)
    response_cookies_har: dict[str, str] = field(default_factory=dict)
    #: a WebSocket's Bayeux frames ``(direction, at, messages)`` (Chrome's ``_webSocketMessages``), else None
    websocket: list[tuple[str, float, list[dict[str, Any]]]] | None = None
    _sent: list[dict[str, Any]] | None = field(default=None, repr=False)
    _received: list[dict[str, Any]] | None = field(default=None, repr=False)

    # --- the URL -----------------------------------------------------------------------------------
    @property
    def started_s(self) -> float:
        return self.started.timestamp()

    @property
    def ended_s(self) -> float:
        """When the answer was complete (``started`` + total time), epoch seconds."""
        return self.started_s + (self.total_ms or 0.0) / 1000.0

    @cached_property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(urlsplit(self.url).query, keep_blank_values=True)

    # --- credentials -----------------------------------------------------------------------------------
    @cached_property
    def cookies_sent(self) -> dict[str, str]:
        """Cookies the request carried (name → value): its ``Cookie`` headers, else the HAR's ``cookies``."""
        found: dict[str, str] = {}
        for header in self.request_headers.getall("Cookie"):
            found.update(_cookie_pairs(header))
        return found or dict(self.request_cookies_har)

    @cached_property
    def cookies_set(self) -> dict[str, str]:
        """Cookies the answer set (name → value): its ``Set-Cookie`` headers, else the HAR's ``cookies``."""
        found: dict[str, str] = {}
        for header in self.response_headers.getall("Set-Cookie"):
            for line in header.split("\n"):  # Firefox joins several Set-Cookie with newlines
                pair = _set_cookie_pair(line)
                if pair is not None:
                    found[pair[0]] = pair[1]
        return found or dict(self.response_cookies_har)

    @cached_property
    def session_hash(self) -> str | None:
        """:func:`value_hash` of the JSESSIONID the request sent (``None`` when it sent none)."""
        value = self.cookies_sent.get(protocol.SESSION_COOKIE)
        return value_hash(value) if value else None

    @cached_property
    def session_set_hash(self) -> str | None:
        """:func:`value_hash` of the JSESSIONID the answer set, if it set one."""
        value = self.cookies_set.get(protocol.SESSION_COOKIE)
        return value_hash(value) if value else None

    @cached_property
    def csrf_sent(self) -> bool:
        """The request carried a CSRF header (a header whose name contains ``csrf`` or ``xsrf``)."""
        return any(map(_is_csrf_name, self.request_headers.names()))

    @property
    def basic_auth(self) -> bool:
        """The request carried ``Authorization: Basic ...``."""
        value = self.request_headers.get("Authorization")
        return bool(value) and value.strip().lower().startswith("basic ")  # type: ignore[union-attr]

    @property
    def sanitized(self) -> bool:
        """No header of this exchange names a cookie or Authorization (Chrome's default export)."""
        return not (self.cookies_sent or self.cookies_set or "Authorization" in self.request_headers)

    # --- GWS ------------------------------------------------------------------------------------------
    @cached_property
    def is_gws(self) -> bool:
        """A request to the GWS API (``/api/v2/...``) or to a Bayeux endpoint."""
        return protocol.API_PREFIX + "/" in self.path or self.path.endswith(protocol.API_PREFIX) or self.is_bayeux

    @cached_property
    def is_bayeux(self) -> bool:
        """The request body is Bayeux: a JSON array (or object) of messages with a ``/channel``."""
        return bool(self.sent_messages())

    def sent_messages(self) -> list[dict[str, Any]]:
        """The Bayeux messages of the request body, or of the WebSocket frames sent ([] when it is not
        Bayeux); parsed once, the same dicts on every call (the frames and the calls share them, as a live
        client's results do)."""
        if self._sent is None:
            if self.websocket is not None:
                self._sent = [m for direction, _, ms in self.websocket if direction == "sent" for m in ms]
            else:
                self._sent = _bayeux(self.request_body) if self.method == "POST" else []
        return self._sent

    def received_messages(self) -> list[dict[str, Any]]:
        """The Bayeux messages of the response body, or of the WebSocket frames received ([] when the
        request is not Bayeux); parsed once."""
        if self._received is None:
            if self.websocket is not None:
                self._received = [m for direction, _, ms in self.websocket if direction == "received" for m in ms]
            else:
                self._received = _bayeux(self.response_text) if self.is_bayeux else []
        return self._received

    def bayeux_frames(self) -> list[tuple[str, float, list[dict[str, Any]]]]:
        """``(direction, at, messages)`` as they travelled: for a long poll, the request's messages at its
        start and the answer's at its end; for a WebSocket (Chrome's ``_webSocketMessages``), each frame at
        its own time."""
        if self.websocket is not None:
            return self.websocket
        frames = [("sent", self.started_s, self.sent_messages())]
        if self.received_messages():
            frames.append(("received", self.ended_s, self.received_messages()))
        return frames if frames[0][2] else []

    @property
    def response_body(self) -> str | None:
        """The answer's body as text.  A Bayeux answer is kept parsed only (its text is dropped once its
        messages are read, which halves a long capture's memory): its text is then rebuilt from them
        (compact JSON, the same messages, not necessarily the same bytes)."""
        if self.response_text is None and self._received:
            return json.dumps(self._received, ensure_ascii=False, separators=(",", ":"))
        return self.response_text

    def keep_parsed_only(self) -> None:
        """Parse a Bayeux answer now and drop its text (see :attr:`response_body`)."""
        if self.response_text and self.is_bayeux and self.received_messages():
            self.response_text = None

    def bayeux_messages(self) -> list[tuple[str, dict[str, Any]]]:
        """``(direction, message)`` of every Bayeux message, ``"sent"`` then ``"received"``."""
        return ([("sent", m) for m in self.sent_messages()]
                + [("received", m) for m in self.received_messages()])

    def json_body(self, which: str = "response") -> Any:
        """The request or response body parsed as JSON, ``None`` when it is not JSON (parsed once)."""
        cache = self.__dict__.setdefault("_json", {})
        if which not in cache:
            text = self.response_body if which == "response" else self.request_body
            try:
                cache[which] = json.loads(text) if text and text.lstrip()[:1] in ("{", "[") else None
            except ValueError:
                cache[which] = None
        return cache[which]

    def __repr__(self) -> str:
        return f"<Entry #{self.index} {self.started.isoformat()} {self.method} {self.path} {self.status}>"


def _bayeux(text: str | None) -> list[dict[str, Any]]:
    if not text or text.lstrip()[:1] not in ("[", "{"):
        return []
    try:
        body = json.loads(text)
    except ValueError:
        return []
    messages = body if isinstance(body, list) else [body]
    if not messages or not all(isinstance(m, dict) and str(m.get("channel", "")).startswith("/") for m in messages):
        return []
    return messages


def _request_fields(request: dict[str, Any], pool: Any) -> dict[str, Any]:
    post = _obj(request, "postData")
    body, binary = decode_body(post.get("text"), post.get("encoding"))
    headers_size = _number(request.get("headersSize"))
    body_size = _number(request.get("bodySize"))
    return {
        "method": str(request.get("method", "")).upper(),
        "url": str(request.get("url", "")),
        "http_version": str(request.get("httpVersion", "")),
        "request_headers": Headers.from_har(request.get("headers"), pool),
        "request_body": body,
        "request_binary": binary,
        "request_mime": post.get("mimeType") if isinstance(post.get("mimeType"), str) else None,
        "request_size": None if headers_size is None and body_size is None else (headers_size or 0) + (body_size or 0),
        "request_cookies_har": _har_cookies(request.get("cookies")),
    }


def _response_fields(response: dict[str, Any], pool: Any) -> dict[str, Any]:
    content = _obj(response, "content")
    body, binary = decode_body(content.get("text"), content.get("encoding"))
    status = response.get("status")
    size = _number(response.get("_transferSize"))
    if size is None:
        headers_size, body_size = _number(response.get("headersSize")), _number(response.get("bodySize"))
        if headers_size is not None or body_size is not None:
            size = (headers_size or 0) + (body_size or 0)
    # Chrome writes a failed request as status 0 with ``_error``; Playwright as -1 with ``_failureText``
    error = response.get("_error") or response.get("_failureText")
    return {
        "status": max(status, 0) if isinstance(status, int) and not isinstance(status, bool) else 0,
        "status_text": str(response.get("statusText", "")),
        "response_headers": Headers.from_har(response.get("headers"), pool),
        "response_text": body,
        "response_binary": binary,
        "response_mime": content.get("mimeType") if isinstance(content.get("mimeType"), str) else None,
        "response_size": size if size is not None else _number(content.get("size")),
        "error": str(error) if error else None,
        "response_cookies_har": _har_cookies(response.get("cookies")),
    }


def make_entry(index: int, raw: Any, pool: dict[tuple[str, str], tuple[str, str]] | None = None) -> Entry | None:
    """One :class:`Entry` from a raw HAR entry, ``None`` when it has no request or no valid start time."""
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        return None
    started = parse_started(raw.get("startedDateTime"))
    if started is None:
        return None
    response = _obj(raw, "response")
    timings = _obj(raw, "timings")
    server_ip = raw.get("serverIPAddress")
    fields = {**_request_fields(raw["request"], pool), **_response_fields(response, pool)}
    if not fields["http_version"]:
        fields["http_version"] = str(response.get("httpVersion", ""))
    error = raw.get("_error") or fields.pop("error")
    fields["websocket"] = _websocket(raw.get("_webSocketMessages"))
    return Entry(index=index, started=started, **fields, error=str(error) if error else None,
                 wait_ms=_number(timings.get("wait")), receive_ms=_number(timings.get("receive")),
                 total_ms=_number(raw.get("time")),
                 server_ip=server_ip.strip("[]") if isinstance(server_ip, str) and server_ip else None)


def _websocket(raw: Any) -> list[tuple[str, float, list[dict[str, Any]]]] | None:
    """The Bayeux frames of Chrome's ``_webSocketMessages`` (``type`` send/receive, ``time`` in epoch
    seconds, ``data`` text), ``None`` when the entry is no WebSocket or carries no Bayeux message."""
    if not isinstance(raw, list):
        return None
    frames: list[tuple[str, float, list[dict[str, Any]]]] = []
    for frame in raw:
        if not isinstance(frame, dict) or not isinstance(frame.get("time"), (int, float)):
            continue
        messages = _bayeux(frame.get("data") if isinstance(frame.get("data"), str) else None)
        if messages:
            frames.append(("sent" if frame.get("type") == "send" else "received", float(frame["time"]), messages))
    return frames or None


@dataclass
class HarLog:
    """What :func:`read_har` found: the entries (sorted by start) and the log's metadata."""

    entries: list[Entry]
    creator: dict[str, Any]
    browser: dict[str, Any] | None
    pages: list[dict[str, Any]]
    version: str | None
    comment: str | None
    #: raw entries that were not HTTP exchanges (no request, no start time)
    skipped: int = 0
    #: entries seen in the file (read or skipped)
    total: int = 0


class HarFormatError(Exception):
    """The file is not a HAR (the message says why, in words meant for a person)."""


def _open(source: str | IO[bytes]) -> IO[bytes]:
    return open(source, "rb") if isinstance(source, str) else source  # noqa: SIM115 - closed by the caller


def _first_byte(stream: IO[bytes]) -> bytes:
    head = stream.read(4096)
    stream.seek(0)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped[:1]


def iter_raw_entries(stream: IO[bytes]) -> Iterator[Any]:
    """The raw entry dicts of ``log.entries``, one at a time (``ijson`` when installed, else ``json``)."""
    try:
        import ijson
    except ImportError:  # pragma: no cover - ijson is a dependency; kept for a partial install
        data = json.load(stream)
        entries = data.get("log", {}).get("entries", []) if isinstance(data, dict) else []
        del data
        yield from entries if isinstance(entries, list) else []
        return
    yield from ijson.items(stream, "log.entries.item", use_float=True)


_META_KEYS = ("version", "creator", "browser", "pages", "comment")


def _metadata(stream: IO[bytes]) -> dict[str, Any]:
    """``log``'s small fields (version, creator, browser, pages, comment), read up to ``log.entries``.

    Writers put them before the entries; one found after them costs a second pass for that key alone.
    ``"entries"`` is set in the result when ``log.entries`` was seen.
    """
    try:
        import ijson
    except ImportError:  # pragma: no cover
        data = json.load(stream)
        log = data.get("log") if isinstance(data, dict) else None
        return {k: v for k, v in log.items() if k != "entries"} | {"entries": True} if isinstance(log, dict) else {}
    builders: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for prefix, event, value in ijson.parse(stream, use_float=True):
        if prefix == "log.entries" and event == "start_array":
            found["entries"] = True
            break
        key = prefix[4:].split(".", 1)[0] if prefix.startswith("log.") else None
        if key in _META_KEYS:
            builder = builders.get(key)
            if builder is None:
                builder = builders[key] = ijson.ObjectBuilder()
            builder.event(event, value)
    found.update({key: builder.value for key, builder in builders.items()})
    if "entries" in found and "creator" not in found:
        stream.seek(0)
        creator = next(ijson.items(stream, "log.creator", use_float=True), None)
        if creator is not None:
            found["creator"] = creator
    return found


def read_har(path: str) -> HarLog:
    """Read a HAR file into a :class:`HarLog`.

    :raises HarFormatError: not JSON, not a HAR object, or cut short (the message says which).
    :raises OSError: the file cannot be read.
    """
    with open(path, "rb") as stream:
        if _first_byte(stream) != b"{":
            raise HarFormatError("not a HAR file: it does not start with a JSON object")
        meta = _parse(lambda: _metadata(stream))
        stream.seek(0)
        if "entries" not in meta:
            raise HarFormatError("not a HAR file: it has no 'log' object with 'entries'")
        entries: list[Entry] = []
        skipped = total = 0
        pool: dict[tuple[str, str], tuple[str, str]] = {}
        for raw in _parse(lambda: iter_raw_entries(stream), lazy=True):
            entry = make_entry(total, raw, pool)
            total += 1
            if entry is None:
                skipped += 1
            else:
                entry.keep_parsed_only()
                entries.append(entry)
    entries.sort(key=lambda e: (e.started, e.index))
    creator = _obj(meta, "creator")
    browser = meta.get("browser") if isinstance(meta.get("browser"), dict) else None
    pages = [p for p in meta.get("pages") or [] if isinstance(p, dict)] if isinstance(meta.get("pages"), list) else []
    version = meta.get("version")
    comment = meta.get("comment")
    return HarLog(entries, creator, browser, pages, str(version) if version is not None else None,
                  comment if isinstance(comment, str) else None, skipped, total)


def _parse(run: Any, *, lazy: bool = False) -> Any:
    """``run()`` with JSON errors (truncated, malformed) turned into :class:`HarFormatError`."""
    if lazy:
        return _guarded(run())
    try:
        return run()
    except Exception as exc:
        raise _format_error(exc) from None


def _guarded(items: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from items
    except Exception as exc:
        raise _format_error(exc) from None


def _format_error(exc: Exception) -> Exception:
    if isinstance(exc, (OSError, MemoryError)):
        return exc
    text = str(exc)
    if "premature" in text.lower():  # ijson's (yajl's) word for a file that ends inside the JSON
        return HarFormatError("the file is cut short (truncated JSON): export the capture again")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return HarFormatError(f"not a HAR file: the JSON cannot be read ({first[:120]})")
