"""The causes the doctor can name: stable ids, what each means, and the one fix it suggests.

The ids are a contract (scripts and support tickets match on them): never rename one, only add.  Each is
documented in docs/doctor.md with its symptoms and how it is told apart from its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CAUSES", "Cause", "cause"]


@dataclass(frozen=True)
class Cause:
    """One known way a GWS setup fails (``severity="fail"``) or deserves a look (``"warn"``)."""

    id: str
    severity: Literal["fail", "warn"]
    step: str
    title: str
    fix: str


_ALL = (
    Cause("unreachable", "fail", "reach", "the server cannot be reached",
          "check the host name and port of the URL, and that GWS (or its balancer) is running and reachable "
          "from this machine (firewall, VPN, proxy variables)"),
    Cause("tls_untrusted", "fail", "reach", "the server's TLS certificate is not trusted",
          "pass the CA that signed the server's certificate: verify='/path/ca.pem' (CLI: --ca-file)"),
    Cause("tls_hostname", "fail", "reach", "the server's certificate does not name the host in the URL",
          "use a host name the certificate holds (its subjectAltName), or have the certificate reissued "
          "for the name you use"),
    Cause("not_gws", "fail", "reach", "the URL does not answer as Genesys Web Services",
          "use GWS's external API base URL, ending in /api/v2 (the balancer's address in production)"),
    Cause("auth_refused", "fail", "auth", "the user name or password is refused",
          "check the user name and password, and where this user authenticates (Configuration Server or "
          "GWS's own store); a user with changePasswordOnFirstLogin must change it first"),
    Cause("session_not_sticky", "fail", "session", "the balancer is not sticky on JSESSIONID",
          "make the load balancer sticky on the JSESSIONID cookie (and keep every cookie it sets)"),
    Cause("csrf_rejected", "fail", "csrf", "POSTs are refused with 'Missing or invalid Csrf token'",
          "send the token under the header name X-CSRF-HEADER gives, read on this HTTP session; check that "
          "no proxy strips X-CSRF-* headers and that every GWS node shares the session's token"),
    Cause("feature_missing", "fail", "features", "the api-voice-outbound feature is not assigned",
          "ask the GWS administrator to assign the api-voice-outbound feature to the contact center"),
    Cause("no_device", "fail", "devices", "the user has no usable device",
          "assign a device (a DN on a place) to the user in GWS, or pass device_path naming one of theirs"),
    Cause("device_inactive", "fail", "devices", "the device to be used is Inactive",
          "log the agent in on the device (agent desktop or phone) or register its DN; then run again"),
    Cause("cc_session_refused", "fail", "cc-session", "StartContactCenterSession is refused",
          "check the user's place: one ACD position, a DN not held by another agent; log in through the "
          "agent desktop once to see the T-Server's reason"),
    Cause("cometd_not_found", "fail", "cometd", "no CometD endpoint at the notifications path",
          "pass notifications_path= the CometD endpoint (CLI: --notifications-path), e.g. /genesys/cometd"),
    Cause("cometd_rerouted", "fail", "cometd", "CometD messages after the handshake reach a node that "
          "does not know the client (402::Unknown client)",
          "route every request of one JSESSIONID, the notifications path included, to the same GWS node "
          "(balancer stickiness on JSESSIONID for /api/v2/notifications too)"),
    Cause("long_poll_cut", "fail", "cometd", "a proxy cuts held connects before CometD's timeout",
          "raise the idle (read) timeout of the proxy or balancer above CometD's advised timeout (60 s for "
          "a 30 s hold), or lower GWS's CometD timeout below the proxy's"),
    Cause("subscription_refused", "fail", "cometd", "the subscription to /v2/me/outbound is refused",
          "give the user the agent role and the outbound feature; check GWS's CometD channel permissions"),
    Cause("notifications_missing", "fail", "round-trip", "requests are acknowledged but their notifications "
          "do not arrive",
          "use one HTTP session per agent (not the agent desktop and a notebook as the same agent at once); "
          "check that OCS runs the campaign for this application id"),
    Cause("ocs_error", "fail", "round-trip", "OCS answered the request with an Error notification",
          "check the campaign name, the application id and the record handle against OCS (the campaign must "
          "be loaded); the step's summary says what its errorCode means"),
    Cause("device_ambiguous", "warn", "devices", "the user has several devices and none was named",
          "pass device_path (CLI: --device) naming the device to use"),
    Cause("clock_skew", "warn", "clock", "the server's clock is far from ours",
          "synchronise the GWS nodes' clocks (NTP); until then read delays as intervals against the offset"),
    Cause("slow_server", "warn", "session", "the server answers slowly",
          "look at GWS's load and at the network path (a proxy, a VPN); bulk runs will be slow"),
    Cause("multiple_clients", "warn", "cometd", "the server sees several CometD clients on one browser "
          "cookie (advice multiple-clients)",
          "run one long-polling client per cookie jar: close other notebooks or tabs of this user"),
)

CAUSES: dict[str, Cause] = {c.id: c for c in _ALL}


def cause(cause_id: str) -> Cause:
    """The registered cause ``cause_id`` (a typo in the doctor's own code fails loudly)."""
    return CAUSES[cause_id]
