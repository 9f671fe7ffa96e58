"""HTTP sessions of the sandbox: Basic authentication, the ``JSESSIONID`` cookie and the CSRF token.

A session is created when a request carries valid Basic credentials and no valid ``JSESSIONID`` of the
same user; its CSRF token lives as long as the session (docs/gws-flow.md#session-authentication-csrf-jsessionid).  As in a servlet container,
a session that no request has used for ``max_idle_s`` seconds (30 minutes by default) expires, so a
sandbox left running under cookie-less clients (curl, a script) does not grow without bound.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from ..protocol import CSRF_TOKEN_HEADER, SESSION_COOKIE

__all__ = ["HttpSession", "SessionStore"]


@dataclass
class HttpSession:
    """One authenticated HTTP session."""

    id: str
    username: str
    csrf_token: str
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.monotonic)
    contact_center_active: bool = False
    #: the node that created it (``session_not_sticky``: the other node does not know it)
    node: int = 0

    def __repr__(self) -> str:
        # The session id and token are bearer secrets: keep them out of logs.
        return f"HttpSession(username={self.username!r}, contact_center_active={self.contact_center_active})"


class SessionStore:
    """The configured users and their live HTTP sessions (used by REST and by the Bayeux endpoint)."""

    def __init__(self, users: dict[str, str], max_idle_s: float = 1800.0,
                 node_of: Callable[[web.Request], int] | None = None) -> None:
        if not max_idle_s > 0:
            raise ValueError(f"max_idle_s must be > 0, got {max_idle_s!r}")
        # which node serves a request: nodes share no sessions (sandbox misconfiguration session_not_sticky)
        self._node_of = node_of or (lambda request: 0)
        self._users = dict(users)
        self.max_idle_s = max_idle_s
        # least recently used first, so expiry only looks at the front
        self._sessions: OrderedDict[str, HttpSession] = OrderedDict()

    def __repr__(self) -> str:
        return f"SessionStore(users={sorted(self._users)!r}, sessions={len(self._sessions)})"

    def __len__(self) -> int:
        return len(self._sessions)

    def check_basic(self, request: web.Request) -> str | None:
        """The user name of valid Basic credentials in ``request``, else None (absent or wrong)."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        expected = self._users.get(user)
        if not sep or expected is None:
            return None
        if not hmac.compare_digest(password.encode(), expected.encode()):
            return None
        return user

    def set_password(self, username: str, password: str | None) -> None:
        """Change a user's password (``None`` revokes it: every Basic login of the user fails). Live
        sessions keep working, as on a server where a password change does not end them."""
        if username not in self._users:
            raise KeyError(username)
        # a password no Basic header can carry (the user name cannot contain ':', the password can)
        self._users[username] = password if password is not None else "\x00revoked\x00" + secrets.token_hex(16)

    def has_basic(self, request: web.Request) -> bool:
        return "Authorization" in request.headers

    def from_cookie(self, request: web.Request) -> HttpSession | None:
        """The live session named by the request's ``JSESSIONID`` cookie, if any."""
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        self._expire_idle()
        session = self._sessions.get(sid)
        if session is not None and session.node != self._node_of(request):
            return None  # another node's session: this one never heard of it
        if session is not None:
            session.last_used = time.monotonic()
            self._sessions.move_to_end(sid)
        return session

    def _expire_idle(self) -> None:
        oldest_allowed = time.monotonic() - self.max_idle_s
        while self._sessions:
            sid, session = next(iter(self._sessions.items()))
            if session.last_used >= oldest_allowed:
                return
            del self._sessions[sid]

    def authenticate(self, request: web.Request) -> tuple[HttpSession | None, bool]:
        """Find or create the session of ``request``.

        :returns: ``(session, created)``; session is None when the request is not authenticated
            (wrong Basic credentials, or no credentials and no valid cookie).
        """
        cookie_session = self.from_cookie(request)
        if self.has_basic(request):
            user = self.check_basic(request)
            if user is None:
                return None, False
            if cookie_session is not None and cookie_session.username == user:
                return cookie_session, False
            return self.create(user, node=self._node_of(request)), True
        return cookie_session, False

    def create(self, username: str, node: int = 0) -> HttpSession:
        self._expire_idle()
        session = HttpSession(
            id=secrets.token_hex(16).upper(), username=username, csrf_token=secrets.token_urlsafe(24), node=node
        )
        self._sessions[session.id] = session
        return session

    def csrf_ok(self, request: web.Request, session: HttpSession) -> bool:
        token = request.headers.get(CSRF_TOKEN_HEADER)
        return token is not None and hmac.compare_digest(token.encode(), session.csrf_token.encode())

    def invalidate(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def invalidate_all(self) -> list[str]:
        """Forget every session; returns their ids."""
        ids = list(self._sessions)
        self._sessions.clear()
        return ids
