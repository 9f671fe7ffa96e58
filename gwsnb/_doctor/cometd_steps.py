"""The doctor's cometd step: handshake, subscription to ``/v2/me/outbound``, one immediate connect, then
one connect held for the advised timeout (how long it was held is the evidence of a proxy that cuts it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..protocol import CHANNEL_OUTBOUND, CSRF_REJECTION_TEXT
from .bayeux import BayeuxPeer, Message, error_of
from .context import Context, failed, gws_error, passed, warned
from .probe import Exchange
from .report import Step

__all__ = ["cometd"]

#: the held connect may last this much longer than advised before the doctor stops waiting
HOLD_MARGIN_S = 10.0
#: a held connect answered (empty) before this share of the advised timeout was not held in full
HELD_IN_FULL = 0.9
#: where else CometD is often served, tried when the notifications path answers as no CometD endpoint
OTHER_COMETD_PATHS = ("/genesys/cometd", "/api/v2/notifications", "/cometd")


# ----- cometd ---------------------------------------------------------------------------------------


async def cometd(ctx: Context) -> Step:
    """Handshake, subscribe to ``/v2/me/outbound``, one immediate connect, then one held connect."""
    peer = BayeuxPeer(ctx.probe, ctx.options.notifications_url)
    evidence: dict[str, Any] = {"endpoint": urlsplit(peer.url).path}
    ex, reply = await peer.handshake()
    evidence["handshake"] = _with_reply(ex, reply)
    if reply is None and ex.ok and ex.status == 403 and CSRF_REJECTION_TEXT.lower() in ex.text.lower():
        return failed(ctx, "cometd", f"the handshake was refused with HTTP 403 {ex.text[:60]!r}", "csrf_rejected",
                      fix="send the CSRF token on CometD requests too, under the name X-CSRF-HEADER gives",
                      **evidence)
    if reply is None:
        return await _not_found(ctx, ex, evidence)
    if peer.client_id is None:
        return failed(ctx, "cometd", f"the handshake was refused: {error_of(reply)}", None,
                      fix="the handshake rides on the HTTP session (JSESSIONID): compare with the session step",
                      **evidence)
    evidence["advised_timeout_ms"] = peer.timeout_ms
    ctx.found["bayeux"] = peer  # from here on the clean-up disconnects it
    ex, reply = await peer.subscribe(CHANNEL_OUTBOUND)
    evidence["subscribe"] = _with_reply(ex, reply)
    early = _after_handshake(ctx, "subscribe", reply, evidence)
    if early is not None:
        return early
    ex, reply, _ = await peer.connect(hold_ms=0, timeout=ctx.options.timeout)
    evidence["first_connect"] = _with_reply(ex, reply)
    early = _after_handshake(ctx, "connect", reply, evidence)
    if early is not None:
        return early
    if ctx.options.quick:
        return passed(ctx, "cometd", f"handshake, subscription and connect at {evidence['endpoint']} "
                      "(held connect not checked: quick)", **evidence)
    return await _held(ctx, peer, evidence)


def _with_reply(ex: Exchange, reply: Message | None) -> dict[str, Any]:
    out = ex.evidence()
    if reply is not None:
        out["reply"] = {k: reply[k] for k in ("successful", "error", "advice") if k in reply}
    return out


def _after_handshake(ctx: Context, what: str, reply: Message | None, evidence: dict[str, Any]) -> Step | None:
    error = error_of(reply) if reply is not None else f"no {what} reply"
    if not error:
        return None
    if error.startswith("402"):
        return failed(ctx, "cometd", f"the {what} right after a successful handshake got {error!r}", "cometd_rerouted",
                      also=[("session_not_sticky", "the session step kept one JSESSIONID, so REST is sticky; "
                             "only the notifications path reaches another node"),
                            ("long_poll_cut", "a client forgotten after an idle gap also gets 402, but here no "
                             "time passed since the handshake")], **evidence)
    if what == "subscribe":
        return failed(ctx, "cometd", f"the subscription to {CHANNEL_OUTBOUND} was refused: {error!r}",
                      "subscription_refused", **evidence)
    return failed(ctx, "cometd", f"the first connect failed: {error!r}", None,
                  fix="look at GWS's CometD log for this client", **evidence)


async def _not_found(ctx: Context, ex: Exchange, evidence: dict[str, Any]) -> Step:
    """No Bayeux reply at the notifications path: try the usual other paths and name the one that answers."""
    parts = urlsplit(ctx.options.notifications_url)
    root = f"{parts.scheme}://{parts.netloc}"
    tried: dict[str, Any] = {}
    found = None
    for path in OTHER_COMETD_PATHS:
        if path == parts.path.rstrip("/"):
            continue
        other = BayeuxPeer(ctx.probe, root + path)
        other_ex, reply = await other.handshake()
        tried[path] = gws_error(other_ex)
        if reply is not None:
            found = path
            await other.disconnect()
            break
    evidence["other_paths_tried"] = tried
    answer = gws_error(ex)
    if found is None:
        return failed(ctx, "cometd", f"no CometD endpoint at {parts.path} ({answer}), nor at the usual other paths",
                      "cometd_not_found", **evidence)
    base_path = urlsplit(ctx.options.url).path.rstrip("/")
    relative = found[len(base_path):] if found.startswith(base_path + "/") else None
    hint = f"notifications_path={relative!r}" if relative else f"notifications_path={root + found!r}"
    return failed(ctx, "cometd", f"no CometD endpoint at {parts.path} ({answer}); CometD answers at {found}",
                  "cometd_not_found", fix=f"pass {hint} (CLI: --notifications-path {relative or root + found})",
                  **evidence)


async def _held(ctx: Context, peer: BayeuxPeer, evidence: dict[str, Any]) -> Step:
    advised_s = peer.timeout_ms / 1000.0
    ctx.say(f"cometd: holding one connect for up to {advised_s:g} s (the server's advised timeout); "
            "quick=True (--quick) skips this wait")
    ex, reply, delivered = await peer.connect(timeout=advised_s + HOLD_MARGIN_S)
    held_s = ex.elapsed_ms / 1000.0
    evidence["held_connect"] = _with_reply(ex, reply)
    evidence["held_s"] = round(held_s, 2)
    advice = reply.get("advice") if isinstance(reply, dict) else None
    if isinstance(advice, dict) and advice.get("multiple-clients"):
        return warned(ctx, "cometd", f"the server advises multiple-clients: the connect returned after "
                      f"{held_s:.1f} s of the advised {advised_s:g} s", "multiple_clients", **evidence)
    if not ex.ok and ex.error_kind == "timeout":
        return warned(ctx, "cometd", f"the connect was held past the advised {advised_s:g} s + {HOLD_MARGIN_S:g} s",
                      None, fix="nothing to do unless calls time out: gwsnb waits for the server's own hold",
                      **evidence)
    if not ex.ok or (ex.status or 0) >= 500:
        return failed(ctx, "cometd", f"the held connect was cut after {held_s:.1f} s of the advised "
                      f"{advised_s:g} s ({gws_error(ex)})", "long_poll_cut",
                      also=[("unreachable", "a GWS node that restarted at that moment cuts connects too; a "
                             "cut at the same duration on a second run tells a proxy")], **evidence)
    early = _after_handshake(ctx, "held connect", reply, evidence)
    if early is not None:
        return early
    if held_s < HELD_IN_FULL * advised_s and not delivered:
        return passed(ctx, "cometd", f"the connect returned empty after {held_s:.1f} s of the advised "
                      f"{advised_s:g} s (not held in full; harmless)", **evidence)
    return passed(ctx, "cometd", f"handshake, subscription, and a connect held {held_s:.1f} s of the advised "
                  f"{advised_s:g} s", **evidence)
