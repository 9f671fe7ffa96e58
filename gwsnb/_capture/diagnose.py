"""Diagnosing a capture: the doctor's verdict (:class:`~gwsnb._doctor.report.Diagnosis`, its causes and fixes)
built only from what a HAR file shows (docs/captures.md#findings).

The steps follow the doctor's order (docs/doctor.md): ``capture`` (what the file covers and what it cannot
tell), ``auth``, ``session``, ``csrf``, ``cometd``, ``clock``, ``round-trip``.  Each rule below is one
function that reads the :class:`Evidence` and returns a :class:`Finding` or nothing; a step is ``fail`` or
``warn`` only on a finding, ``skipped`` ("not in this capture") when the file holds nothing to judge it by.
As the doctor stops at its first failure, a step after the first failing one that would fail or warn too is
reported ``skipped`` with what it saw (the later symptom follows from the first: a session that moves to
another node also refuses the CSRF token and loses the CometD client), so one capture names one cause.

A capture has no way to ask: it shows what the browser or proxy recorded.  A sanitized capture (Chrome's
default export: no ``Cookie``, ``Set-Cookie`` or ``Authorization``) still shows every status and body, so
every finding but the session's and the login's stands; the session is then read from the CSRF tokens the
answers carry (a token lives as long as its HTTP session), and the ``capture`` step says what could not be
checked.  The thresholds are the doctor's.
"""

from __future__ import annotations

import bisect
import math
import os
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .. import protocol
from .._doctor.causes import CAUSES
from .._doctor.report import Diagnosis, Status, Step
from .._engine.clock import ClockEstimator, ClockOffset, DateHeaderClock
from .calls import CapturedCall, chained_record_request, envelope_status, replay_calls
from .har import Entry, value_hash

__all__ = ["STEPS", "Evidence", "Finding", "diagnose_entries"]

T = TypeVar("T")

#: the steps of a capture's diagnosis, in the doctor's order
STEPS = ("capture", "auth", "session", "csrf", "cometd", "clock", "round-trip")
#: the doctor's thresholds (gwsnb/_doctor/http_steps.py SLOW_MS, trip_steps.py CLOCK_SKEW_MS)
SLOW_MS = 1000.0
CLOCK_SKEW_MS = 2000.0
#: how far the recorder's own times may be off (a browser's HAR times lagged the machine's clock by up to
#: 0.3 s under load in the tests): the Date headers disagree with the user events only beyond this
RECORDER_SLACK_MS = 1000.0
#: a servlet container keeps an idle HTTP session for minutes: one replaced sooner was not expired
YOUNG_SESSION_S = 60.0
#: answers a proxy or balancer gives when it gives up on a held request
CUT_STATUSES = frozenset({502, 504})
#: how long after a call's last notification its ChainedRecordsDataEnd may still come: a long poll answered
#: sooner (another call's messages) may have left before the end was queued, and the capture may stop there
DATA_END_GRACE_S = 0.5
#: a connect cancelled by its client this long after the advised hold had no answer in time
GIVE_UP_SLACK_MS = 1000.0
#: seconds after a connect ended within which the client's disconnect still makes that connect the leaving's
LEAVE_SLACK_S = 1.0
#: failures of a request the page itself cancelled (navigation, abort()): not a cut
_CANCELLED = ("aborted", "cancel")
_META = protocol.META_PREFIX
_CONNECT = protocol.META_CONNECT


def ref(entry: Entry) -> str:
    """How a finding names an entry: ``#index HH:MM:SS.mmm METHOD path status`` (index: position in the file)."""
    status = entry.status if entry.status else f"0 ({entry.error or 'no answer'})"
    return f"#{entry.index} {entry.started:%H:%M:%S}.{entry.started.microsecond // 1000:03d} {entry.method} {entry.path} {status}"


def refs(entries: Iterable[Entry], limit: int = 6) -> list[str]:
    found = list(entries)
    shown = [ref(e) for e in found[:limit]]
    return shown + ([f"... and {len(found) - limit} more"] if len(found) > limit else [])


@dataclass
class Finding:
    """What a rule found: a known cause (or ``None``), one line, the entries that show it and more evidence."""

    cause: str | None
    summary: str
    entries: Sequence[Entry] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    also: Sequence[tuple[str, str]] = ()
    #: for a finding without a known cause: ``fail`` or ``warn``
    status: Status = "warn"

    @property
    def severity(self) -> Status:
        return CAUSES[self.cause].severity if self.cause else self.status


# ----- the evidence: the capture's GWS exchanges, read once --------------------------------------------


