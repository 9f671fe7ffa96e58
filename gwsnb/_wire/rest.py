"""The HTTP session with GWS: Basic auth, the JSESSIONID cookie, the CSRF header, statusCode → typed error.

It runs on the client's event loop: every request is an ``aiohttp`` coroutine (no thread hop).  The
``aiohttp.ClientSession`` it opens is shared with the CometD transport, so REST and Bayeux requests use
one connection pool and ONE cookie jar (a :class:`~gwsnb._wire.cookies.HeaderJar`, ``unsafe=True``: the
default jar drops cookies of IP-address hosts such as 127.0.0.1; gwsnb sends its ``Cookie`` header itself).  Only REST requests carry the ``Authorization`` header; Bayeux
requests ride the HTTP session by its cookie (see docs/cometd.md).

TLS and proxies (read once, when the session is opened, as ``requests`` did with ``trust_env``):
``verify=True`` checks certificates against the system trust store (OpenSSL honours ``SSL_CERT_FILE`` /
``SSL_CERT_DIR``) or, if set, the bundle named by ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``;
``verify="path"`` names a CA bundle file (or directory); ``verify=False`` turns checking off and warns
once per process.  ``HTTP(S)_PROXY`` / ``NO_PROXY`` pick the proxy of the base URL.

Nothing here logs or repeats the password or the ``Authorization`` header: error messages name the
method, the path and the HTTP status only.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import email.utils
import logging
import os
import ssl
import time
import urllib.request
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from .. import protocol
from ..errors import (
    AuthenticationError,
    CsrfError,
    GwsStatusError,
    NotAuthenticatedError,
    TransportError,
    describe,
    status_error,
)
from . import jsoncodec
from .cookies import HeaderJar, cookie_header, jar_cookies

__all__ = ["RestSession", "check_base_url", "decode", "ssl_context", "env_proxy", "parse_retry_after"]

LOGGER = logging.getLogger(__name__)
_insecure_warned = False
_SUCCESS_CODES = (protocol.STATUS_OK, protocol.STATUS_PARTIAL_SUCCESS)
#: the HTTP statuses whose ``Retry-After`` a bulk run obeys (RFC 9110 §10.2.3, RFC 6585 §4)
PUSHBACK_STATUSES = frozenset({429, 503})
#: connections kept per host (REST calls in flight plus the long-poll)
POOL_SIZE = 100

Hook = Callable[[], Awaitable[None]]


class Recorder(Protocol):
    """What records each exchange for a HAR capture (:class:`gwsnb._capture.writer.HarRecorder`)."""

    def record(self, method: str, url: str, request_headers: Any, request_body: bytes | None, started: float,
               status: int, response_headers: Any, response_body: bytes | None, ended: float, *,
               http_version: str = ..., error: str | None = ..., answered: float | None = ...) -> None: ...


def _json_bytes(body: dict[str, Any] | None) -> bytes | None:
    # what aiohttp's json= sends (the session's json_serialize)
    return None if body is None else jsoncodec.dumps(body)


def _warn_insecure_once() -> None:
    global _insecure_warned
    if _insecure_warned:
        return
    _insecure_warned = True
    warnings.warn(
        "gwsnb: TLS certificate verification is turned off (verify=False); the connection can be "
        "intercepted", stacklevel=5)


def ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """What ``aiohttp`` gets as ``ssl=``: ``False`` (no checking) or a verifying context.

    :raises InvalidParameterError: ``verify`` names a CA bundle that cannot be read.
    """
    from ..errors import InvalidParameterError

    if not isinstance(verify, (bool, str)):
        raise InvalidParameterError("verify", verify, "expected True, False or a CA bundle path")
    if verify is False:
        _warn_insecure_once()
        return False
    bundle = verify if isinstance(verify, str) else (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None)
    try:
        if bundle is not None and os.path.isdir(bundle):
            return ssl.create_default_context(capath=bundle)
        return ssl.create_default_context(cafile=bundle)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidParameterError("verify", bundle, f"cannot load this CA bundle ({type(exc).__name__})") from None


def env_proxy(url: str) -> str | None:
    """The proxy the environment (``HTTP(S)_PROXY``, ``NO_PROXY``) names for ``url``, if any."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """The seconds a ``Retry-After`` header value asks to wait (RFC 9110 §10.2.3), ``None`` when absent or
    unreadable.

    Either delta-seconds (digits; a decimal is accepted too, as some servers and the sandbox send one)
    or an HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept),
    read against ``now`` (``time.time()`` by default); a date in the past means 0.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if seconds >= 0 and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime carries no zone: HTTP dates are GMT (RFC 9110 §5.6.7)
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _describe_client_error(method: str, path: str, exc: BaseException, timeout: float) -> TransportError:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return TransportError(
            f"{method} {path}: TLS error: the server's certificate was refused ({exc.certificate_error}); "
            "pass verify='/path/to/ca-bundle.pem' naming the CA that signed it")
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return TransportError(f"{method} {path}: TLS error: {type(exc).__name__}: {_short(exc)}")
    if isinstance(exc, asyncio.TimeoutError):
        return TransportError(f"{method} {path}: no answer within {timeout} s")
    # refused, reset, DNS, disconnected: the server cannot be reached (a bulk run pauses for it)
    unreachable = isinstance(exc, (aiohttp.ClientConnectionError, OSError))
    return TransportError(f"{method} {path}: {type(exc).__name__}: {_short(exc)}", unreachable=unreachable)


