"""The cookie jar of the client's HTTP session, without aiohttp's cookie walk on every request.

aiohttp asks its jar for the cookies of every request (``filter_cookies``: expiry, domain and path
matching, a ``BaseCookie`` of ``Morsel`` objects) and builds the ``Cookie`` header from them: together about
8% of the client loop's time at 16 calls in flight (docs/engine.md), for an answer that changes only when the server sets a
cookie (a login, a CometD handshake).  :class:`HeaderJar` keeps aiohttp's bookkeeping (every ``Set-Cookie``
is stored as before) but answers aiohttp's per-request question with nothing; gwsnb sends the ``Cookie``
header itself, computed by the same matching once per change of the jar and at least once a second (so an
expired cookie stops being sent), per folder of the request path.  See docs/engine.md ("Concurrency and
per-call cost").
"""

from __future__ import annotations

import time
from http.cookies import BaseCookie
from typing import Any

import aiohttp
from yarl import URL

__all__ = ["HeaderJar", "cookie_header", "jar_cookies"]

#: seconds a computed Cookie header is reused while the jar does not change (expiry is checked this often)
HEADER_TTL_S = 1.0
_NO_URL = URL()


class HeaderJar(aiohttp.CookieJar):
    """An ``aiohttp.CookieJar`` whose cookies are sent by gwsnb's own ``Cookie`` header (see the module doc)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._version = 0
        self._headers: dict[str, tuple[int, float, str]] = {}

    # aiohttp's per-request question: nothing (the Cookie header is already in the request's headers)
    def filter_cookies(self, request_url: URL = _NO_URL) -> BaseCookie[str]:
        return BaseCookie()

    def matching(self, url: URL) -> dict[str, str]:
        """The cookies a request to ``url`` carries (name → value), by aiohttp's own matching."""
        return {name: morsel.value for name, morsel in super().filter_cookies(url).items()}

    def header(self, url: str | URL) -> str:
        """The ``Cookie`` header of a request to ``url`` ("" when no cookie matches)."""
        key = str(url).partition("?")[0].rpartition("/")[0]  # the folder: every handle's POST shares one
        now = time.monotonic()
        cached = self._headers.get(key)
        if cached is not None and cached[0] == self._version and now - cached[1] < HEADER_TTL_S:
            return cached[2]
        target = url if isinstance(url, URL) else URL(url)
        text = "; ".join(f"{m.key}={m.coded_value}" for m in super().filter_cookies(target).values())
        self._headers[key] = (self._version, now, text)
        return text

    # every change of the jar makes the headers computed before it stale
    def update_cookies(self, cookies: Any, response_url: URL = _NO_URL) -> None:
        self._version += 1
        super().update_cookies(cookies, response_url)

    def update_cookies_from_headers(self, headers: Any, response_url: URL) -> None:
        self._version += 1
        super().update_cookies_from_headers(headers, response_url)

    def clear(self, predicate: Any = None) -> None:
        self._version += 1
        super().clear(predicate)

    def clear_domain(self, domain: str) -> None:
        self._version += 1
        super().clear_domain(domain)


def jar_cookies(http: aiohttp.ClientSession | None, url: URL) -> dict[str, str]:
    """The cookies a request to ``url`` through ``http`` carries (name → value), whatever its jar."""
    if http is None:
        return {}
    jar = http.cookie_jar
    if isinstance(jar, HeaderJar):
        return jar.matching(url)
    return {name: morsel.value for name, morsel in jar.filter_cookies(url).items()}


def cookie_header(http: aiohttp.ClientSession, url: str | URL) -> str | None:
    """The ``Cookie`` header gwsnb must send itself to ``url`` through ``http`` (``None``: aiohttp's jar
    sends them, or no cookie matches)."""
    jar = http.cookie_jar
    if isinstance(jar, HeaderJar):
        return jar.header(url) or None
    return None