class Evidence:
    """The GWS exchanges of a capture (time order) and what several rules read from them."""

    def __init__(self, entries: Sequence[Entry], calls: Sequence[CapturedCall] | None = None) -> None:
        self.entries = [e for e in entries if e.is_gws]
        self._calls = calls
        self._memo: dict[Callable[[Evidence], Any], Any] = {}

    def memo(self, rule: Callable[[Evidence], T]) -> T:
        """``rule(self)``, computed once (several rules read the same calls, notifications and clock)."""
        if rule not in self._memo:
            self._memo[rule] = rule(self)
        return self._memo[rule]

    @cached_property
    def calls(self) -> list[CapturedCall]:
        return list(self._calls) if self._calls is not None else replay_calls(self.entries)

    @cached_property
    def rest(self) -> list[Entry]:
        return [e for e in self.entries if not e.is_bayeux]

    @cached_property
    def bayeux(self) -> list[Entry]:
        return [e for e in self.entries if e.is_bayeux]

    @staticmethod
    def sent_by(entry: Entry) -> list[dict[str, Any]]:
        """The Bayeux messages of ``entry``'s request ([] for a REST exchange; parsed once by the entry)."""
        return entry.sent_messages()

    @staticmethod
    def received_by(entry: Entry) -> list[dict[str, Any]]:
        """The Bayeux messages of ``entry``'s answer ([] for a REST exchange; parsed once by the entry)."""
        return entry.received_messages()

    @cached_property
    def has_cookies(self) -> bool:
        """Some exchange shows a JSESSIONID sent or set (not a sanitized capture)."""
        return any(sent or new for sent, new in self.sessions.values())

    @cached_property
    def sessions(self) -> dict[int, tuple[str | None, str | None]]:
        """entry index → the hashes of the JSESSIONID it sent and the one its answer set (each read once)."""
        return {e.index: (e.session_hash, e.session_set_hash) for e in self.entries}

    @cached_property
    def has_authorization(self) -> bool:
        return any("Authorization" in e.request_headers for e in self.entries)

    @cached_property
    def sanitized(self) -> bool:
        return not self.has_cookies and not self.has_authorization

    @cached_property
    def login(self) -> Entry | None:
        """The first ``GET .../me``, when nothing but GETs came before it (the capture saw the login)."""
        for entry in self.rest:
            if entry.method == "GET" and entry.path.rstrip("/").endswith("/me"):
                return entry
            if entry.method != "GET":
                return None
        return None

    @cached_property
    def mid_session(self) -> bool:
        """The capture starts after the login: its first exchange already sent a session cookie, or it
        holds no login before the first POST."""
        first = self.entries[0] if self.entries else None
        return first is not None and (self.sessions[first.index][0] is not None or self.login is None)

    def sent(self, channel: str) -> list[tuple[Entry, dict[str, Any]]]:
        return self._by_channel[0].get(channel, [])

    def received(self, channel: str) -> list[tuple[Entry, dict[str, Any]]]:
        return self._by_channel[1].get(channel, [])

    @cached_property
    def _by_channel(self) -> tuple[dict[str, list[tuple[Entry, dict[str, Any]]]], ...]:
        sent: dict[str, list[tuple[Entry, dict[str, Any]]]] = {}
        received: dict[str, list[tuple[Entry, dict[str, Any]]]] = {}
        for entry in self.bayeux:
            for message in self.sent_by(entry):
                sent.setdefault(str(message.get("channel")), []).append((entry, message))
            for message in self.received_by(entry):
                received.setdefault(str(message.get("channel")), []).append((entry, message))
        return sent, received

    @cached_property
    def first_served(self) -> dict[str, float]:
        """clientId → when a connect or subscribe of it first succeeded (the server knew it)."""
        served: dict[str, float] = {}
        for entry, reply in self.received(protocol.META_CONNECT) + self.received(protocol.META_SUBSCRIBE):
            client = _client_of(self, entry, reply)
            if reply.get("successful") and client is not None:
                served[client] = min(served.get(client, entry.started_s), entry.started_s)
        return served

    @cached_property
    def served_connect_starts(self) -> list[float]:
        """Start times of the held connects that returned successfully (HTTP 200), sorted."""
        return sorted(e.started_s for e, _ in self.connects if e.status == 200)

    @cached_property
    def handshakes(self) -> dict[str, Entry]:
        """clientId → the entry whose handshake reply gave it (the handshakes in this capture)."""
        return {str(m["clientId"]): e for e, m in self.received(protocol.META_HANDSHAKE)
                if m.get("successful") and m.get("clientId")}

    @cached_property
    def disconnects(self) -> dict[str, float]:
        """clientId → when its ``/meta/disconnect`` was sent (the page or client leaving)."""
        return {str(m.get("clientId")): e.started_s for e, m in self.sent(protocol.META_DISCONNECT)}

    @cached_property
    def connects(self) -> list[tuple[Entry, dict[str, Any]]]:
        """Each held ``/meta/connect`` (not a client's first, which asks ``timeout: 0``)."""
        return [(e, m) for e, m in self.sent(_CONNECT) if (m.get("advice") or {}).get("timeout") != 0]

    @cached_property
    def advised_timeout_ms(self) -> float | None:
        """The largest ``advice.timeout`` the server gave (how long it holds a connect)."""
        values = [m["advice"]["timeout"] for _, m in self.received(_CONNECT) + self.received(protocol.META_HANDSHAKE)
                  if isinstance(m.get("advice"), dict) and isinstance(m["advice"].get("timeout"), (int, float))]
        return float(max(values)) if values else None

    def left_before(self, client_id: str, entry: Entry) -> bool:
        """The client had sent its disconnect before ``entry``'s answer ended, or within :data:`LEAVE_SLACK_S`
        after for a connect that lasted under 0.1 s (the reply is the leaving's: a page's CometD client aborts
        its held connect, then sends ``/meta/disconnect``; seen with Chromium's recorder as a connect ended
        with status 0 after 0 s; a cut connect was held for seconds)."""
        left = self.disconnects.get(client_id)
        if left is None:
            return False
        return left <= entry.ended_s or (left <= entry.ended_s + LEAVE_SLACK_S and (entry.total_ms or 0) < 100)


