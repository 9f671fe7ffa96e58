"""How a CometD request proves who it is: the HTTP session's cookies and the CSRF header.

GWS ties a CometD client to the HTTP session that handshaked it (see docs/cometd.md).  Every Bayeux POST
goes through the ``aiohttp`` session the REST side uses, so it carries the same cookie jar (JSESSIONID, and
whatever cookie the Bayeux server sets, e.g. cometd's ``BAYEUX_BROWSER``), plus the CSRF header the REST
side learned.  It never carries the ``Authorization`` header: a CometD request that finds its HTTP session
gone is refused (HTTP 401/403), and :meth:`Credentials.refresh_if_needed` then logs in again over REST
before the next request, unless the REST side already did meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp
from yarl import URL

from .cookies import cookie_header, jar_cookies

__all__ = ["Credentials"]

LOGGER = logging.getLogger("gwsnb._wire.cometd")


class Credentials:
    """Cookies (from the shared jar) and headers for the Bayeux endpoint ``url``; re-login on refusal."""

    def __init__(self, url: str, *, headers: Callable[[], dict[str, str]] | None = None,
                 refresh: Callable[[], Awaitable[None]] | None = None) -> None:
        self.url = URL(url)
        self._headers = headers or dict
        self._refresh = refresh
        self.http: aiohttp.ClientSession | None = None
        #: the cookies sent with the last request (what a successful connect rode on)
        self.sent: dict[str, str] = {}
        self.need_refresh = False

    def cookies(self) -> dict[str, str]:
        """The jar's cookies for the endpoint (name → value)."""
        return jar_cookies(self.http, self.url)

    def headers(self) -> dict[str, str]:
        """Headers of the next request (the cookies from the jar, in a ``Cookie`` header of gwsnb's own
        when the jar is a :class:`~gwsnb._wire.cookies.HeaderJar`); remembers the cookies sent."""
        self.sent = self.cookies()
        headers = {"Content-Type": "application/json;charset=UTF-8", **self._headers()}
        cookie = cookie_header(self.http, self.url) if self.http is not None else None
        if cookie is not None:
            headers["Cookie"] = cookie
        return headers

    def refused(self, status: int) -> None:
        """An HTTP status of a Bayeux request: 401/403 means the HTTP session is gone."""
        if status in (401, 403):
            self.need_refresh = True

    async def refresh_if_needed(self) -> None:
        """Log in again over REST after a refusal, unless the cookies changed since (it already did)."""
        if not self.need_refresh or self._refresh is None:
            return
        self.need_refresh = False
        if self.cookies() != self.sent:
            return
        with contextlib.suppress(Exception):  # a refused login is seen on the next request, paced
            await self._refresh()
