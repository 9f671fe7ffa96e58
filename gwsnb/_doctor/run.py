"""The order of the doctor's steps and which may run after which (docs/doctor.md#the-steps).

Steps run from the outside in; once one fails, the later ones are skipped (their evidence would only
repeat the failure), except the clock, which needs nothing but the answers already received.  The
round trip runs before the clock is read (its notifications narrow the clock's interval) but is shown
last.  Whatever the doctor started on the server (a CometD client, a contact-center session) is ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from ..protocol import END_CONTACT_CENTER_SESSION
from . import cometd_steps, http_steps, trip_steps
from .bayeux import BayeuxPeer
from .context import Context, skipped
from .report import Diagnosis, Step

__all__ = ["STEP_NAMES", "run"]

StepFn = Callable[[Context], Awaitable[Step]]

#: the checks in the order they run (the clock is read after the round trip, shown before it)
_CHAIN: tuple[tuple[str, StepFn], ...] = (
    ("reach", http_steps.reach),
    ("auth", http_steps.auth),
    ("session", http_steps.session),
    ("csrf", http_steps.csrf),
    ("features", http_steps.features),
    ("devices", http_steps.devices),
    ("cc-session", http_steps.cc_session),
    ("cometd", cometd_steps.cometd),
    ("round-trip", trip_steps.round_trip),
)
STEP_NAMES = ("reach", "auth", "session", "csrf", "features", "devices", "cc-session", "cometd", "clock",
              "round-trip")


async def run(ctx: Context) -> Diagnosis:
    """Every step in order, gated by the failures before it; always cleans up and closes the probe."""
    steps: dict[str, Step] = {}
    blocker: str | None = None
    try:
        for name, check in _CHAIN:
            if blocker is not None:
                steps[name] = skipped(ctx, name, f"skipped: the {blocker} step failed")
                continue
            steps[name] = await check(ctx)
            if steps[name].status == "fail":
                blocker = name
        reached = steps["reach"].status != "fail"
        steps["clock"] = trip_steps.clock(ctx) if reached else skipped(ctx, "clock", "skipped: nothing answered")
    finally:
        await _clean_up(ctx)
    offset = ctx.found.get("clock_offset")
    interval = (round(offset.low_ms, 1), round(offset.high_ms, 1)) if offset is not None else None
    mask = ctx.probe.mask  # a user name equal to the password is masked too
    return Diagnosis(mask(ctx.options.url), mask(ctx.options.username), tuple(steps[n] for n in STEP_NAMES),
                     interval)


async def _clean_up(ctx: Context) -> None:
    with contextlib.suppress(Exception):
        peer = ctx.found.get("bayeux")
        if isinstance(peer, BayeuxPeer):
            await peer.disconnect()
        if ctx.found.get("cc_session"):
            await ctx.probe.request("POST", "/me", body={"operationName": END_CONTACT_CENTER_SESSION}, timeout=5.0)
    await ctx.probe.close()