def _client_of(ev: Evidence, entry: Entry, reply: dict[str, Any]) -> str | None:
    """The clientId a reply answers: its own, else the sent message with the same id in that request."""
    if reply.get("clientId"):
        return str(reply["clientId"])
    for sent in ev.sent_by(entry):
        if sent.get("id") == reply.get("id") and sent.get("clientId"):
            return str(sent["clientId"])
    return None


def _is_refusal(entry: Entry) -> bool:
    """A REST answer that refuses the credentials: HTTP 401, or statusCode 20 (not authenticated)."""
    return entry.status == 401 or envelope_status(entry) == protocol.STATUS_NOT_AUTHENTICATED


def _is_csrf_refusal(entry: Entry) -> bool:
    """HTTP 403 without a GWS envelope (GWS's CSRF filter answers in plain text)."""
    return entry.status == 403 and envelope_status(entry) is None


# ----- capture -----------------------------------------------------------------------------------------


def cannot_tell(ev: Evidence) -> list[str]:
    """What this capture cannot show, each as a phrase a person reads."""
    missing: list[str] = []
    if not ev.has_cookies:
        missing.append("which HTTP session each request belongs to (no Cookie or Set-Cookie, as in a sanitized "
                       "export): session_not_sticky is read from the CSRF tokens instead")
    if not ev.has_authorization:
        missing.append("whether the requests carried Basic credentials (no Authorization header): auth_refused "
                       "is judged on the login's answer only")
    if ev.mid_session:
        missing.append("the login (the capture starts after it)")
    clients = {value_hash(str(m["clientId"])) for _, m in ev.sent(_CONNECT) if m.get("clientId")}
    unshaken = clients - {value_hash(c) for c in ev.handshakes}
    if unshaken:
        missing.append(f"the handshake of {len(unshaken)} CometD client(s) already connected when it started")
    return missing


def capture_step(ev: Evidence, path: str, creator: str) -> Step:
    first, last = ev.entries[0], ev.entries[-1]
    span = last.ended_s - first.started_s
    summary = (f"{len(ev.entries)} GWS exchanges over {span:.1f} s ({creator}): {len(ev.rest)} REST, "
               f"{len(ev.bayeux)} CometD, {len(ev.calls)} GetChainedRecord calls")
    missing = cannot_tell(ev)
    if missing:
        summary += f"; cannot tell {len(missing)} thing(s), see the evidence"
    evidence: dict[str, Any] = {"file": os.path.basename(path), "first": ref(first), "last": ref(last),
                                "sanitized": ev.sanitized, "cannot_tell": missing}
    return Step("capture", "ok", summary, evidence=evidence)


# ----- auth --------------------------------------------------------------------------------------------


def auth_refused(ev: Evidence) -> Finding | None:
    """A request that carried Basic credentials refused with 401 / statusCode 20; in a capture without the
    Authorization header, the login (the first GET /me) refused before any REST request succeeded."""
    refused = [e for e in ev.rest if _is_refusal(e) and e.basic_auth]
    if not refused and not ev.has_authorization and ev.login is not None and _is_refusal(ev.login):
        refused = [ev.login]
    if not refused:
        return None
    shown = "with Basic credentials" if refused[0].basic_auth else "at the login (the Authorization header is not in this capture)"
    return Finding("auth_refused", f"{len(refused)} request(s) refused {shown}: HTTP {refused[0].status}, "
                   f"statusCode {envelope_status(refused[0])}", refused)


def auth_step(ev: Evidence) -> Step:
    if not ev.rest:
        return _skipped("auth", "no REST request in this capture")
    finding = auth_refused(ev)
    if finding is not None:
        return _from_finding("auth", finding)
    answered = [e for e in ev.rest if 200 <= e.status < 300]
    if ev.login is None:
        return _skipped("auth", f"the login is not in this capture ({len(answered)} REST requests answered 2xx)")
    how = "with Basic credentials" if ev.login.basic_auth else (
        "(whether with Basic credentials is not in this capture)" if not ev.has_authorization else "without Basic")
    return Step("auth", "ok", f"logged in: {ref(ev.login)} {how}", evidence={"login": ref(ev.login)})


