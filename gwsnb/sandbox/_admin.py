"""The admin routes of the sandbox's capacity, for a sandbox in its own process (``gwsnb sandbox``):
``GET /sandbox/stats`` (``?log=N`` adds the last N request log entries, ``?log=all`` all of them) and
``POST /sandbox/stats/reset``; Basic credentials of the sandbox's user, as ``POST /sandbox/advance``.
Read them with :func:`gwsnb.sandbox.remote_stats` (docs/guides/sandbox.md#capacity-and-pushback).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._capacity import Capacity
from ._sessions import SessionStore

__all__ = ["STATS_PATH", "STATS_RESET_PATH", "add_stats_routes", "parse_log_query"]

STATS_PATH = "/sandbox/stats"
STATS_RESET_PATH = "/sandbox/stats/reset"


def parse_log_query(value: str | None) -> int | None:
    """``?log=`` as how many entries to add: None (absent, none), -1 (``all``) or N >= 0.

    :raises ValueError: anything else.
    """
    if value is None:
        return None
    if value == "all":
        return -1
    if not value.isdigit():
        raise ValueError(f"log must be a non-negative integer or 'all', got {value!r}")
    return int(value)


def _denied() -> web.Response:
    return web.json_response({"error": "Basic credentials of the sandbox's user required"}, status=401,
                             headers={"WWW-Authenticate": 'Basic realm="GWS sandbox"'})


def add_stats_routes(app: web.Application, sessions: SessionStore, capacity: Capacity) -> None:
    """Register ``GET /sandbox/stats`` and ``POST /sandbox/stats/reset`` (401 without valid credentials)."""

    async def stats(request: web.Request) -> web.StreamResponse:
        if sessions.check_basic(request) is None:
            return _denied()
        try:
            last = parse_log_query(request.query.get("log"))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        body: dict[str, Any] = capacity.stats()
        if last is not None:
            body["request_log"] = capacity.request_log(None if last < 0 else last)
        return web.json_response(body)

    async def reset(request: web.Request) -> web.StreamResponse:
        if sessions.check_basic(request) is None:
            return _denied()
        before = capacity.stats()
        capacity.reset_stats()
        return web.json_response(before)

    app.router.add_get(STATS_PATH, stats)
    app.router.add_post(STATS_RESET_PATH, reset)