def _csrf_refusal(method: str, path: str, text: str) -> CsrfError:
    reason = text[:200].strip() or "forbidden"
    return CsrfError(f"{method} {path}: HTTP 403 {reason!r} (CSRF token or session cookie refused)")


def _status_body(method: str, path: str, status: int, body: dict[str, Any]) -> dict[str, Any]:
    code = body.get("statusCode")
    if code in _SUCCESS_CODES and status < 400:
        return body
    if code in _SUCCESS_CODES:  # an HTTP error with a success body: trust neither
        raise TransportError(f"{method} {path}: HTTP {status} with statusCode {code}")
    raise status_error(body, http_status=status)


def decode(method: str, path: str, status: int, raw: bytes) -> dict[str, Any]:
    """The JSON object of a GWS answer, or the typed error it means.

    :raises CsrfError: HTTP 403 without a statusCode body (GWS's CSRF refusal).
    :raises GwsStatusError: a non-zero ``statusCode`` (the subclass :func:`gwsnb.errors.status_error` picks).
    :raises AuthenticationError: HTTP 401 without a statusCode body.
    :raises TransportError: another HTTP error, or a 2xx answer that is not a JSON object.
    """
    try:
        body: Any = jsoncodec.loads(raw) if raw else None
    except ValueError:
        body = None
    has_status = isinstance(body, dict) and "statusCode" in body
    if status == 403 and not has_status:
        raise _csrf_refusal(method, path, raw.decode("utf-8", "replace"))
    if has_status:
        return _status_body(method, path, status, body)
    if status == 401:
        raise AuthenticationError(f"{method} {path}: HTTP 401, credentials refused")
    if status == 404:
        raise TransportError(f"{method} {path}: HTTP 404 (wrong URL, or the GWS feature is disabled)")
    if status >= 400:
        raise TransportError(f"{method} {path}: HTTP {status}", http_status=status)
    if isinstance(body, dict):  # 2xx JSON without statusCode: keep it, GWS always sends one
        return body
    raise TransportError(f"{method} {path}: HTTP {status}, the answer is not a JSON object")