# ----- session -----------------------------------------------------------------------------------------


def _ends_session(entry: Entry) -> bool:
    body = entry.json_body("request") if entry.method == "POST" and protocol.END_CONTACT_CENTER_SESSION in (entry.request_body or "") else None
    return isinstance(body, dict) and body.get("operationName") == protocol.END_CONTACT_CENTER_SESSION


def session_changes(ev: Evidence) -> list[Entry]:
    """Answers that set a new JSESSIONID while the request sent back one born less than a minute before
    (no EndContactCenterSession between): a session no servlet container would have expired yet."""
    born: dict[str, float] = {}
    changes: list[Entry] = []
    for entry in ev.entries:
        if _ends_session(entry):
            born.clear()
        sent, new = ev.sessions[entry.index]
        if sent is not None:
            born.setdefault(sent, entry.started_s)
        if new is None or new == sent:
            continue
        if sent is not None and sent in born and entry.started_s - born[sent] < YOUNG_SESSION_S:
            changes.append(entry)
        born.setdefault(new, entry.ended_s)
    return changes


def _csrf_token(entry: Entry) -> str | None:
    name = entry.response_headers.get(protocol.CSRF_HEADER_NAME_HEADER) or protocol.CSRF_TOKEN_HEADER
    return entry.response_headers.get(name)


def token_changes(ev: Evidence) -> list[Entry]:
    """GET answers giving a CSRF token other than the one the previous answer gave less than a minute
    before (a token lives as long as its HTTP session): the same reading as :func:`session_changes`
    for a capture without cookies."""
    last: tuple[str, float] | None = None
    changes: list[Entry] = []
    for entry in ev.rest:
        if _ends_session(entry):
            last = None
        token = _csrf_token(entry)
        if token is None:
            continue
        if last is not None and token != last[0] and entry.started_s - last[1] < YOUNG_SESSION_S:
            changes.append(entry)
        last = (token, entry.ended_s)
    return changes


def session_not_sticky(ev: Evidence) -> Finding | None:
    if ev.has_cookies:
        changes = session_changes(ev)
        what = "the JSESSIONID changed while the old one was sent back"
        distinct = len({new for _, new in ev.sessions.values() if new})
    else:
        changes = token_changes(ev)
        what = "the CSRF token changed within the session's first minute (read from the tokens: no cookies here)"
        distinct = len({_csrf_token(e) for e in ev.rest if _csrf_token(e)})
    if not changes:
        return None
    return Finding("session_not_sticky", f"{what} ({len(changes)} time(s), {distinct} sessions)", changes,
                   {"distinct_sessions": distinct},
                   also=[("auth_refused", "a server that drops sessions at once re-issues them too, and then refuses "
                          "cookie-only requests; a balancer's second node accepts them")])


def slow_server(ev: Evidence) -> Finding | None:
    """The median answer (the server's wait, else the whole exchange) of ``GET /me`` (what the doctor
    times), else of every REST request, over the doctor's threshold."""
    answered = [e for e in ev.rest if e.status]
    me = [e for e in answered if e.method == "GET" and e.path.rstrip("/").endswith("/me")]
    timed = [(e, _answer_ms(e)) for e in me or answered]
    times = [t for _, t in timed if t is not None]
    if not times or statistics.median(times) <= SLOW_MS:
        return None
    median = statistics.median(times)
    slow = [e for e, t in timed if t is not None and t > SLOW_MS]
    what = "GET /me" if me else "REST"
    return Finding("slow_server", f"median {what} answer {median:.0f} ms over {len(times)} request(s)",
                   slow, {"median_ms": round(median, 1)})


def _answer_ms(entry: Entry) -> float | None:
    return entry.wait_ms if entry.wait_ms is not None else entry.total_ms


def session_step(ev: Evidence) -> Step:
    if not ev.has_cookies and not any(_csrf_token(e) for e in ev.rest):
        return _skipped("session", "no JSESSIONID and no CSRF token in this capture: the session cannot be followed")
    for rule in (session_not_sticky, slow_server):
        finding = rule(ev)
        if finding is not None:
            return _from_finding("session", finding)
    if ev.has_cookies:
        seen = sorted({sent for sent, _ in ev.sessions.values() if sent})
        return Step("session", "ok", f"{len(seen)} HTTP session(s) (by JSESSIONID hash), none replaced early",
                    evidence={"sessions": seen[:10]})
    return Step("session", "ok", "one CSRF token per session (the cookies are not in this capture)")


# ----- csrf --------------------------------------------------------------------------------------------


def csrf_rejected(ev: Evidence) -> Finding | None:
    refused = [e for e in ev.rest if e.method in ("POST", "PUT", "DELETE") and _is_csrf_refusal(e)]
    if not refused:
        return None
    carried = sum(e.csrf_sent for e in refused)
    body = (refused[0].response_body or "")[:60]
    return Finding("csrf_rejected", f"{len(refused)} POST(s) refused with HTTP 403 {body!r}; {carried} of them "
                   "carried a CSRF header", refused, {"csrf_header_sent": carried},
                   also=[("session_not_sticky", "a token read on another node is refused too; the session step "
                          "saw no session replaced")])


