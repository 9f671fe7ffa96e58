"""The doctor's own thin HTTP probe over aiohttp: every exchange kept as raw evidence.

The client's REST session turns answers into typed errors and hides what the doctor needs to see (which
cookies came back, whether the JSESSIONID changed, how long a request was held, what kind of socket or
TLS failure it was), so the doctor speaks HTTP itself, with the same stack and the same rules: one cookie
jar that keeps every cookie (``unsafe=True``: IP-address hosts too), Basic credentials on REST requests
only, the CSRF token under the name ``X-CSRF-HEADER`` gives.  Secrets never leave this module unmasked:
:class:`Masker` learns the password, every cookie value and every CSRF token as they pass, and the
evidence is built from header *names*, statuses and timings (docs/doctor.md#evidence-and-secrets).
"""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from .._wire.rest import env_proxy
from ..protocol import CSRF_HEADER_NAME_HEADER, CSRF_TOKEN_HEADER, SESSION_COOKIE

__all__ = ["Exchange", "Masker", "Probe", "classify_error"]

#: header values safe to show (everything else is shown by name only)
SHOWN_HEADERS = ("Server", "Via", "Content-Type", "X-CSRF-HEADER", "Location", "WWW-Authenticate")
MASK = "****"
_SNIPPET = 120


class Masker:
    """Replaces every secret it has learned (password, Basic header, cookie values, CSRF tokens) by ****."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def learn(self, secret: str | None) -> None:
        # very short values (a cookie "1") would mask innocent text and protect nothing
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, value: Any) -> Any:
        """``value`` with every secret masked, recursively through dicts, lists and tuples."""
        if isinstance(value, str):
            for secret in sorted(self._secrets, key=len, reverse=True):
                if secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value

    def __repr__(self) -> str:
        return f"Masker({len(self._secrets)} secrets)"


def classify_error(exc: BaseException) -> str:
    """What kind of failure an aiohttp exception is: dns, refused, tls_untrusted, tls_hostname, tls,
    timeout, cut (the connection closed without an answer) or error."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        code = getattr(cert, "verify_code", None)
        text = str(cert).lower()
        # 62: X509_V_ERR_HOSTNAME_MISMATCH (64: IP address mismatch)
        return "tls_hostname" if code in (62, 64) or "mismatch" in text else "tls_untrusted"
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return "tls"
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, socket.gaierror):
            return "dns"
        if getattr(os_error, "errno", None) == errno.ECONNREFUSED or isinstance(os_error, ConnectionRefusedError):
            return "refused"
        return "connect"
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, ConnectionResetError,
                        aiohttp.ClientOSError)):
        return "cut"
    return "error"


@dataclass
class Exchange:
    """One request and what came back (or how it failed), kept raw; :meth:`evidence` is the shown part."""

    method: str
    path: str
    sent_s: float
    received_s: float = 0.0
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)
    text: str = ""
    body: Any = None
    error_kind: str | None = None
    error: str | None = None
    cookies_sent: list[str] = field(default_factory=list)

    @property
    def elapsed_ms(self) -> float:
        return round((self.received_s - self.sent_s) * 1000.0, 1)

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def status_code(self) -> Any:
        """The body's GWS ``statusCode`` (None when the body is not a JSON envelope)."""
        return self.body.get("statusCode") if isinstance(self.body, dict) else None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def evidence(self) -> dict[str, Any]:
        """What a person may see: statuses, header names (a few values), cookie names, a body snippet."""
        out: dict[str, Any] = {"request": f"{self.method} {self.path}"}
        if self.error_kind is not None:
            out["failed"] = f"{self.error_kind}: {self.error}"
            out["after_ms"] = self.elapsed_ms
            return out
        out["status"] = self.status
        out["ms"] = self.elapsed_ms
        if isinstance(self.body, dict):
            for key in ("statusCode", "statusMessage"):
                if key in self.body:
                    out[key] = self.body[key]
        elif self.text and self.body is None:
            out["body_starts"] = self.text[:_SNIPPET]
        shown = {k: v for k, v in self.headers.items() if k in SHOWN_HEADERS}
        out["headers"] = sorted(self.headers)
        if shown:
            out["header_values"] = shown
        if self.set_cookies:
            out["set_cookies"] = self.set_cookies
        if self.cookies_sent:
            out["cookies_sent"] = self.cookies_sent
        return out


