"""The sandbox moves a campaign forward as a dialer would between two runs: :func:`advance`.

``Sandbox.advance(hours=4, seed=7)`` (or ``POST /sandbox/advance`` on a sandbox in its own process, see
:func:`advance_route`) dials a share of the chains a preview agent could be handed now, in the hand-out
order of the OCS state model (docs/record-operations.md §4.2), and writes each call's outcome with the
transitions of that model (§4.3): a record finalized as CompleteRecord finalizes it (status Updated, the
chain's other open records Chain Updated), a callback as RescheduleRecord writes it (Ready, Personal or
Campaign Callback, dial_sched_time), a do-not-call as DoNotCallRecord AllChain (No Call, the number on the
DNC list), new records as AddRecord inserts them.  One outcome the operations do not have is the dialer's
own treatment of a call nobody answered (No Answer, Busy, Answering Machine): the record is rescheduled
for a redial (Ready, record_type Campaign Rescheduled, dial_sched_time one to eight hours after the call),
or finalized once it reaches :data:`MAX_ATTEMPTS`.  All of it [choice]; docs/campaign-progress.md.

The calls happen during the ``hours`` before ``now`` (the sandbox's clock by default): ``call_time`` is
spread over that window, so some redials are due already and some callbacks fall due in the next hours.
Everything but the clock is drawn from ``random.Random(seed)``: the same seed on the same list gives the
same changes.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ._calling_list import _AREA_CODES, TIME_ZONES
from ._operations import CALL_RESULT_DO_NOT_CALL, OperationEngine
from ._records import STATUS_CHAIN_UPDATED, STATUS_READY, STATUS_UPDATED, RecordStore, is_final
from ._sessions import SessionStore

__all__ = ["ADVANCE_PATH", "MAX_ATTEMPTS", "OUTCOMES", "SHARE_PER_HOUR", "advance", "advance_route", "check_advance"]

#: the admin route of a running sandbox (outside the GWS API; Basic credentials of the sandbox's user)
ADVANCE_PATH = "/sandbox/advance"
#: the share of the dialable chains the dialer reaches per hour
SHARE_PER_HOUR = 0.05
#: a record not answered this many times is finalized instead of rescheduled
MAX_ATTEMPTS = 5
#: call_result code -> (weight, what follows): the outcome shares of a dialed record
OUTCOMES: dict[int, tuple[float, str]] = {
    33: (0.30, "answer"),        # Answer
    7: (0.28, "redial"),         # No Answer
    6: (0.09, "redial"),         # Busy
    9: (0.15, "redial"),         # Answering Machine Detected
    17: (0.05, "final"),         # Fax Detected
    53: (0.05, "final"),         # Wrong Number
    11: (0.04, "final"),         # SIT Invalid Num
    26: (0.04, "final"),         # Dropped
}
#: what an answered call becomes: a personal or campaign callback, do-not-call, else completed
ANSWERED = (("personal callback", 0.12), ("campaign callback", 0.12), ("do not call", 0.08))
#: records added (AddRecord, each a new chain) per dialed chain (at least one when any chain was dialed)
ADDED_PER_DIALED = 0.01
_REDIAL_S = (3_600, 8 * 3_600)
_CALLBACK_S = (2 * 3_600, 30 * 3_600)
_AGENT = "agent"
_NO_AGENT_LOGIN = "\x00dialer"  # no agent has this login: personal callbacks are never the dialer's to dial


def check_advance(hours: Any, seed: Any) -> None:
    """:raises ValueError: ``hours`` not a number in (0, 24], or ``seed`` not an integer."""
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24:
        raise ValueError(f"hours must be a number in (0, 24], got {hours!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")


def _dialable_chains(store: RecordStore, now: float) -> list[int]:
    return [chain_id for _key, chain_id in store._candidates(_NO_AGENT_LOGIN, now)]


def advance(store: RecordStore, engine: OperationEngine, *, hours: float, seed: int, now: float | None = None,
            agent: str = _AGENT, campaign_name: str = "") -> dict[str, Any]:
    """Dial ``SHARE_PER_HOUR * hours`` of the dialable chains (see the module doc); what happened, counted.

    :raises ValueError: ``hours`` not a positive number or above 24, ``seed`` not an integer.
    """
    check_advance(hours, seed)
    rng = random.Random(seed)
    end = float(store.clock() if now is None else now)
    start = end - hours * 3_600
    chains = _dialable_chains(store, end)
    dialed = chains[:round(len(chains) * min(1.0, SHARE_PER_HOUR * hours))]
    dnc = {entry["phone"] for entry in store.dnc}
    counts: Counter[str] = Counter()
    results: Counter[int] = Counter()
    call = _Caller(store, engine, rng, agent=agent, campaign_name=campaign_name, counts=counts)
    for chain_id in dialed:
        row = store.pick(store.chain_by_id(chain_id), _NO_AGENT_LOGIN, end)
        if row is None:
            continue
        call_time = int(rng.uniform(start, end))
        if row["contact_info"] in dnc:  # checked before dialing, as the hand-out does
            store.update(row["record_handle"], record_type=7, call_result=CALL_RESULT_DO_NOT_CALL,
                         record_status=STATUS_UPDATED)
            counts["skipped (number on the DNC list)"] += 1
            continue
        results[call(row, call_time)] += 1
    added = [_add(store, rng) for _ in range(max(1, round(len(dialed) * ADDED_PER_DIALED)) if dialed else 0)]
    counts["added"] = len(added)
    return {"hours": hours, "seed": seed, "now": end, "dialable_chains": len(chains), "dialed": sum(results.values()),
            "call_results": {str(code): n for code, n in sorted(results.items())}, **dict(counts),
            "added_handles": [row["record_handle"] for row in added]}


class _Caller:
    """One dialed record's outcome, written through the state model's transitions."""

    def __init__(self, store: RecordStore, engine: OperationEngine, rng: random.Random, *, agent: str,
                 campaign_name: str, counts: Counter[str]) -> None:
        self.store, self.engine, self.rng = store, engine, rng
        self.agent, self.campaign_name, self.counts = agent, campaign_name, counts
        self.codes = list(OUTCOMES)
        self.weights = [weight for weight, _what in OUTCOMES.values()]

    def __call__(self, row: dict[str, Any], call_time: int) -> int:
        code = self.rng.choices(self.codes, self.weights)[0]
        what = OUTCOMES[code][1]
        attempt = int(row.get("attempt") or 0) + 1
        if what == "answer":
            self._answered(row, call_time, attempt)
        elif what == "redial" and attempt < MAX_ATTEMPTS:
            redial = call_time + self.rng.randint(*_REDIAL_S)
            self.store.update(row["record_handle"], record_status=STATUS_READY, record_type=3, call_result=code,
                              attempt=attempt, call_time=call_time, dial_sched_time=redial)
            self.counts["rescheduled"] += 1
        else:
            self._complete(row, code, call_time, attempt)
        return code

    def _answered(self, row: dict[str, Any], call_time: int, attempt: int) -> None:
        draw, what = self.rng.random(), "completed"
        for name, share in ANSWERED:
            if draw < share:
                what = name
                break
            draw -= share
        if what == "completed":
            self._complete(row, 33, call_time, attempt)
            return
        store, handle = self.store, row["record_handle"]
        if what == "do not call":  # DoNotCallRecord AllChain on the answered record
            store.update(handle, call_result=33, attempt=attempt, call_time=call_time)
            store.dnc.append({"phone": row["contact_info"], "campaign_name": self.campaign_name,
                              "calling_list": store.name, "time_stamp": call_time})
            current = store.record(handle)
            assert current is not None
            self.engine._do_not_call(current, None, True)
            self.counts["do not call"] += 1
            return
        personal = what == "personal callback"  # RescheduleRecord
        due = call_time + self.rng.randint(*_CALLBACK_S) // 900 * 900
        store.update(handle, record_status=STATUS_READY, record_type=5 if personal else 6, call_result=33,
                     attempt=attempt, call_time=call_time, dial_sched_time=due)
        store.set_agent(handle, self.agent if personal else None)
        self.counts[what] += 1

    def _complete(self, row: dict[str, Any], code: int, call_time: int, attempt: int) -> None:
        """CompleteRecord of the chain's active record: it is Updated, the chain's other open records Chain Updated."""
        store = self.store
        for member in store.chain_by_id(int(row["chain_id"])):
            if member["record_handle"] != row["record_handle"] and not is_final(member):
                store.update(member["record_handle"], record_status=STATUS_CHAIN_UPDATED)
        store.update(row["record_handle"], record_status=STATUS_UPDATED, call_result=code, attempt=attempt,
                     call_time=call_time)
        self.counts["completed"] += 1


def _add(store: RecordStore, rng: random.Random) -> dict[str, Any]:
    """AddRecord into a new chain: the §4.1 defaults and a fictional number of a known time zone."""
    tz_dbid = rng.choice(list(TIME_ZONES))
    phone = f"+1{rng.choice(_AREA_CODES[tz_dbid])}55501{rng.randint(0, 99):02d}"
    row: dict[str, Any] = {key: None for key in store.base.frame.columns}
    row.update({"contact_info": phone, "contact_info_type": 1, "record_type": 2, "record_status": STATUS_READY,
                "call_result": 28, "attempt": 0, "daily_from": 28800, "daily_till": 64800, "tz_dbid": tz_dbid})
    return store.add(row, None)


def advance_route(sessions: SessionStore, run: Callable[[float, int], dict[str, Any]]) -> Any:
    """The aiohttp handler of ``POST /sandbox/advance``: Basic credentials of the sandbox's user, a JSON
    body ``{"hours": 4, "seed": 7}``; answers the summary of :func:`advance` as JSON (401 without valid
    credentials, 400 for a bad body)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if sessions.check_basic(request) is None:
            return web.json_response({"error": "Basic credentials of the sandbox's user required"}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="GWS sandbox"'})
        try:
            body = json.loads(await request.text() or "{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return web.json_response(run(body.get("hours", 4), body.get("seed", 0)))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)

    return handle
