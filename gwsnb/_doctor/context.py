"""What the doctor's steps share: the options, the probe, what earlier steps found, and step builders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._engine.clock import ClockEstimator, ClockOffset, offset_from_date_header
from .causes import cause
from .probe import Exchange, Probe
from .report import Status, Step

__all__ = ["Context", "Options", "failed", "passed", "skipped", "warned"]


@dataclass(frozen=True)
class Options:
    """The checked arguments of ``diagnose()``."""

    url: str
    username: str
    notifications_path: str
    device_path: str | None = None
    campaign_name: str | None = None
    application_id: int | None = None
    record_handle: int | None = None
    quick: bool = False
    timeout: float = 10.0

    @property
    def round_trip(self) -> bool:
        return None not in (self.campaign_name, self.application_id, self.record_handle)

    @property
    def notifications_url(self) -> str:
        path = self.notifications_path
        return path if path.startswith(("http://", "https://")) else self.url.rstrip("/") + path


@dataclass
class Context:
    """Shared state of one diagnosis; steps read what the earlier ones found."""

    options: Options
    probe: Probe
    say: Callable[[str], None]
    found: dict[str, Any] = field(default_factory=dict)
    clock: ClockEstimator = field(default_factory=ClockEstimator)

    def date_offset(self) -> ClockOffset | None:
        """The narrowest interval the HTTP ``Date`` headers give (intersected over every answer)."""
        low, high, count = float("-inf"), float("inf"), 0
        for ex in self.probe.exchanges:
            date = ex.header("Date") if ex.ok else None
            interval = offset_from_date_header(ex.sent_s, ex.received_s, date) if date else None
            if interval is None:
                continue
            low, high, count = max(low, interval.low_ms), min(high, interval.high_ms), count + 1
        if not count or low > high:
            return None
        return ClockOffset(low, high, count)


def _step(ctx: Context, name: str, status: Status, summary: str, *, cause_id: str | None = None,
          evidence: dict[str, Any] | None = None, fix: str | None = None,
          also: Sequence[tuple[str, str]] = ()) -> Step:
    mask = ctx.probe.mask
    if fix is not None:
        fix = mask(fix)
    elif cause_id is not None and status in ("warn", "fail"):
        fix = cause(cause_id).fix  # our own text: nothing to mask
    return Step(name, status, mask(summary), cause_id, mask(evidence or {}), fix,
                tuple((c, mask(how)) for c, how in also))


def passed(ctx: Context, name: str, summary: str, **evidence: Any) -> Step:
    return _step(ctx, name, "ok", summary, evidence=evidence)


def warned(ctx: Context, name: str, summary: str, cause_id: str | None, *, fix: str | None = None,
           **evidence: Any) -> Step:
    return _step(ctx, name, "warn", summary, cause_id=cause_id, evidence=evidence, fix=fix)


def failed(ctx: Context, name: str, summary: str, cause_id: str | None, *, fix: str | None = None,
           also: Sequence[tuple[str, str]] = (), **evidence: Any) -> Step:
    return _step(ctx, name, "fail", summary, cause_id=cause_id, evidence=evidence, fix=fix, also=also)


def skipped(ctx: Context, name: str, summary: str, **evidence: Any) -> Step:
    return _step(ctx, name, "skipped", summary, evidence=evidence)


def gws_error(ex: Exchange) -> str:
    """``HTTP 400 statusCode 10 'message'`` for an answer that is not a success."""
    if not ex.ok:
        return f"{ex.error_kind}: {ex.error}"
    text = f"HTTP {ex.status}"
    if ex.status_code is not None:
        text += f" statusCode {ex.status_code}"
        message = ex.body.get("statusMessage") if isinstance(ex.body, dict) else None
        if message:
            text += f" {message!r}"
    elif ex.text:
        text += f" {ex.text[:80]!r}"
    return text
