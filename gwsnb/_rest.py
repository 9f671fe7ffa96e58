"""The HTTP session with GWS: Basic auth, the JSESSIONID cookie, the CSRF header, statusCode → typed error.

The only module that imports :mod:`requests`.  Its methods block; the client runs them in a small thread
pool so its event loop never waits on a socket.  ``requests.Session`` is shared by those threads: the
CSRF token and re-login are guarded by a lock.

Nothing here logs or repeats the password or the ``Authorization`` header: error messages name the
method, the path and the HTTP status only.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import protocol
from .errors import (
    AuthenticationError,
    CsrfError,
    GwsStatusError,
    NotAuthenticatedError,
    TransportError,
    status_error,
)

__all__ = ["RestSession"]

LOGGER = logging.getLogger(__name__)
_insecure_warned = False
_SUCCESS_CODES = (protocol.STATUS_OK, protocol.STATUS_PARTIAL_SUCCESS)


def _warn_insecure_once() -> None:
    global _insecure_warned
    if _insecure_warned:
        return
    _insecure_warned = True
    warnings.warn(
        "gwsnb: TLS certificate verification is turned off (verify=False); the connection can be "
        "intercepted", stacklevel=4)
    try:  # urllib3 would otherwise warn on every request
        from urllib3.exceptions import InsecureRequestWarning

        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
    except ImportError:  # pragma: no cover - urllib3 always ships with requests
        pass


class RestSession:
    """A logged-in HTTP session with one GWS server (``base_url`` ends in ``/api/v2``)."""

    def __init__(self, base_url: str, username: str, password: str, *, verify: bool | str = True,
                 timeout: float = 30.0, pool_size: int = 16) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self.verify = verify
        if verify is False:
            _warn_insecure_once()
        self._session = requests.Session()
        self._session.auth = (username, password)
        self._session.verify = verify
        self._session.headers["Accept"] = "application/json"
        # requests re-reads proxy and CA-bundle variables from the environment on every request when
        # trust_env is on (about a third of the client's CPU per call on loopback): read them once here.
        settings = self._session.merge_environment_settings(self.base_url, {}, None, verify, None)
        self._session.proxies.update(settings["proxies"])
        self._session.verify = settings["verify"]
        self._session.trust_env = False
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._csrf: tuple[str, str] | None = None
        #: bumped on every re-login, so that concurrent failures log in again only once
        self._generation = 0
        #: called (from a worker thread) after a re-login, e.g. to restart the contact-center session
        self.after_relogin: Callable[[], None] | None = None
        #: called (from a worker thread) after the re-login of a refused POST, before it is resent: the
        #: client waits there for CometD to ride the new session, which the resent request's
        #: notifications will be delivered to
        self.before_retry: Callable[[], None] | None = None
        self.closed = False

    def __repr__(self) -> str:
        return f"<RestSession {self.base_url!r} user={self.username!r}>"

    # --- what the CometD layer needs -------------------------------------------------------------
    def cookies(self) -> dict[str, str]:
        """The session's cookies (name → value), JSESSIONID included."""
        with self._lock:
            return {c.name: c.value or "" for c in self._session.cookies}

    def csrf_headers(self) -> dict[str, str]:
        """The CSRF header to send on state-changing requests ({} before the first GET)."""
        with self._lock:
            return {self._csrf[0]: self._csrf[1]} if self._csrf else {}

    @property
    def generation(self) -> int:
        return self._generation

    # --- requests -----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _remember_csrf(self, response: requests.Response) -> None:
        name = response.headers.get(protocol.CSRF_HEADER_NAME_HEADER)
        token = response.headers.get(protocol.CSRF_TOKEN_HEADER)
        if name and not token:
            token = response.headers.get(name)
        if token:
            with self._lock:
                self._csrf = (name or protocol.CSRF_TOKEN_HEADER, token)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        if self.closed:
            raise TransportError(f"{method} {path}: the REST session is closed")
        headers = self.csrf_headers() if method != "GET" else {}
        try:
            response = self._session.request(
                method, self.url(path), json=body, headers=headers,
                timeout=(min(self.timeout, 10.0), self.timeout))
        except requests.exceptions.SSLError as exc:
            raise TransportError(f"{method} {path}: TLS error: {type(exc).__name__}") from None
        except requests.exceptions.Timeout:
            raise TransportError(f"{method} {path}: no answer within {self.timeout} s") from None
        except requests.exceptions.ConnectionError as exc:  # refused, reset, DNS: the server is unreachable
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {_short(exc)}", unreachable=True) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {_short(exc)}") from None
        LOGGER.debug("%s %s -> HTTP %s", method, path, response.status_code)
        self._remember_csrf(response)
        return self._decode(method, path, response)

    @staticmethod
    def _decode(method: str, path: str, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if status == 403 and (body is None or not isinstance(body, dict) or "statusCode" not in body):
            text = response.text[:200]
            reason = text.strip() or "forbidden"
            raise CsrfError(f"{method} {path}: HTTP 403 {reason!r} (CSRF token or session cookie refused)")
        if isinstance(body, dict) and "statusCode" in body:
            code = body.get("statusCode")
            if code in _SUCCESS_CODES and status < 400:
                return body
            if code in _SUCCESS_CODES:  # an HTTP error with a success body: trust neither
                raise TransportError(f"{method} {path}: HTTP {status} with statusCode {code}")
            raise status_error(body, http_status=status)
        if status == 401:
            raise AuthenticationError(f"{method} {path}: HTTP 401, credentials refused")
        if status == 404:
            raise TransportError(f"{method} {path}: HTTP 404 (wrong URL, or the GWS feature is disabled)")
        if status >= 400:
            raise TransportError(f"{method} {path}: HTTP {status}", http_status=status)
        if isinstance(body, dict):  # 2xx JSON without statusCode: keep it, GWS always sends one
            return body
        raise TransportError(f"{method} {path}: HTTP {status}, the answer is not a JSON object")

    def get(self, path: str) -> dict[str, Any]:
        """GET and decode.  :raises GwsError: a typed error (see :mod:`gwsnb.errors`)."""
        return self._send("GET", path, None)

    def post(self, path: str, body: dict[str, Any], *, relogin: bool = True) -> dict[str, Any]:
        """POST with the CSRF header; on a refused session/CSRF, log in again once and resend.

        Resending is only safe for operations that change nothing on failure (GWS guarantees a failed
        request changed nothing).

        :raises GwsError: a typed error (see :mod:`gwsnb.errors`).
        """
        if not self._csrf:
            self.login()
        generation = self._generation
        try:
            return self._send("POST", path, body)
        except (CsrfError, NotAuthenticatedError, AuthenticationError) as exc:
            if not relogin or isinstance(exc, GwsStatusError) and exc.status_code != 20:
                raise
            LOGGER.info("POST %s: %s; logging in again", path, type(exc).__name__)
            self.relogin(generation)
            hook = self.before_retry
            if hook is not None:
                hook()
            return self._send("POST", path, body)

    def login(self) -> dict[str, Any]:
        """``GET /me``: authenticates, sets the cookie and the CSRF token; returns the ``user`` object.

        :raises AuthenticationError: the credentials were refused.
        """
        body = self.get("/me")
        user = body.get("user")
        return user if isinstance(user, dict) else {}

    def relogin(self, seen_generation: int) -> None:
        """Drop the cookies and log in again, unless another thread already did since ``seen_generation``."""
        with self._lock:
            if self._generation != seen_generation:
                return
            self._generation += 1
            self._session.cookies.clear()
            self._csrf = None
        self.login()
        hook = self.after_relogin
        if hook is not None:
            hook()

    def close(self) -> None:
        self.closed = True
        self._session.close()


def _short(exc: BaseException) -> str:
    text = str(exc)
    # requests messages can be long nested reprs; the first part names the cause
    return text if len(text) <= 200 else text[:197] + "..."


def check_base_url(url: str) -> str:
    """Validate the base URL given to ``connect``.

    :raises InvalidParameterError: not http(s), no host, or credentials inside the URL.
    """
    from .errors import InvalidParameterError

    if not isinstance(url, str) or not url.strip():
        raise InvalidParameterError("url", url, "expected 'http(s)://host:port/api/v2'")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError("url", url, "expected 'http(s)://host:port/api/v2'")
    if parts.username or parts.password:
        raise InvalidParameterError("url", "<url with credentials>", "pass username/password separately")
    return url.strip().rstrip("/")
