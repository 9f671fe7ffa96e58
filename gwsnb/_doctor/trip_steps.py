"""The doctor's last steps: round-trip (one GetChainedRecord and what arrived of it, on the CometD client
the cometd step made) and clock (the server's offset as an interval, from the round trip's notifications or
the HTTP ``Date`` headers).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .._engine.clock import ClockOffset, generated_ms
from ..protocol import (
    CHAINED_RECORD,
    CHAINED_RECORDS_DATA_END,
    CHANNEL_INTERNAL,
    CHANNEL_OUTBOUND,
    ERROR_NOTIFICATION,
    GET_CHAINED_RECORD,
    ocs_error_meaning,
)
from .bayeux import BayeuxPeer, Message, error_of
from .context import Context, failed, gws_error, passed, skipped, warned
from .probe import Exchange
from .report import Step

__all__ = ["CLOCK_SKEW_MS", "clock", "round_trip"]

#: beyond this (the whole interval outside ±2 s) the clock step warns clock_skew
CLOCK_SKEW_MS = 2000.0
#: extra GetChainedRecord calls made only to narrow the clock interval, until it is this narrow
CLOCK_CALLS = 5
CLOCK_WIDTH_MS = 20.0


# ----- round-trip -----------------------------------------------------------------------------------


@dataclass
class _Trace:
    """What arrived of one GetChainedRecord call, with receive times (s since the POST was sent)."""

    reference: str
    handle: int
    sent_s: float
    ack: Exchange | None = None
    records: int = 0
    user_events: int = 0
    foreign: int = 0
    end: str | None = None
    error: dict[str, Any] | None = None
    first_s: float | None = None
    end_s: float | None = None
    refused: str = ""
    samples: list[tuple[float, float]] = field(default_factory=list)

    def timeline(self) -> dict[str, Any]:
        out: dict[str, Any] = {"http_ack": gws_error(self.ack) if self.ack else "not sent"}
        if self.ack is not None:
            out["http_ack_ms"] = self.ack.elapsed_ms
        out["outbound_messages"] = self.records + (self.end is not None)
        out["user_events"] = self.user_events
        if self.first_s is not None:
            out["first_notification_ms"] = round(self.first_s * 1000, 1)
        if self.end_s is not None:
            out[f"{self.end}_ms"] = round(self.end_s * 1000, 1)
        if self.foreign:
            out["foreign_reference_ids"] = self.foreign
        if self.error:
            out["error"] = self.error
        return out

    def take(self, message: Message, received_s: float) -> None:
        data = message.get("data")
        if not isinstance(data, dict):
            return
        channel = message.get("channel")
        if channel == CHANNEL_INTERNAL and _handle_of(data) == self.handle:
            self.user_events += 1
            self._first(received_s)
            generated = generated_ms(message)
            if generated is not None:
                self.samples.append((received_s, generated))
        elif channel == CHANNEL_OUTBOUND:
            if str(data.get("referenceId")) != self.reference:
                self.foreign += 1
                return
            self._first(received_s)
            kind = data.get("notificationType")
            if kind == CHAINED_RECORD:
                self.records += 1
            elif kind in (CHAINED_RECORDS_DATA_END, ERROR_NOTIFICATION):
                self.end, self.end_s = str(kind), received_s - self.sent_s
                if kind == ERROR_NOTIFICATION:
                    self.error = {k: data.get(k) for k in ("errorCode", "errorMessage")}

    def _first(self, received_s: float) -> None:
        if self.first_s is None:
            self.first_s = received_s - self.sent_s


def _handle_of(data: dict[str, Any]) -> Any:
    user_data = data.get("userData")
    return user_data.get("GSW_RECORD_HANDLE") if isinstance(user_data, dict) else None


async def _call(ctx: Context, peer: BayeuxPeer, device_path: str) -> _Trace:
    opts = ctx.options
    assert opts.record_handle is not None
    trace = _Trace(f"gwsnb-doctor-{uuid.uuid4().hex[:12]}", opts.record_handle, time.time())
    body = {"operationName": GET_CHAINED_RECORD, "applicationId": opts.application_id,
            "campaignName": opts.campaign_name, "devicePath": device_path, "referenceId": trace.reference}
    trace.ack = await ctx.probe.request("POST", f"/me/outbound-records/{opts.record_handle}", body=body)
    if not (trace.ack.ok and trace.ack.status_code == 0):
        return trace
    deadline = trace.sent_s + opts.timeout
    while trace.end is None and not trace.refused:
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        ex, reply, delivered = await peer.connect(hold_ms=int(min(remaining, peer.timeout_ms / 1000) * 1000),
                                                  timeout=remaining + 1.0)
        if not ex.ok and ex.error_kind == "timeout":
            break  # our deadline passed while a server that ignores the asked hold still held the connect
        for message in delivered:
            trace.take(message, ex.received_s)
        trace.refused = error_of(reply) if reply is not None else ("" if ex.ok else gws_error(ex))
        advice = reply.get("advice") if isinstance(reply, dict) else None
        pause = advice.get("interval") if isinstance(advice, dict) else None
        if isinstance(pause, (int, float)) and pause > 0 and not delivered:
            await asyncio.sleep(min(pause / 1000.0, max(0.0, deadline - time.time())))  # the advised interval
    for received_s, generated in trace.samples:
        # the estimator allows for serverGenerationTimestamp's whole-ms resolution itself (clock.RESOLUTION_MS)
        ctx.clock.add(trace.sent_s, received_s, generated)
    return trace


async def round_trip(ctx: Context) -> Step:
    """One GetChainedRecord and its timeline; on silence, which parts arrived."""
    opts = ctx.options
    if not opts.round_trip:
        return skipped(ctx, "round-trip", "give campaign, application id and record handle to run one "
                       "GetChainedRecord")
    peer = ctx.found.get("bayeux")
    device = ctx.found.get("device_path")
    if not isinstance(peer, BayeuxPeer) or not isinstance(device, str):
        return skipped(ctx, "round-trip", "needs a CometD client and a device from the earlier steps")
    trace = await _call(ctx, peer, device)
    step = _round_trip_verdict(ctx, trace, device)
    calls = 0
    while step.status == "ok" and calls < CLOCK_CALLS and _wide(ctx):  # a few more calls narrow the clock
        await _call(ctx, peer, device)
        calls += 1
    return step


def _wide(ctx: Context) -> bool:
    offset = ctx.clock.offset
    return offset is None or offset.width_ms > CLOCK_WIDTH_MS


def _round_trip_verdict(ctx: Context, trace: _Trace, device: str) -> Step:
    evidence: dict[str, Any] = {"request": f"GetChainedRecord handle {trace.handle} on {device}",
                                "timeline": trace.timeline()}
    ack = trace.ack
    if ack is None or not (ack.ok and ack.status_code == 0):
        return failed(ctx, "round-trip", f"GetChainedRecord was refused at once: {gws_error(ack) if ack else '?'}",
                      None, fix="the statusMessage names the parameter; compare with docs/gws-flow.md", **evidence)
    if trace.error is not None:
        code = trace.error.get("errorCode")
        meaning = ocs_error_meaning(code)
        said = (f" (errorCode {code}: {meaning}, in the sandbox's table of codes)" if meaning is not None
                else " (a code outside the sandbox's table: the errorMessage is OCS's explanation)")
        return failed(ctx, "round-trip", f"OCS answered with an Error notification: errorCode "
                      f"{code} {trace.error.get('errorMessage')!r}{said}", "ocs_error", **evidence)
    if trace.end == CHAINED_RECORDS_DATA_END:
        return passed(ctx, "round-trip", f"{trace.records} record(s) and ChainedRecordsDataEnd after "
                      f"{(trace.end_s or 0) * 1000:.0f} ms (HTTP answer after {ack.elapsed_ms:g} ms)", **evidence)
    if trace.refused:
        return failed(ctx, "round-trip", f"the CometD connect failed while waiting: {trace.refused}", None,
                      fix="see the cometd step; run again without quick to check the held connect", **evidence)
    arrived = (f"{trace.records} ChainedRecord(s) and {trace.user_events} user event(s) arrived, no "
               "ChainedRecordsDataEnd" if trace.records or trace.user_events else "nothing arrived")
    return failed(ctx, "round-trip", f"acknowledged (statusCode 0) after {ack.elapsed_ms:g} ms; then within "
                  f"{ctx.options.timeout:g} s {arrived}", "notifications_missing",
                  also=[("ocs_error", "OCS may stay silent instead of answering Error (campaign not loaded, "
                         "wrong application id): user events of other calls arriving here, or the same call "
                         "answered for another campaign, tell that GWS delivers")], **evidence)


# ----- clock ----------------------------------------------------------------------------------------


def clock(ctx: Context) -> Step:
    """The offset interval from the round trip's notifications, else from the HTTP Date headers (~1 s)."""
    measured = ctx.clock.offset
    date = ctx.date_offset()
    interval: ClockOffset | None = measured or date
    if interval is None:
        return skipped(ctx, "clock", "no notification timestamps and no HTTP Date header to compare with")
    ctx.found["clock_offset"] = interval
    evidence: dict[str, Any] = {"low_ms": round(interval.low_ms, 1), "high_ms": round(interval.high_ms, 1),
                                "samples": interval.samples}
    if measured is not None:
        evidence["source"] = "serverGenerationTimestamp of the round trip's notifications"
        summary = measured.describe()
        if date is not None:
            evidence["date_header_ms"] = [round(date.low_ms), round(date.high_ms)]
            if date.high_ms < measured.low_ms or date.low_ms > measured.high_ms:
                summary += "; the HTTP Date header disagrees (it may be the balancer's clock)"
    else:
        evidence["source"] = "the HTTP Date header (1 s resolution): known only to about 1 s"
        summary = interval.describe(useful_width_ms=2500.0) + "; from the Date header only, known to about 1 s"
    if interval.low_ms > CLOCK_SKEW_MS or interval.high_ms < -CLOCK_SKEW_MS:
        return warned(ctx, "clock", summary, "clock_skew", **evidence)
    return passed(ctx, "clock", summary, **evidence)

