"""Advancing a sandbox that runs in another process (``gwsnb sandbox``): :func:`remote_advance`.

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

from ._dialer import ADVANCE_PATH, check_advance

__all__ = ["advance_url", "remote_advance"]


def advance_url(url: str) -> str:
    """The admin route of the sandbox at ``url`` (its base URL, with or without ``/api/v2``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must be the sandbox's http(s) URL, got {url!r}")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, ADVANCE_PATH, "", ""))


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
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    request = urllib.request.Request(advance_url(url), data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_context(verify)) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(json.loads(detail).get("error", detail))
        if exc.code == 401:
            raise PermissionError(f"the sandbox refused the credentials of {username!r}") from None
        raise ValueError(f"the sandbox refused the advance (HTTP {exc.code}): {detail}") from None



