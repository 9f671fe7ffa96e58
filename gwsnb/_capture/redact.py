"""Finding and replacing the secrets of a HAR capture (docs/captures.md, "Redaction").

Replaced, each by a stable placeholder ``gwsnb-redacted-<kind>-<hash>`` (``<hash>`` is
:func:`~gwsnb._capture.har.value_hash` of the value, so the same value always gets the same placeholder
and sessions and CometD clients still match, and a session keeps its name in the redacted copy):

- the credentials of ``Authorization`` headers (the scheme, ``Basic``, is kept);
- cookie values (``Cookie``, ``Set-Cookie``, the HAR's ``cookies`` arrays);
- CSRF tokens: the value of every header whose name holds ``csrf`` or ``xsrf`` (except the value of
  ``X-CSRF-HEADER``, which names a header), in requests and answers;
- password fields of JSON and form bodies (a key holding ``password``, ``passwd`` or ``pwd``);
- Bayeux ``clientId`` values, in bodies;

then every occurrence of a value found above (at least 6 characters long) anywhere else in the file: in
URLs and query strings (a clientId in a URL), other headers, other bodies.  Bodies written in base64 are
decoded first (a UTF-8 body is written back as text; a binary one is searched as bytes and re-encoded).
With ``customer_data`` the records' phone numbers and contact info (``contact_info``, ``GSW_PHONE``) and
their custom fields (``userData`` keys that are neither OCS columns nor ``GSW_*``) are masked too.

The file is read whole with :mod:`json` (redaction is not on the 200 MB reading path).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from .. import protocol
from .har import PLACEHOLDER_PREFIX, Entry, value_hash

__all__ = ["find_secrets", "redact_file", "redact_har", "write_json"]

_PASSWORD_KEY = re.compile(r"pass(word|wd)?\Z|pwd\Z|password", re.IGNORECASE)
_CSRF_NAME = re.compile(r"csrf|xsrf", re.IGNORECASE)
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z")
_MIN_GLOBAL = 6
#: a JSON body holding none of these has no key the body pass replaces (see _Redactor.json_value)
_JSON_KEYS = ('"clientid"', "pass", "pwd", "csrf", "xsrf")  # lower case
_OCS = frozenset(protocol.OCS_COLUMNS)
_PHONE_KEYS = frozenset(("contact_info", "GSW_PHONE"))


def _obj(holder: Any, key: str) -> dict[str, Any]:
    """``holder[key]`` when both are JSON objects, else an empty dict."""
    value = holder.get(key) if isinstance(holder, dict) else None
    return value if isinstance(value, dict) else {}


def _is_placeholder(value: str) -> bool:
    return value.startswith(PLACEHOLDER_PREFIX) or PLACEHOLDER_PREFIX in value


def _csrf_value(name: str, value: str) -> bool:
    """A CSRF token (not the header name X-CSRF-HEADER announces)."""
    if not _CSRF_NAME.search(name) or not value or _is_placeholder(value):
        return False
    return not (_HEADER_NAME.match(value) and _CSRF_NAME.search(value))


def _password_in(body: Any) -> bool:
    if isinstance(body, dict):
        return any((_PASSWORD_KEY.search(k) and isinstance(v, str) and v and not _is_placeholder(v))
                   or _password_in(v) for k, v in body.items())
    if isinstance(body, list):
        return any(_password_in(v) for v in body)
    return False


def _entry_secrets(entry: Entry) -> set[str]:
    kinds: set[str] = set()
    auth = entry.request_headers.get("Authorization")
    if auth and not _is_placeholder(auth):
        kinds.add("Authorization header")
    cookies = list(entry.cookies_sent.values()) + list(entry.cookies_set.values())
    if any(value and not _is_placeholder(value) for value in cookies):
        kinds.add("cookie values")
    headers = entry.request_headers.items() + entry.response_headers.items()
    if any(_csrf_value(name, value) for name, value in headers):
        kinds.add("CSRF token")
    if entry.request_body and re.search(r"pass|pwd", entry.request_body, re.IGNORECASE):
        body = entry.json_body("request")
        if body is None:
            body = dict(parse_qsl(entry.request_body))
        if _password_in(body):
            kinds.add("password field")
    return kinds


def find_secrets(entries: Iterable[Entry]) -> dict[str, int]:
    """Kinds of secret found (Authorization header, cookie values, CSRF token, password field) → how many
    entries carry one.  Placeholders of a redacted capture do not count."""
    counts: Counter[str] = Counter()
    for entry in entries:
        counts.update(_entry_secrets(entry))
    return dict(sorted(counts.items()))


class _Redactor:
    """Placeholders by value, and what was replaced by kind."""

    def __init__(self, customer_data: bool) -> None:
        self.customer_data = customer_data
        self.mapping: dict[str, str] = {}
        self.counts: Counter[str] = Counter()

    def placeholder(self, value: str, kind: str, *, count: bool = True) -> str:
        if not value or _is_placeholder(value):
            return value
        found = self.mapping.get(value)
        if found is None:
            found = self.mapping[value] = f"{PLACEHOLDER_PREFIX}{kind}-{value_hash(value)}"
        self.counts[kind] += count
        return found

    def cookie_kind(self, name: str) -> str:
        return "jsessionid" if name.upper() == protocol.SESSION_COOKIE else "cookie"

    # --- headers and cookies -------------------------------------------------------------------------
    def headers(self, headers: Any) -> None:
        for header in headers if isinstance(headers, list) else []:
            if not isinstance(header, dict) or not isinstance(header.get("value"), str):
                continue
            name, value = str(header.get("name", "")), header["value"]
            lowered = name.lower()
            if lowered in ("authorization", "proxy-authorization"):
                scheme, _, credentials = value.partition(" ")
                header["value"] = f"{scheme} {self.placeholder(credentials or scheme, 'authorization')}"
                self._basic_password(scheme, credentials)
            elif lowered == "cookie":
                header["value"] = "; ".join(self._cookie_pair(part) for part in value.split(";") if part.strip())
            elif lowered == "set-cookie":
                header["value"] = "\n".join(self._set_cookie(line) for line in value.split("\n"))
            elif _csrf_value(name, value):
                header["value"] = self.placeholder(value, "csrf")

    def _basic_password(self, scheme: str, credentials: str) -> None:
        if scheme.lower() != "basic" or not credentials:
            return
        try:
            user_pass = base64.b64decode(credentials).decode("utf-8")
        except (binascii.Error, ValueError):
            return
        password = user_pass.partition(":")[2]
        if password:  # replaced wherever else it appears in clear (a login form, a URL); counted there
            self.placeholder(password, "password", count=False)

    def _cookie_pair(self, part: str) -> str:
        name, sep, value = part.strip().partition("=")
        return f"{name}={self.placeholder(value, self.cookie_kind(name))}" if sep else part.strip()

    def _set_cookie(self, line: str) -> str:
        first, sep, rest = line.partition(";")
        return self._cookie_pair(first) + (sep + rest if sep else "")

    def cookies(self, cookies: Any) -> None:
        for cookie in cookies if isinstance(cookies, list) else []:
            if isinstance(cookie, dict) and isinstance(cookie.get("value"), str):
                cookie["value"] = self.placeholder(cookie["value"], self.cookie_kind(str(cookie.get("name", ""))))

    # --- bodies -------------------------------------------------------------------------------------
    def json_value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            if self.customer_data and isinstance(value.get("userData"), dict):
                value["userData"] = self._customer(value["userData"])
            return {k: self.json_value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json_value(v, key) for v in value]
        if isinstance(value, str) and value:
            if key == "clientId":
                return self.placeholder(value, "clientid")
            if _PASSWORD_KEY.search(key):
                return self.placeholder(value, "password")
            if _CSRF_NAME.search(key):
                return self.placeholder(value, "csrf")
        return value

    def _customer(self, user_data: dict[str, Any]) -> dict[str, Any]:
        masked: dict[str, Any] = {}
        for key, value in user_data.items():
            if value is None or isinstance(value, bool):
                masked[key] = value
            elif key in _PHONE_KEYS:
                masked[key] = self.placeholder(str(value), "phone")
            elif key not in _OCS and not key.startswith("GSW_"):
                masked[key] = self.placeholder(str(value), "field")
            else:
                masked[key] = value
        return masked

    def body_text(self, text: str, mime: str) -> str:
        stripped = text.lstrip()
        if stripped[:1] in ("{", "["):
            lowered = text.lower()
            if not (any(key in lowered for key in _JSON_KEYS) or (self.customer_data and '"userData"' in text)):
                return text  # nothing this pass replaces: no need to parse and write it again
            try:
                parsed = json.loads(text)
            except ValueError:
                return text
            return json.dumps(self.json_value(parsed), ensure_ascii=False, separators=(",", ":"))
        if "x-www-form-urlencoded" in mime or ("=" in text and "&" in text and " " not in text):
            pairs = parse_qsl(text, keep_blank_values=True)
            if pairs:
                return urlencode([(k, self.placeholder(v, "password") if _PASSWORD_KEY.search(k) and v else v)
                                  for k, v in pairs])
        return text

    def body(self, holder: Any, mime_holder: Any) -> None:
        """Redact ``holder["text"]`` (a postData or a content), decoding base64 first."""
        if not isinstance(holder, dict) or not isinstance(holder.get("text"), str):
            return
        mime = str((mime_holder or {}).get("mimeType", "") if isinstance(mime_holder, dict) else "")
        if str(holder.get("encoding", "")).lower() == "base64":
            try:
                raw = base64.b64decode(holder["text"])
            except (binascii.Error, ValueError):
                return
            try:
                holder["text"] = raw.decode("utf-8")
                del holder["encoding"]
            except UnicodeDecodeError:
                holder["_gwsnb_binary"] = raw  # searched as bytes in the global pass
                return
        holder["text"] = self.body_text(holder["text"], mime)
        for param in holder.get("params") or []:
            if isinstance(param, dict) and isinstance(param.get("value"), str) and _PASSWORD_KEY.search(
                    str(param.get("name", ""))):
                param["value"] = self.placeholder(param["value"], "password")


def _entry(redactor: _Redactor, entry: dict[str, Any]) -> None:
    request = _obj(entry, "request")
    response = _obj(entry, "response")
    redactor.headers(request.get("headers"))
    redactor.headers(response.get("headers"))
    redactor.cookies(request.get("cookies"))
    redactor.cookies(response.get("cookies"))
    redactor.body(request.get("postData"), request.get("postData"))
    redactor.body(response.get("content"), response.get("content"))
    for frame in entry.get("_webSocketMessages") or []:  # Chrome's WebSocket frames (CometD over WebSocket)
        if isinstance(frame, dict) and isinstance(frame.get("data"), str):
            frame["data"] = redactor.body_text(frame["data"], "")


def _global(value: Any, pattern: re.Pattern[str] | None, mapping: dict[str, str],
            byte_pattern: re.Pattern[bytes] | None, byte_mapping: dict[bytes, bytes]) -> Any:
    """Every string (and binary body) of the HAR with every known secret value replaced."""
    if isinstance(value, dict):
        if "_gwsnb_binary" in value:
            raw = value.pop("_gwsnb_binary")
            if byte_pattern is not None:
                raw = byte_pattern.sub(lambda m: byte_mapping[m.group(0)], raw)
            value["text"] = base64.b64encode(raw).decode("ascii")
        return {k: _global(v, pattern, mapping, byte_pattern, byte_mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_global(v, pattern, mapping, byte_pattern, byte_mapping) for v in value]
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(lambda m: mapping[m.group(0)], value)
    return value


def redact_har(har: Any, *, customer_data: bool = False) -> tuple[Any, dict[str, int]]:
    """The redacted copy of a HAR object (``json.load``'s form) and the replacements made, by kind.  The
    entries of ``har`` are changed in place too."""
    redactor = _Redactor(customer_data)
    log = har.get("log") if isinstance(har, dict) else None
    for entry in (log or {}).get("entries") or []:
        if isinstance(entry, dict):
            _entry(redactor, entry)
    mapping = {value: ph for value, ph in redactor.mapping.items() if len(value) >= _MIN_GLOBAL}
    for value, ph in list(mapping.items()):  # a URL may carry a value percent-encoded
        mapping.setdefault(quote(value, safe=""), ph)
    pattern = re.compile("|".join(map(re.escape, sorted(mapping, key=len, reverse=True)))) if mapping else None
    byte_mapping = {k.encode("utf-8"): v.encode("utf-8") for k, v in mapping.items()}
    byte_pattern = (re.compile(b"|".join(map(re.escape, sorted(byte_mapping, key=len, reverse=True))))
                    if byte_mapping else None)
    har = _global(har, pattern, mapping, byte_pattern, byte_mapping)
    if isinstance(har, dict) and isinstance(har.get("log"), dict):
        note = f"redacted by gwsnb ({'with' if customer_data else 'without'} customer data)"
        previous = har["log"].get("comment")
        har["log"]["comment"] = f"{previous}; {note}" if isinstance(previous, str) and previous else note
    return har, {kind: n for kind, n in sorted(redactor.counts.items()) if n}


def write_json(har: Any, path_out: str) -> None:
    """``har`` as JSON to ``path_out``, atomically (a temporary file in the same folder, then renamed).

    :raises OSError: it cannot be written.
    """
    folder = os.path.dirname(os.path.abspath(path_out))
    fd, tmp = tempfile.mkstemp(prefix=".har-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(har, out, ensure_ascii=False)
        os.replace(tmp, path_out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def redact_file(path_in: str, path_out: str, *, customer_data: bool = False) -> dict[str, int]:
    """Write the redacted copy of ``path_in`` to ``path_out`` (atomically); returns replacements by kind.

    :raises OSError: a file cannot be read or written.
    :raises ValueError: ``path_in`` is not JSON.
    """
    with open(path_in, "rb") as stream:
        har = json.load(stream)
    redacted, counts = redact_har(har, customer_data=customer_data)
    write_json(redacted, path_out)
    return counts