def csrf_step(ev: Evidence) -> Step:
    posts = [e for e in ev.rest if e.method in ("POST", "PUT", "DELETE")]
    if not posts:
        return _skipped("csrf", "no POST in this capture")
    finding = csrf_rejected(ev)
    if finding is not None:
        return _from_finding("csrf", finding)
    return Step("csrf", "ok", f"none of {len(posts)} POSTs refused by the CSRF filter "
                f"({sum(e.csrf_sent for e in posts)} with a CSRF header)")


# ----- cometd ------------------------------------------------------------------------------------------


def _only_disconnect(entry: Entry) -> bool:
    sent = entry.sent_messages()
    return bool(sent) and all(m.get("channel") == protocol.META_DISCONNECT for m in sent)


def cometd_not_found(ev: Evidence) -> Finding | None:
    # a 2xx answer without Bayeux replies to a /meta/disconnect is a client leaving (the page unloads before
    # the recorder has the body: seen with Chromium's), not a missing endpoint
    missing = [e for e in ev.bayeux if e.status == 404 or (200 <= e.status < 300 and not ev.received_by(e)
                                                           and not _only_disconnect(e))]
    if not missing:
        return None
    return Finding("cometd_not_found", f"{len(missing)} CometD request(s) answered HTTP {missing[0].status} "
                   "without Bayeux replies", missing)


def _unknown_client_replies(ev: Evidence) -> list[tuple[Entry, str]]:
    """Replies ``402::Unknown client`` to a client not leaving, as ``(entry, clientId)``."""
    found = []
    for entry in ev.bayeux:
        for reply in ev.received_by(entry):
            if str(reply.get("channel", "")).startswith(_META) and str(reply.get("error", "")).startswith("402"):
                client = _client_of(ev, entry, reply)
                if client is not None and not ev.left_before(client, entry):
                    found.append((entry, client))
    return found


def _served_once(ev: Evidence, client: str, before: Entry) -> bool:
    """A connect or subscribe of ``client`` succeeded before ``before`` (the server knew it at least once)."""
    return ev.first_served.get(client, math.inf) < before.started_s


def cometd_rerouted(ev: Evidence) -> Finding | None:
    """402::Unknown client for a client whose handshake is in the capture and that the server never
    served since: the message after the handshake reached a node that does not know it."""
    rerouted = [(e, c) for e, c in _unknown_client_replies(ev) if c in ev.handshakes and not _served_once(ev, c, e)]
    if not rerouted:
        return None
    clients = {c for _, c in rerouted}
    return Finding("cometd_rerouted", f"402::Unknown client right after the handshake, for {len(clients)} client(s)",
                   [e for e, _ in rerouted], {"handshakes": refs(sorted((ev.handshakes[c] for c in clients), key=lambda e: e.index))},
                   also=[("session_not_sticky", "a balancer not sticky on JSESSIONID reroutes REST requests too: "
                          "the session step tells")])


def handshake_refused(ev: Evidence) -> Finding | None:
    """Every handshake in the capture refused (no known cause of its own: what the error says comes first,
    often the HTTP session, which the steps before tell)."""
    replies = ev.received(protocol.META_HANDSHAKE)
    if not replies or any(m.get("successful") for _, m in replies):
        return None
    return Finding(None, f"all {len(replies)} handshake(s) refused: {replies[0][1].get('error')}",
                   [e for e, _ in replies], status="fail")


def subscription_refused(ev: Evidence) -> Finding | None:
    refused = [(e, m) for e, m in ev.received(protocol.META_SUBSCRIBE)
               if m.get("successful") is False and not str(m.get("error", "")).startswith("402")]
    if not refused:
        return None
    first = refused[0][1]
    return Finding("subscription_refused", f"/meta/subscribe to {first.get('subscription')} refused: "
                   f"{first.get('error')}", [e for e, _ in refused])


def _given_up(ev: Evidence, entry: Entry) -> bool:
    """A connect the client itself cancelled after waiting past the advised hold (CometD's JavaScript client
    gives up after the advised timeout plus its maxNetworkDelay): no answer came while the server should
    have given one."""
    advised = ev.advised_timeout_ms
    return advised is not None and (entry.total_ms or 0.0) > advised + GIVE_UP_SLACK_MS


def _cut(ev: Evidence, entry: Entry, message: dict[str, Any]) -> bool:
    if entry.status in CUT_STATUSES:
        return True
    if entry.status != 0 or ev.left_before(str(message.get("clientId")), entry):
        return False
    cancelled = any(word in (entry.error or "").lower() for word in _CANCELLED)
    return not cancelled or _given_up(ev, entry)