class Probe:
    """One HTTP session (one cookie jar) with a GWS base URL, recording every exchange."""

    def __init__(self, base_url: str, username: str, password: str, *, ssl_context: ssl.SSLContext | bool,
                 timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.ssl = ssl_context
        self.timeout = timeout
        self.mask = Masker()
        self.mask.learn(password)
        self.mask.learn(self._basic)
        self.mask.learn(self._basic[6:])
        self.csrf_name: str | None = None
        self.csrf_token: str | None = None
        self.exchanges: list[Exchange] = []
        self._http: aiohttp.ClientSession | None = None
        #: gwsnb's own HAR writer (``gwsnb doctor --capture``; see gwsnb/_wire/rest.py's Recorder); None: off
        self.recorder: Any = None

    def __repr__(self) -> str:
        return f"Probe({self.base_url!r}, user={self.username!r})"

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def url_of(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def jar_cookies(self, url: str) -> dict[str, str]:
        """Name → value of the cookies the jar would send to ``url`` (values stay in here)."""
        return {name: morsel.value for name, morsel in self.http.cookie_jar.filter_cookies(URL(url)).items()}

    @property
    def session_id(self) -> str | None:
        return self.jar_cookies(self.base_url + "/").get(SESSION_COOKIE)

    async def request(self, method: str, path: str, *, auth: bool = True, body: Any = None,
                      timeout: float | None = None, csrf: bool | None = None) -> Exchange:
        """Send one request; never raises for a network failure (it is recorded in the Exchange)."""
        url = self.url_of(path)
        headers: dict[str, str] = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = self._basic
        if (method != "GET" if csrf is None else csrf) and self.csrf_token is not None:
            headers[self.csrf_name or CSRF_TOKEN_HEADER] = self.csrf_token
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json;charset=UTF-8"
            data = json.dumps(body)
        ex = Exchange(method, urlsplit(url).path, time.time(), cookies_sent=sorted(self.jar_cookies(url)))
        limit = self.timeout if timeout is None else timeout
        try:
            async with self.http.request(method, url, headers=headers, data=data, ssl=self.ssl,
                                         proxy=env_proxy(url), allow_redirects=False,
                                         timeout=aiohttp.ClientTimeout(total=limit)) as resp:
                raw = await resp.read()
                ex.received_s = time.time()
                ex.status = resp.status
                if self.recorder is not None:
                    self.recorder.record(method, url, resp.request_info.headers, _encoded(data), ex.sent_s,
                                         resp.status, resp.headers, raw, ex.received_s)
                ex.headers = {k: v for k, v in resp.headers.items() if k.lower() != "set-cookie"}
                ex.set_cookies = sorted(resp.cookies)
                for morsel in resp.cookies.values():
                    self.mask.learn(morsel.value)
                ex.text = self.mask(raw.decode("utf-8", "replace"))
                try:
                    ex.body = json.loads(raw) if raw else None
                except ValueError:
                    ex.body = None
                self._learn_csrf(resp)
        except Exception as exc:  # every failure is evidence, classified below
            ex.received_s = time.time()
            ex.error_kind = classify_error(exc)
            ex.error = self.mask(_describe(exc))
            if self.recorder is not None:
                self.recorder.record(method, url, headers, _encoded(data), ex.sent_s, 0, None, None, ex.received_s,
                                     error=ex.error)
        self.exchanges.append(ex)
        return ex

    def _learn_csrf(self, resp: aiohttp.ClientResponse) -> None:
        name = resp.headers.get(CSRF_HEADER_NAME_HEADER)
        token = resp.headers.get(name or CSRF_TOKEN_HEADER)
        if token:
            self.csrf_name = name or CSRF_TOKEN_HEADER
            self.csrf_token = token
            self.mask.learn(token)


def _encoded(data: str | None) -> bytes | None:
    return None if data is None else data.encode("utf-8")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"certificate refused: {exc.certificate_error}"
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer in time"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