class RestSession:
    """A logged-in HTTP session with one GWS server (``base_url`` ends in ``/api/v2``).

    Built anywhere; :meth:`open` (on the loop that will use it) creates the ``aiohttp`` session.  All
    request methods are coroutines of that loop.
    """

    def __init__(self, base_url: str, username: str, password: str, *, verify: bool | str = True,
                 timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._url = URL(self.base_url)
        self.username = username
        self.timeout = timeout
        self.verify = verify
        self.ssl = ssl_context(verify)
        self.proxy = env_proxy(self.base_url)
        basic = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        #: headers of a GET, and of a POST (plus the CSRF header once known); never shown in a repr
        self._get_headers = {"Authorization": f"Basic {basic}"}
        self._post_headers = dict(self._get_headers)
        self._timeouts = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self.http: aiohttp.ClientSession | None = None
        self._csrf: dict[str, str] = {}
        self._relogin_lock: asyncio.Lock | None = None
        #: bumped on every re-login, so that concurrent failures log in again only once
        self._generation = 0
        #: awaited after a re-login, e.g. to restart the contact-center session
        self.after_relogin: Hook | None = None
        #: awaited after the re-login of a refused POST, before it is resent: the client waits there for
        #: CometD to ride the new session, which the resent request's notifications will be delivered to
        self.before_retry: Hook | None = None
        #: called with (sent, received, Date header or None) of every answer (``time.time()`` seconds)
        self.on_answer: Callable[[float, float, str | None], None] | None = None
        #: gwsnb's own HAR writer (``connect(capture=...)``), shared with the CometD transport; None: off
        self.recorder: Recorder | None = None
        self.closed = False

    def __repr__(self) -> str:
        return f"<RestSession {self.base_url!r} user={self.username!r}>"

    async def open(self) -> aiohttp.ClientSession:
        """Create the shared ``aiohttp`` session (idempotent); the CometD transport uses it too."""
        if self.http is None:
            connector = aiohttp.TCPConnector(ssl=self.ssl, limit=0, limit_per_host=POOL_SIZE)
            self.http = aiohttp.ClientSession(cookie_jar=HeaderJar(unsafe=True), connector=connector,
                                              headers={"Accept": "application/json"},
                                              json_serialize=jsoncodec.dumps_text)
            self._relogin_lock = asyncio.Lock()
        return self.http

    # --- what the CometD layer needs -------------------------------------------------------------
    def cookies(self) -> dict[str, str]:
        """The jar's cookies for the base URL (name → value), JSESSIONID included."""
        return jar_cookies(self.http, self._url)

    def csrf_headers(self) -> dict[str, str]:
        """The CSRF header to send on state-changing requests ({} before the first GET)."""
        return self._csrf

    @property
    def generation(self) -> int:
        return self._generation

    # --- requests -----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _remember_csrf(self, headers: Any) -> None:
        name = headers.get(protocol.CSRF_HEADER_NAME_HEADER)
        token = headers.get(protocol.CSRF_TOKEN_HEADER)
        if name and not token:
            token = headers.get(name)
        if token:
            self._set_csrf({name or protocol.CSRF_TOKEN_HEADER: token})

    def _set_csrf(self, csrf: dict[str, str]) -> None:
        self._csrf = csrf
        self._post_headers = {**self._get_headers, **csrf}

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        http = self.http
        if self.closed or http is None:
            raise TransportError(f"{method} {path}: the REST session is {'closed' if self.closed else 'not open'}")
        headers = self._post_headers if method != "GET" else self._get_headers
        sent = time.time()
        url = self.url(path)
        cookie = cookie_header(http, url)
        if cookie is not None:
            headers = {**headers, "Cookie": cookie}
        recorder = self.recorder
        try:
            async with http.request(method, url, json=body, headers=headers, proxy=self.proxy,
                                    timeout=self._timeouts) as response:
                answered = time.time() if recorder is not None else 0.0
                raw = await response.read()
                status = response.status
                self._remember_csrf(response.headers)
                retry_after = response.headers.get("Retry-After") if status in PUSHBACK_STATUSES else None
                if self.on_answer is not None:
                    self.on_answer(sent, time.time(), response.headers.get("Date"))
                if recorder is not None:
                    recorder.record(method, url, response.request_info.headers, _json_bytes(body), sent, status,
                                    response.headers, raw, time.time(), answered=answered,
                                    http_version=f"HTTP/{response.version[0]}.{response.version[1]}"
                                    if response.version else "HTTP/1.1")
        except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as exc:
            if recorder is not None:
                recorder.record(method, url, headers, _json_bytes(body), sent, 0, None, None, time.time(),
                                error=describe(exc))
            raise _describe_client_error(method, path, exc, self.timeout) from None
        LOGGER.debug("%s %s -> HTTP %s", method, path, status)
        try:
            return decode(method, path, status, raw)
        except (GwsStatusError, TransportError) as exc:
            if retry_after is not None:  # the server's pushback: a bulk run pauses for it (docs/production.md)
                exc.retry_after = parse_retry_after(retry_after)
            raise

    async def probe(self) -> int | None:
        """The HTTP status of an anonymous ``GET /me`` on a connection of its own (no cookie, no
        credentials: the session is left alone), or ``None`` when the server does not answer at all."""
        timeout = aiohttp.ClientTimeout(total=5.0, sock_connect=3.0)
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout) as http, \
                    http.get(self.url("/me"), ssl=self.ssl, proxy=self.proxy, allow_redirects=False) as response:
                return response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError):
            return None

    async def get(self, path: str) -> dict[str, Any]:
        """GET and decode.  :raises GwsError: a typed error (see :mod:`gwsnb.errors`)."""
        return await self._send("GET", path, None)

    async def post(self, path: str, body: dict[str, Any], *, relogin: bool = True) -> dict[str, Any]:
        """POST with the CSRF header; on a refused session/CSRF, log in again once and resend.

        Resending is only safe for operations that change nothing on failure (GWS guarantees a failed
        request changed nothing).

        :raises GwsError: a typed error (see :mod:`gwsnb.errors`).
        """
        if not self._csrf:
            await self.login()
        generation = self._generation
        try:
            return await self._send("POST", path, body)
        except (CsrfError, NotAuthenticatedError, AuthenticationError) as exc:
            if not relogin or isinstance(exc, GwsStatusError) and exc.status_code != protocol.STATUS_NOT_AUTHENTICATED:
                raise
            LOGGER.info("POST %s: %s; logging in again", path, type(exc).__name__)
        await self.relogin(generation)
        hook = self.before_retry
        if hook is not None:
            await hook()
        return await self._send("POST", path, body)

    async def login(self) -> dict[str, Any]:
        """``GET /me``: authenticates, sets the cookie and the CSRF token; returns the ``user`` object.

        :raises AuthenticationError: the credentials were refused.
        """
        body = await self.get("/me")
        user = body.get("user")
        return user if isinstance(user, dict) else {}

    async def relogin(self, seen_generation: int) -> None:
        """Drop the cookies and log in again, unless another task already did since ``seen_generation``
        (then wait for that login to finish)."""
        lock = self._relogin_lock
        if lock is None or self.http is None:
            raise TransportError("the REST session is not open")
        async with lock:
            if self._generation != seen_generation:
                return
            self._generation += 1
            self.http.cookie_jar.clear()
            self._set_csrf({})
            await self.login()
        hook = self.after_relogin
        if hook is not None:
            await hook()

    async def close(self) -> None:
        """Close the shared ``aiohttp`` session (idempotent)."""
        self.closed = True
        http, self.http = self.http, None
        if http is not None and not http.closed:
            await http.close()


def _short(exc: BaseException) -> str:
    text = str(exc)
    # client error messages can be long nested reprs; the first part names the cause
    return text if len(text) <= 200 else text[:197] + "..."


def check_base_url(url: str) -> str:
    """Validate the base URL given to ``connect``.

    :raises InvalidParameterError: not http(s), no host, or credentials inside the URL.
    """
    from ..errors import InvalidParameterError

    if not isinstance(url, str) or not url.strip():
        raise InvalidParameterError("url", url, "expected 'http(s)://host:port/api/v2'")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError("url", url, "expected 'http(s)://host:port/api/v2'")
    if parts.username or parts.password:
        raise InvalidParameterError("url", "<url with credentials>", "pass username/password separately")
    return url.strip().rstrip("/")