def long_poll_cut(ev: Evidence) -> Finding | None:
    """Held connects that ended without a Bayeux answer (no answer at all, 502 or 504)."""
    cut = [e for e, m in ev.connects if _cut(ev, e, m)]
    if not cut:
        return None
    advised = ev.advised_timeout_ms
    held = sorted(round((e.total_ms or 0) / 1000, 1) for e in cut)
    evidence: dict[str, Any] = {"held_s": held, "advised_timeout_ms": advised}
    after = f"{held[0]:g} s" if len(set(held)) == 1 else f"{held[0]:g}–{held[-1]:g} s"
    summary = f"{len(cut)} held connect(s) ended without an answer after {after} ({cut[0].error or f'HTTP {cut[0].status}'}"
    given_up = sum(1 for e in cut if e.status == 0 and any(w in (e.error or "").lower() for w in _CANCELLED))
    summary += f"; {given_up} cancelled by the client, which waited past the advised hold)" if given_up else ")"
    if advised is not None:
        summary += f"; the server advised holding {advised / 1000:g} s"
        if held[-1] * 1000 > advised:
            summary += (" (longer than that: a browser sends a cut request again on a new connection, "
                        "so one entry can hold several cuts)")
    return Finding("long_poll_cut", summary, cut, evidence)


def multiple_clients(ev: Evidence) -> Finding | None:
    told = [e for e, m in ev.received(_CONNECT) if (m.get("advice") or {}).get("multiple-clients")]
    if not told:
        return None
    return Finding("multiple_clients", f"{len(told)} connect(s) answered with advice multiple-clients", told)


COMETD_RULES: tuple[Callable[[Evidence], Finding | None], ...] = (
    cometd_not_found, handshake_refused, cometd_rerouted, subscription_refused, long_poll_cut, multiple_clients)


def cometd_step(ev: Evidence) -> Step:
    if not ev.bayeux:
        return _skipped("cometd", "no CometD traffic in this capture")
    findings = [f for f in (rule(ev) for rule in COMETD_RULES) if f is not None]
    if findings:
        first = findings[0]
        if len(findings) > 1:
            first.evidence["also_seen"] = [f"{f.cause or f.status}: {f.summary}" for f in findings[1:]]
        return _from_finding("cometd", first)
    held = [(e.total_ms or 0) / 1000 for e, _ in ev.connects if e.status == 200]
    advised = ev.advised_timeout_ms
    summary = (f"{len(ev.handshakes)} handshake(s), {len(ev.connects)} held connects"
               + (f" (up to {max(held):.1f} s of the advised {advised / 1000:g} s)" if held and advised else ""))
    if not ev.sent(protocol.META_HANDSHAKE):
        summary += "; the handshake is not in this capture"
    return Step("cometd", "ok", summary, evidence={"advised_timeout_ms": advised})


# ----- clock -------------------------------------------------------------------------------------------


def clock_offset(ev: Evidence) -> tuple[ClockOffset | None, ClockOffset | None]:
    """The offset from the calls' user events (serverGenerationTimestamp between the POST's start and the
    end of the long poll that carried it), and from the REST answers' Date headers (1 s)."""
    estimator = ClockEstimator()
    for call in ev.calls:
        estimator.add_user_events(call.entry.started_s, call.result.events)
    dates = DateHeaderClock()
    for entry in ev.rest:  # long polls are left out: a browser's resend after a cut hides part of their time
        dates.add(entry.started_s, entry.ended_s, entry.response_headers.get("Date"))
    return estimator.offset, dates.offset


def clock_skew(ev: Evidence) -> Finding | None:
    """The offset interval (the calls' user events, else the Date headers) wholly beyond the doctor's ±2 s."""
    measured, dates = ev.memo(clock_offset)
    interval = measured or dates
    if interval is None or not (interval.low_ms > CLOCK_SKEW_MS or interval.high_ms < -CLOCK_SKEW_MS):
        return None
    summary = interval.describe(useful_width_ms=2500.0)
    evidence: dict[str, Any] = {"low_ms": round(interval.low_ms, 1), "high_ms": round(interval.high_ms, 1),
                                "samples": interval.samples}
    if measured is not None:
        summary += ", from the calls' user events (serverGenerationTimestamp)"
        if dates is not None:
            evidence["date_header_ms"] = [round(dates.low_ms), round(dates.high_ms)]
            if dates.high_ms + RECORDER_SLACK_MS < measured.low_ms or dates.low_ms - RECORDER_SLACK_MS > measured.high_ms:
                summary += "; the HTTP Date headers disagree (they may be the balancer's clock)"
    else:
        summary += ", from the HTTP Date headers (known to about 1 s)"
    return Finding("clock_skew", summary, (), evidence)


def clock_step(ev: Evidence) -> Step:
    measured, dates = ev.memo(clock_offset)
    interval = measured or dates
    if interval is None:
        return _skipped("clock", "no notification timestamps and no HTTP Date header in this capture")
    finding = clock_skew(ev)
    if finding is not None:
        return _from_finding("clock", finding)
    source = "the calls' user events" if measured is not None else "the HTTP Date headers (about 1 s)"
    return Step("clock", "ok", f"{interval.describe(useful_width_ms=2500.0)}, from {source}",
                evidence={"low_ms": round(interval.low_ms, 1), "high_ms": round(interval.high_ms, 1)})


