"""The admin routes of the sandbox's capacity, for a sandbox in its own process (``gwsnb sandbox``):
``GET /sandbox/stats`` (``?log=N`` adds the last N request log entries, ``?log=all`` all of them),
``POST /sandbox/stats/reset``, ``POST /sandbox/capacity`` (``{"capacity": 8}`` or
``{"restart_schedule": true}``) and ``POST /sandbox/fail-calls`` (``{"seconds": 10, "kind": "http500"}``);
Basic credentials of the sandbox's user, as ``POST /sandbox/advance``.  From Python:
:func:`gwsnb.sandbox.remote_stats` and its siblings (docs/guides/sandbox.md#capacity-and-pushback).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web

from ._capacity import Capacity
from ._sessions import SessionStore

__all__ = ["CAPACITY_PATH", "FAIL_CALLS_PATH", "STATS_PATH", "STATS_RESET_PATH", "add_control_routes",
           "add_stats_routes", "parse_log_query"]

STATS_PATH = "/sandbox/stats"
STATS_RESET_PATH = "/sandbox/stats/reset"
CAPACITY_PATH = "/sandbox/capacity"
FAIL_CALLS_PATH = "/sandbox/fail-calls"


class Controlled(Protocol):
    """What the control routes change (a :class:`~gwsnb.sandbox.Sandbox`)."""

    def set_capacity(self, capacity: int | None) -> None: ...

    def restart_schedule(self) -> None: ...

    def fail_calls_for(self, seconds: float, kind: str = "http500") -> None: ...

    def stats(self) -> dict[str, Any]: ...


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


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        raise ValueError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def add_control_routes(app: web.Application, sessions: SessionStore, sandbox: Controlled) -> None:
    """Register ``POST /sandbox/capacity`` and ``POST /sandbox/fail-calls``; each answers the stats after the
    change (401 without valid credentials, 400 for a bad body, naming the field)."""

    async def capacity(request: web.Request) -> web.StreamResponse:
        if sessions.check_basic(request) is None:
            return _denied()
        try:
            body = await _json_body(request)
            if body.get("restart_schedule") is True:
                sandbox.restart_schedule()
            elif "capacity" in body:
                sandbox.set_capacity(body["capacity"])
            else:
                raise ValueError('the body must be {"capacity": N or null} or {"restart_schedule": true}')
        except (ValueError, RuntimeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(sandbox.stats())

    async def fail_calls(request: web.Request) -> web.StreamResponse:
        if sessions.check_basic(request) is None:
            return _denied()
        try:
            body = await _json_body(request)
            sandbox.fail_calls_for(body.get("seconds", 0), body.get("kind", "http500"))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(sandbox.stats())

    app.router.add_post(CAPACITY_PATH, capacity)
    app.router.add_post(FAIL_CALLS_PATH, fail_calls)
