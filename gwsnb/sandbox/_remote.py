"""Advancing a sandbox that runs in another process (``gwsnb sandbox``): :func:`remote_advance`; reading
its capacity statistics and request log: :func:`remote_stats`, :func:`remote_reset_stats`.

The standard library's HTTP client only, so that a notebook or a script can move a separate sandbox's
campaign forward without gwsnb's client; docs/campaign-progress.md.
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ._admin import CAPACITY_PATH, FAIL_CALLS_PATH, STATS_PATH, STATS_RESET_PATH, parse_log_query
from ._capacity import check_capacity
from ._dialer import ADVANCE_PATH, check_advance
from ._faults import FAIL_KINDS

__all__ = ["admin_url", "advance_url", "remote_advance", "remote_fail_calls_for", "remote_reset_stats",
           "remote_restart_schedule", "remote_set_capacity", "remote_stats"]


def admin_url(url: str, path: str, query: str = "") -> str:
    """The admin route ``path`` of the sandbox at ``url`` (its base URL, with or without ``/api/v2``).

    :raises ValueError: ``url`` is not an http(s) URL.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must be the sandbox's http(s) URL, got {url!r}")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def advance_url(url: str) -> str:
    """The admin route of the sandbox at ``url`` (its base URL, with or without ``/api/v2``)."""
    return admin_url(url, ADVANCE_PATH)


def _context(verify: bool | str) -> ssl.SSLContext | None:
    if verify is True:
        return None
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify)


def remote_advance(url: str, username: str, password: str, *, hours: float = 4, seed: int = 0,
                   verify: bool | str = True, timeout: float = 120.0) -> dict[str, Any]:
    """``Sandbox.advance(hours=, seed=)`` on the sandbox at ``url`` (e.g. ``http://127.0.0.1:8090/api/v2``),
    through its admin route with the sandbox user's Basic credentials.  ``verify``: for an https sandbox
    (``gwsnb sandbox --tls``), the path of the CA's PEM file it printed, or False not to check.

    :returns: the summary ``Sandbox.advance`` returns.
    :raises ValueError: a bad ``url``, ``hours`` or ``seed`` (nothing sent), or the sandbox refused the
        request (its message).
    :raises PermissionError: the credentials were refused.
    :raises OSError: the sandbox could not be reached.
    """
    check_advance(hours, seed)  # before anything is sent
    body = json.dumps({"hours": hours, "seed": seed}).encode()
    return _admin_request(advance_url(url), "POST", body, username, password, verify, timeout, "advance")


def _admin_request(target: str, method: str, body: bytes | None, username: str, password: str,
                   verify: bool | str, timeout: float, what: str) -> dict[str, Any]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(target, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_context(verify)) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(json.loads(detail).get("error", detail))
        if exc.code == 401:
            raise PermissionError(f"the sandbox refused the credentials of {username!r}") from None
        raise ValueError(f"the sandbox refused the {what} (HTTP {exc.code}): {detail}") from None


def remote_stats(url: str, username: str, password: str, verify: bool | str = True, *,
                 log: int | str | None = None, timeout: float = 30.0) -> dict[str, Any]:
    """``Sandbox.stats()`` of the sandbox at ``url`` (e.g. ``http://127.0.0.1:8090/api/v2``), through its admin
    route ``GET /sandbox/stats`` with the sandbox user's Basic credentials.  ``log``: also its request log,
    the last N entries (an int) or ``"all"``, under the key ``"request_log"``.  ``verify``: as for
    :func:`remote_advance`.

    :returns: the dict ``Sandbox.stats()`` returns (plus ``request_log`` when asked).
    :raises ValueError: a bad ``url`` or ``log`` (nothing sent), or the sandbox refused the request.
    :raises PermissionError: the credentials were refused.
    :raises OSError: the sandbox could not be reached.
    """
    query = ""
    if log is not None:
        text = str(log)
        try:
            if isinstance(log, bool) or not isinstance(log, (int, str)):
                raise ValueError
            parse_log_query(text)
        except ValueError:
            raise ValueError(f"log must be a non-negative integer or 'all', got {log!r}") from None
        query = urllib.parse.urlencode({"log": text})
    return _admin_request(admin_url(url, STATS_PATH, query), "GET", None, username, password, verify, timeout,
                          "stats request")


def remote_reset_stats(url: str, username: str, password: str, verify: bool | str = True, *,
                       timeout: float = 30.0) -> dict[str, Any]:
    """``Sandbox.reset_stats()`` on the sandbox at ``url`` (``POST /sandbox/stats/reset``).

    :returns: the statistics as they were just before the reset (without the request log).
    :raises ValueError: a bad ``url``, or the sandbox refused the request.
    :raises PermissionError: the credentials were refused.
    :raises OSError: the sandbox could not be reached.
    """
    return _admin_request(admin_url(url, STATS_RESET_PATH), "POST", b"{}", username, password, verify, timeout,
                          "stats reset")





def remote_set_capacity(url: str, username: str, password: str, capacity: int | None, verify: bool | str = True, *,
                        timeout: float = 30.0) -> dict[str, Any]:
    """``Sandbox.set_capacity(capacity)`` on the sandbox at ``url`` (``POST /sandbox/capacity``).

    :returns: its statistics after the change.
    :raises ValueError: a bad ``url`` or ``capacity`` (nothing sent), or the sandbox refused the request.
    :raises PermissionError: the credentials were refused.
    :raises OSError: the sandbox could not be reached.
    """
    check_capacity(capacity)
    body = json.dumps({"capacity": capacity}).encode()
    return _admin_request(admin_url(url, CAPACITY_PATH), "POST", body, username, password, verify, timeout,
                          "capacity change")


def remote_restart_schedule(url: str, username: str, password: str, verify: bool | str = True, *,
                            timeout: float = 30.0) -> dict[str, Any]:
    """``Sandbox.restart_schedule()`` on the sandbox at ``url``: its ``--capacity-schedule`` from second 0, now.

    :returns: its statistics after the restart.
    :raises ValueError: a bad ``url``, or the sandbox refused (e.g. it has no schedule).
    :raises PermissionError: the credentials were refused.
    :raises OSError: the sandbox could not be reached.
    """
    body = json.dumps({"restart_schedule": True}).encode()
    return _admin_request(admin_url(url, CAPACITY_PATH), "POST", body, username, password, verify, timeout,
                          "schedule restart")


def remote_fail_calls_for(url: str, username: str, password: str, seconds: float, kind: str = "http500",
                          verify: bool | str = True, *, timeout: float = 30.0) -> dict[str, Any]:
    """``Sandbox.fail_calls_for(seconds, kind)`` on the sandbox at ``url`` (``POST /sandbox/fail-calls``).

    :returns: its statistics after the switch.
    :raises ValueError: a bad ``url``, ``seconds`` or ``kind`` (nothing sent), or the sandbox refused.
    :raises PermissionError: the credentials were refused.
    :raises OSError: the sandbox could not be reached.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
        raise ValueError(f"seconds must be a finite number > 0, got {seconds!r}")
    if kind not in FAIL_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, FAIL_KINDS))}, got {kind!r}")
    body = json.dumps({"seconds": seconds, "kind": kind}).encode()
    return _admin_request(admin_url(url, FAIL_CALLS_PATH), "POST", body, username, password, verify, timeout,
                          "fail-calls switch")
