"""The doctor's verdict: ``Step`` (one named check) and ``Diagnosis`` (all of them), with their text,
notebook (HTML) and JSON forms.  Quiet on success: the text shows evidence only for steps that are not
``ok``.  The JSON shape is a contract (docs/doctor.md#json): ``{"ok", "cause", "clock_offset_ms",
"steps": [{"name", "status", "cause", "evidence", "fix"}]}``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .causes import CAUSES

__all__ = ["STATUSES", "Diagnosis", "Status", "Step"]

Status = Literal["ok", "warn", "fail", "skipped"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skipped")
#: the checklist marks (text and HTML)
MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "skipped": "-"}
_COLOURS = {"ok": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e", "skipped": "#6e7781"}


@dataclass(frozen=True)
class Step:
    """One check of the doctor.

    :ivar name: reach, auth, session, csrf, features, devices, cc-session, cometd, clock or round-trip.
    :ivar status: ``ok``, ``warn``, ``fail`` or ``skipped``.
    :ivar summary: one line a person reads first.
    :ivar cause: the id of a known cause (docs/doctor.md#causes), or ``None``.
    :ivar evidence: what was sent and what came back (statuses, header names, timings), secrets masked.
    :ivar fix: one concrete action, or ``None`` when there is nothing to do.
    :ivar also: other causes the evidence fits, each with what would tell it apart.
    """

    name: str
    status: Status
    summary: str
    cause: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: str | None = None
    also: Sequence[tuple[str, str]] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.cause is not None and self.cause not in CAUSES:
            raise ValueError(f"unknown cause id {self.cause!r}")

    @property
    def mark(self) -> str:
        return MARKS[self.status]

    def as_dict(self) -> dict[str, Any]:
        """The step in the JSON shape; the summary and the alternatives travel inside ``evidence``."""
        evidence: dict[str, Any] = {"summary": self.summary, **self.evidence}
        if self.also:
            evidence["could_also_be"] = [{"cause": c, "tell_apart": how} for c, how in self.also]
        return {"name": self.name, "status": self.status, "cause": self.cause, "evidence": evidence,
                "fix": self.fix}

    def text(self, *, verbose: bool = False) -> str:
        head = f"{self.mark} {self.name:<11} {self.summary}"
        if self.cause:
            head += f"  [{self.cause}]"
        lines = [head]
        if verbose or self.status in ("warn", "fail"):
            lines += [f"{'':14}{line}" for line in _evidence_lines(self.evidence)]
            for other, how in self.also:
                lines.append(f"{'':14}could also be {other}: {how}")
            if self.fix:
                lines.append(f"{'':14}fix: {self.fix}")
        return "\n".join(lines)


def _evidence_lines(evidence: Mapping[str, Any]) -> list[str]:
    lines = []
    for key, value in evidence.items():
        if isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values()) and value:
            lines.append(f"{key}:")
            lines += [f"  {k}: {_short(v)}" for k, v in value.items()]
        else:
            lines.append(f"{key}: {_short(value)}")
    return lines


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_short(v) for v in value) if value else "(none)"
    return str(value)


@dataclass(frozen=True)
class Diagnosis:
    """What ``gwsnb.diagnose()`` found: ``ok``, the first failing step's ``cause``, and every ``steps``.

    ``str(d)`` is what ``gwsnb doctor`` prints, ``d.to_json()`` what ``gwsnb doctor --json`` prints, and in
    a notebook the diagnosis shows as a checklist with its evidence folded (docs/doctor.md).
    """

    url: str
    username: str
    steps: tuple[Step, ...]
    clock_offset_ms: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        """True when no step failed (warnings and skipped steps allowed)."""
        return not any(s.status == "fail" for s in self.steps)

    @property
    def cause(self) -> str | None:
        """The cause of the first failing step (``None`` when none failed or it is unknown)."""
        return next((s.cause for s in self.steps if s.status == "fail"), None)

    @property
    def warnings(self) -> list[str]:
        return [s.cause for s in self.steps if s.status == "warn" and s.cause]

    def step(self, name: str) -> Step:
        """The step called ``name``.

        :raises KeyError: no such step.
        """
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def verdict(self) -> str:
        """One sentence: healthy, or the first failure and its fix."""
        failed = next((s for s in self.steps if s.status == "fail"), None)
        if failed is None:
            warned = self.warnings
            return "No problem found" + (f" (warnings: {', '.join(warned)})" if warned else "") + "."
        title = CAUSES[failed.cause].title if failed.cause else failed.summary
        cause = f" [{failed.cause}]" if failed.cause else ""
        return f"The {failed.name} step failed: {title}{cause}. Fix: {failed.fix or 'see the evidence above'}"

    def text(self, *, verbose: bool = False) -> str:
        lines = [f"gwsnb doctor: {self.url} as {self.username}"]
        lines += [s.text(verbose=verbose) for s in self.steps]
        lines.append(self.verdict())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return f"Diagnosis(ok={self.ok}, cause={self.cause!r}, steps={len(self.steps)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cause": self.cause,
            "clock_offset_ms": list(self.clock_offset_ms) if self.clock_offset_ms is not None else None,
            "steps": [s.as_dict() for s in self.steps],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The machine-readable form for a support ticket (secrets already masked)."""
        return json.dumps(self.to_dict(), indent=indent, default=str, ensure_ascii=False)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = []
        for s in self.steps:
            colour = _COLOURS[s.status]
            detail = "".join(f"<div>{esc(line)}</div>" for line in _evidence_lines(s.evidence))
            detail += "".join(f"<div><i>could also be {esc(c)}</i>: {esc(how)}</div>" for c, how in s.also)
            folded = f"<details><summary>evidence</summary>{detail}</details>" if detail else ""
            fix = f"<div><b>fix:</b> {esc(s.fix)}</div>" if s.fix and s.status in ("warn", "fail") else ""
            cause = f" <code>{esc(s.cause)}</code>" if s.cause else ""
            rows.append(
                f"<tr><td style='color:{colour};font-weight:bold;text-align:center'>{esc(s.mark)}</td>"
                f"<td style='white-space:nowrap'><b>{esc(s.name)}</b></td><td style='text-align:left'>{esc(s.summary)}{cause}{fix}{folded}</td></tr>")
        colour = _COLOURS["ok" if self.ok else "fail"]
        return (f"<div class='gwsnb-diagnosis'><div><b>gwsnb doctor</b> {esc(self.url)} as {esc(self.username)}</div>"
                f"<table>{''.join(rows)}</table>"
                f"<div style='color:{colour}'><b>{esc(self.verdict())}</b></div></div>")
