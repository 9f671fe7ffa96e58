"""Server-side misconfigurations the sandbox can play, and healthy variants of a GWS that differ from it.

``Sandbox(misconfigure="session_not_sticky,csrf_rejected")`` (or ``gwsnb sandbox --misconfigure ...``)
turns on the deployment mistakes that ``gwsnb doctor`` diagnoses (docs/doctor.md); each name here is
read by a small hook in ``_runner``, ``_rest``, ``_bayeux`` or ``_sessions``.  ``variants`` are not
mistakes: they make the sandbox look like a correct GWS that differs from it (an older one without the
features list, one with CSRF protection off, one behind a sticky balancer that sets its own cookie), so
that a test can show the doctor raises no false alarm on them.  The shapes chosen are in
docs/choices.md#sandbox-misconfigurations.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["LONG_POLL_CUT_S", "MISCONFIGURATIONS", "MULTIPLE_CLIENTS_INTERVAL_MS", "VARIANTS", "Misconfig",
           "parse_names"]

#: how long a held connect lives under ``long_poll_cut``
LONG_POLL_CUT_S = 5.0

#: how long ``slow_server`` makes GET /me take
SLOW_S = 1.1
#: the interval ``multiple_clients`` advises (CometD's multiSessionInterval default is 2000 ms)
MULTIPLE_CLIENTS_INTERVAL_MS = 2000

#: what each misconfiguration plays (the name is the switch)
MISCONFIGURATIONS: dict[str, str] = {
    "session_not_sticky": "two nodes behind a round-robin balancer that share no HTTP sessions",
    "csrf_rejected": "every POST of the REST API is refused with 403 'Missing or invalid Csrf token'",
    "feature_missing": "the contact center lacks the api-voice-outbound feature (404 on its resources)",
    "no_device": "the user has no device",
    "device_inactive": "the user's devices are Inactive",
    "cc_session_refused": "StartContactCenterSession is refused",
    "cometd_path": "CometD is served at /genesys/cometd only, not at /api/v2/notifications",
    "cometd_rerouted": "every CometD message after the handshake gets 402::Unknown client",
    "long_poll_cut": f"held connects are closed after {LONG_POLL_CUT_S:g} s without a reply, as a proxy would",
    "subscription_refused": "/meta/subscribe is refused",
    "notifications_missing": "requests are acknowledged but their notifications are sent nowhere",
    "multiple_clients": "another client long-polls on the same browser cookie: held connects return at once "
                        "with advice multiple-clients",
    "slow_server": f"GET /me answers after {SLOW_S:g} s (an overloaded server or authentication backend)",
}

#: healthy differences from the sandbox (a correct GWS may look like this)
VARIANTS: dict[str, str] = {
    "no_features_list": "an older GWS that does not serve GET /api/v2/features (404)",
    "no_csrf": "CSRF protection off: no X-CSRF-* headers, POSTs not checked",
    "balancer_cookie": "a sticky balancer that sets its own cookie (AWSELB) beside JSESSIONID",
}

#: the path CometD moves to under ``cometd_path`` (from the host's root)
MOVED_COMETD_PATH = "/genesys/cometd"
BALANCER_COOKIE = "AWSELB"
_NODE_KEY = web.RequestKey("gwsnb_node", int)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_names(value: str | Iterable[str] | None, known: dict[str, str], what: str) -> frozenset[str]:
    """``"a,b"`` or ``["a", "b"]`` -> the set of names, each checked against ``known``.

    :raises ValueError: naming the unknown name(s) and listing the valid ones.
    """
    if value is None:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"{what} names must be strings, got {item!r}")
        name = item.strip()
        if name:
            names.append(name)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(repr(n) for n in unknown)}; valid: {', '.join(sorted(known))}")
    return frozenset(names)


@dataclass
class Misconfig:
    """The misconfigurations and variants in force (fixed for the sandbox's life)."""

    names: frozenset[str] = frozenset()
    variants: frozenset[str] = frozenset()
    _balancer: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    @classmethod
    def of(cls, misconfigure: str | Iterable[str] | None, variants: str | Iterable[str] | None) -> Misconfig:
        return cls(parse_names(misconfigure, MISCONFIGURATIONS, "misconfiguration"),
                   parse_names(variants, VARIANTS, "variant"))

    def __contains__(self, name: object) -> bool:
        return name in self.names or name in self.variants

    # ----- the round-robin balancer of session_not_sticky ----------------------------------------

    @web.middleware
    async def balancer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Sends each request to the next node in turn; ``balancer_cookie`` sets its cookie."""
        if "session_not_sticky" in self.names:
            request[_NODE_KEY] = next(self._balancer) % 2
        if "slow_server" in self.names and request.method == "GET" and request.path.endswith("/me"):
            await asyncio.sleep(SLOW_S)
        response = await handler(request)
        if "balancer_cookie" in self.variants:
            response.set_cookie(BALANCER_COOKIE, "node-a", path="/")
        return response

    def node_of(self, request: web.Request) -> int:
        """The node that serves ``request`` (always 0 unless the balancer is not sticky)."""
        return request.get(_NODE_KEY, 0)