# ----- round-trip --------------------------------------------------------------------------------------


def _outbound_by_reference(ev: Evidence) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for _, message in ev.received(protocol.CHANNEL_OUTBOUND):
        data = message.get("data")
        if isinstance(data, dict) and "referenceId" in data:
            found.setdefault(str(data["referenceId"]), []).append(data)
    return found


def _acknowledged(ev: Evidence) -> list[tuple[Entry, str]]:
    """GetChainedRecord POSTs answered 2xx with statusCode 0, with their referenceIds."""
    acked = []
    for entry in ev.rest:
        request = chained_record_request(entry)
        if request is not None and 200 <= entry.status < 300 and envelope_status(entry) in (0, 7):
            acked.append((entry, str(request[1].get("referenceId"))))
    return acked


def ocs_error(ev: Evidence) -> Finding | None:
    """An acknowledged call answered by an ``Error`` notification for its referenceId (quoted as sent)."""
    errors: dict[str, dict[str, Any]] = {}
    for reference, notifications in ev.memo(_outbound_by_reference).items():
        first = next((d for d in notifications if d.get("notificationType") == protocol.ERROR_NOTIFICATION), None)
        if first is not None:
            errors[reference] = first
    failed = [(entry, errors[reference]) for entry, reference in ev.memo(_acknowledged) if reference in errors]
    if not failed:
        return None
    codes = sorted({_error_text(d) for _, d in failed})
    return Finding("ocs_error", f"{len(failed)} call(s) answered with an Error notification ({codes[0]})",
                   [e for e, _ in failed], {"errors": codes[:10]})


def _error_text(notification: dict[str, Any]) -> str:
    """An Error notification's code, OCS's message, and what the code means where the table has it."""
    code = notification.get("errorCode")
    meaning = protocol.ocs_error_meaning(code)
    said = f" ({meaning}, in the sandbox's table of codes)" if meaning is not None else ""
    return f"errorCode {code}: {notification.get('errorMessage')!r}{said}"


def _first_connect_start(ev: Evidence) -> float:
    return min((e.started_s for e, _ in ev.connects), default=float("inf"))


def _connects_after(ev: Evidence, entry: Entry) -> int:
    """How many held connects started after ``entry`` ended and returned successfully."""
    starts = ev.served_connect_starts
    return len(starts) - bisect.bisect_left(starts, entry.ended_s)


def _silence_proves(ev: Evidence, entry: Entry, delivered: bool) -> bool:
    """Whether no notification for the call acknowledged by ``entry`` is evidence.  A call acknowledged
    before the capture's first long poll began may have had its notifications carried by the long poll in
    flight then, which began before the recording (a capture started mid-session) and is not in it: when
    other calls' notifications do arrive here, that is the likelier story, and the call is not judged."""
    if _connects_after(ev, entry) == 0:
        return False
    return entry.ended_s > ev.memo(_first_connect_start) or not delivered


def notifications_missing(ev: Evidence) -> Finding | None:
    """Acknowledged calls with no notification of theirs while connects started after the answer returned."""
    by_reference = ev.memo(_outbound_by_reference)
    acked = ev.memo(_acknowledged)
    delivered = any(r in by_reference for _, r in acked)
    missing = [(e, r) for e, r in acked if r not in by_reference and _silence_proves(ev, e, delivered)]
    if not missing:
        return None
    after = missing[0][0].ended_s
    later = [e for e, _ in ev.connects if e.started_s >= after and e.status == 200]
    return Finding("notifications_missing", f"{len(missing)} acknowledged call(s) got no notification while "
                   f"{len(later)} long poll(s) returned after the acknowledgement",
                   [e for e, _ in missing], {"later_connects": refs(later, 3)},
                   also=[("ocs_error", "OCS may stay silent instead of answering Error (campaign not loaded, wrong "
                          "application id): notifications of other calls arriving here tell that GWS delivers")])


def _last_delivery_by_reference(ev: Evidence) -> dict[str, float]:
    """referenceId → when the answer that carried its last outbound notification ended."""
    last: dict[str, float] = {}
    for entry, message in ev.received(protocol.CHANNEL_OUTBOUND):
        data = message.get("data")
        if isinstance(data, dict) and "referenceId" in data:
            reference = str(data["referenceId"])
            last[reference] = max(last.get(reference, entry.ended_s), entry.ended_s)
    return last


_ENDS = (protocol.CHAINED_RECORDS_DATA_END, protocol.ERROR_NOTIFICATION)


