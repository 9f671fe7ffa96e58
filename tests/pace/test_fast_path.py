"""The per-call path of a fixed-concurrency run: :meth:`Pacer.admit_now` admits without a coroutine only when
nothing needs waiting for, and hands everything else to :meth:`Pacer.admit`; the breaker's shortcut for a
success leaves it as :meth:`CircuitBreaker.count` would; the engine's per-handle parameters equal
``dataclasses.replace``'s."""

from __future__ import annotations

import asyncio
import dataclasses

from gwsnb._engine.breaker import CircuitBreaker
from gwsnb._engine.bulk import BatchRun
from gwsnb._engine.outage import ClientHooks
from gwsnb._engine.pace import Pacer
from gwsnb.pace import Pace
from gwsnb.params import ChainedRecordParams


async def _never_called(params: ChainedRecordParams, device_path: str) -> object:
    raise AssertionError("no call is made by these tests")


HOOKS = ClientHooks(call=_never_called, closed=lambda: False)  # type: ignore[arg-type]


def test_admit_now_admits_up_to_the_limit_then_defers() -> None:
    pacer = Pacer(Pace(concurrency=2))
    first, second = pacer.admit_now(), pacer.admit_now()
    assert first is not None and second is not None
    assert (second.concurrency, second.in_flight) == (2, 2) and pacer.sent == 2 == pacer.in_flight
    assert pacer.admit_now() is None  # no slot: admit() waits for one
    pacer.done(first, "ok", 0.01)
    third = pacer.admit_now()
    assert third is not None and pacer.sent == 3 and pacer.in_flight == 2
    assert len(pacer.load) == 1 and pacer.load.floor_s is not None


def test_admit_now_defers_to_admit_for_a_budget_a_pause_a_rate_or_a_window() -> None:
    budget = Pacer(Pace(concurrency=4, max_calls=1))
    assert budget.admit_now() is not None and budget.admit_now() is None
    assert asyncio.run(budget.admit()) is None and budget.stopped_by == "max_calls"  # admit() says why

    paused = Pacer(Pace(concurrency=4))
    paused.pause_until(paused._monotonic() + 60, "HTTP 429")
    assert paused.admit_now() is None and paused.sent == 0

    assert Pacer(Pace(concurrency=4, rate=1000)).admit_now() is None
    assert Pacer(Pace(concurrency=4, window="00:00-23:59")).admit_now() is None


def test_admit_now_leaves_a_waiting_caller_its_turn() -> None:
    async def scenario() -> tuple[bool, int]:
        pacer = Pacer(Pace(concurrency=1))
        held = pacer.admit_now()
        assert held is not None
        waiter = asyncio.ensure_future(pacer.admit())
        await asyncio.sleep(0)  # the waiter queues for the slot
        pacer.done(held, "ok", 0.01)  # the slot goes to the waiter, not to whoever asks next
        jumped = pacer.admit_now() is not None
        ticket = await waiter
        assert ticket is not None
        return jumped, pacer.in_flight

    assert asyncio.run(scenario()) == (False, 1)


def test_count_ok_equals_count_of_ok() -> None:
    async def scenario() -> None:
        # a clean full window, a few failures, a window not full yet, then enough failures to open it
        kinds = (["ok"] * 60 + ["timeout"] * 3 + ["ok"] * 70 + ["ocs_error", "transport"] + ["ok"] * 55
                 + ["timeout"] * 40 + ["ok"] * 5)

        async def probe() -> str:
            return "ok"

        def breaker() -> CircuitBreaker:
            return CircuitBreaker(HOOKS, 60.0, lambda: None, window=50, threshold=0.5, probe=probe)

        slow, fast = breaker(), breaker()
        for kind in kinds:
            slow.count(kind)
            fast.count_ok() if kind == "ok" else fast.count(kind)
            assert (list(fast._recent), fast._failing, dict(fast.failures), fast.trips) == \
                   (list(slow._recent), slow._failing, dict(slow.failures), slow.trips)
        assert fast.trips == 1 and fast.since is not None  # the last part opened both
        fast.cancel()
        slow.cancel()

    asyncio.run(scenario())


def test_the_engines_parameters_per_handle_equal_dataclasses_replace() -> None:
    params = ChainedRecordParams(1, "Campaign1", 134, "/devices/d1", "ref-7", 12.5)
    run = BatchRun([5, 6], params, "/devices/d1", concurrency=2, retries=0, fail_fast=False, hooks=HOOKS,
                   every_handle=True)
    made = run._params_for(6)
    assert made == dataclasses.replace(params, record_handle=6) and made is not params
    assert {f.name for f in dataclasses.fields(ChainedRecordParams)} == {
        "record_handle", "campaign_name", "application_id", "device_path", "reference_id", "timeout"}, \
        "a new field: BatchRun._params_for must copy it too"