def data_end_missing(ev: Evidence) -> Finding | None:
    """Acknowledged calls whose records arrived but not their ChainedRecordsDataEnd (nor an Error), although
    the server answered a long poll begun after their last notification and answered at least
    :data:`DATA_END_GRACE_S` after it: it had the chance to send the end and did not (a client waits for
    that end until its timeout).  A capture that stops just after a call's records names nothing."""
    by_reference = ev.memo(_outbound_by_reference)
    last = ev.memo(_last_delivery_by_reference)
    served = [(e.started_s, e.ended_s) for e, _ in ev.connects if e.status == 200]
    unended = []
    for entry, reference in ev.memo(_acknowledged):
        notifications = by_reference.get(reference)
        if not notifications or any(d.get("notificationType") in _ENDS for d in notifications):
            continue
        delivered = last[reference]
        if any(start >= delivered and end >= delivered + DATA_END_GRACE_S for start, end in served):
            unended.append(entry)
    if not unended:
        return None
    return Finding("notifications_missing", f"{len(unended)} acknowledged call(s) got their records but no "
                   "ChainedRecordsDataEnd, although a long poll begun after their last notification was answered",
                   unended, {"calls": refs(unended, 3)})


def round_trip_step(ev: Evidence) -> Step:
    acked = ev.memo(_acknowledged)
    if not acked:
        return _skipped("round-trip", "no acknowledged GetChainedRecord call in this capture")
    for rule in (ocs_error, notifications_missing, data_end_missing):
        finding = rule(ev)
        if finding is not None:
            return _from_finding("round-trip", finding)
    by_reference = ev.memo(_outbound_by_reference)
    ended = sum(any(d.get("notificationType") == protocol.CHAINED_RECORDS_DATA_END for d in by_reference.get(r, []))
                for _, r in acked)
    unfinished = len(acked) - ended
    summary = f"{len(acked)} acknowledged calls, {ended} answered to ChainedRecordsDataEnd"
    if unfinished:
        summary += f"; {unfinished} still open when the capture ends (no long poll returned after them)"
    foreign = set(by_reference) - {r for _, r in acked}
    if foreign:
        summary += f"; notifications for {len(foreign)} call(s) made before the capture started"
    return Step("round-trip", "ok", summary)


# ----- the verdict -------------------------------------------------------------------------------------


def _skipped(name: str, why: str) -> Step:
    return Step(name, "skipped", why)


def _from_finding(name: str, finding: Finding) -> Step:
    evidence = {"entries": refs(finding.entries), **finding.evidence} if finding.entries else dict(finding.evidence)
    fix = CAUSES[finding.cause].fix if finding.cause else None
    return Step(name, finding.severity, finding.summary, finding.cause, evidence, fix, tuple(finding.also))


def _after_failure(step: Step, first: Step) -> Step:
    """A later step that would fail or warn too, after ``first`` failed: reported, not claimed."""
    return Step(step.name, "skipped", f"not judged on its own after the {first.name} failure ({first.cause}): "
                f"{step.summary}" + (f" [{step.cause}]" if step.cause else ""), None, step.evidence)


def _in_order(steps: list[Step]) -> tuple[Step, ...]:
    first_fail: Step | None = None
    out = []
    for step in steps:
        if first_fail is not None and step.name != "clock" and step.status in ("fail", "warn"):
            step = _after_failure(step, first_fail)
        elif first_fail is None and step.status == "fail":
            first_fail = step
        out.append(step)
    return tuple(out)


def _who(ev: Evidence) -> tuple[str, str]:
    """The GWS base URL and the user name the capture shows (``GET /me``'s ``userName``)."""
    url = ev.entries[0].url
    parts = urlsplit(url)
    prefix = parts.path.split(protocol.API_PREFIX, 1)[0] + protocol.API_PREFIX if protocol.API_PREFIX in parts.path else ""
    user = "(user not in this capture)"
    for entry in ev.rest:
        body = entry.json_body() if entry.path.rstrip("/").endswith("/me") and entry.method == "GET" else None
        if isinstance(body, dict) and isinstance(body.get("user"), dict) and body["user"].get("userName"):
            user = str(body["user"]["userName"])
            break
    return f"{parts.scheme}://{parts.netloc}{prefix}", user


def diagnose_entries(entries: Sequence[Entry], *, path: str, creator: str,
                     calls: Sequence[CapturedCall] | None = None) -> Diagnosis:
    """The diagnosis of a capture's entries (``calls``: its GetChainedRecord calls when already paired).

    :raises ValueError: no GWS exchange among ``entries`` (a :class:`~gwsnb.capture.Capture` always has one).
    """
    ev = Evidence(entries, calls)
    if not ev.entries:
        raise ValueError("no GWS traffic in this capture")
    steps = [capture_step(ev, path, creator), auth_step(ev), session_step(ev), csrf_step(ev), cometd_step(ev),
             clock_step(ev), round_trip_step(ev)]
    measured, dates = ev.memo(clock_offset)
    interval = measured or dates
    url, user = _who(ev)
    return Diagnosis(f"{url} (capture {os.path.basename(path)})", user, _in_order(steps),
                     (interval.low_ms, interval.high_ms) if interval is not None else None)
