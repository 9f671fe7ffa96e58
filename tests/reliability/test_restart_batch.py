"""Item 1: the sandbox restarted in the middle of a 500-handle batch.

Every handle must end (a result or a typed error) within its timeout and retries, no result may be lost
or reported twice, the client must re-handshake and re-subscribe by itself, and a later batch on the same
client must succeed without a new ``connect``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import gwsnb
from gwsnb import errors
from gwsnb.sandbox import Sandbox
from tests.chains import ChainIndex, record_keys

from .conftest import Recorder, wait_for

N = 500


@pytest.fixture()
def big() -> Iterator[Sandbox]:
    with Sandbox(chains=N + 60, seed=13, cometd_timeout_ms=2000) as sb:
        yield sb


def _heads(sb: Sandbox, n: int, offset: int = 0) -> list[int]:
    heads = sb.calling_list.groupby("chain_id")["record_handle"].min().sort_values()
    return [int(h) for h in heads.iloc[offset:offset + n]]


def _posts(sb: Sandbox) -> int:
    return sum(n for key, n in sb.request_counts().items() if key.startswith("POST /api/v2/me/outbound-records/"))


def test_restart_in_the_middle_of_a_500_handle_batch(big: Sandbox, reliability: Recorder) -> None:
    handles = _heads(big, N)
    per_call_timeout, retries = 4.0, 3
    with gwsnb.connect(big.url, big.username, big.password, timeout=10.0) as c:
        handshakes_before = c.handshakes
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["batch"] = c.get_chained_records(
                    handles, campaign_name=big.campaign_name, application_id=big.application_id, concurrency=16,
                    timeout=per_call_timeout, retries=retries, progress=False)
            except BaseException as exc:  # reported by the assertion below
                outcome["error"] = exc

        # an upper bound for the whole batch: every handle's attempts, serialised over the workers
        bound = (N / 16 + 1) * (per_call_timeout + 8.0) * (retries + 1)
        worker = threading.Thread(target=run, name="batch")
        started = time.monotonic()
        worker.start()
        wait_for(lambda: _posts(big) >= N // 3, 60.0, "a third of the batch sent")
        restart_t = time.time()
        big.stop()
        big.start()
        worker.join(bound)
        assert not worker.is_alive(), "the batch did not end"
        assert "error" not in outcome, outcome.get("error")
        batch = outcome["batch"]
        elapsed = time.monotonic() - started

        ended = Counter([r.record_handle for r in batch.results] + [f.record_handle for f in batch.failures])
        duplicated = sum(n - 1 for n in ended.values() if n > 1)
        wrong = [r.record_handle for r in batch.results if record_keys(r.records) != ChainIndex(big).keys(r.record_handle)]
        missing = [h for h in handles if h not in ended]
        untyped = [f for f in batch.failures if not isinstance(f.error, errors.GwsError)]
        survived = len(batch.results) - len(wrong)
        reliability.record(f"sandbox restarted during a {N}-handle batch", tried=N, survived=survived,
                           lost=len(missing) + len(wrong), duplicated=duplicated,
                           note=f"{len(batch.failures)} typed failures after {retries} retries, {elapsed:.1f} s")
        assert missing == [] and wrong == [] and duplicated == 0
        assert untyped == []
        assert batch.skipped == [] and not batch.interrupted
        # the restart cost some attempts but, with retries, no handle
        assert batch.failures == [], [str(f) for f in batch.failures[:5]]
        # re-handshake and re-subscribe by itself
        assert c.handshakes > handshakes_before
        assert any(e.channel == "/meta/subscribe" and e.message.get("successful") and e.received_at > restart_t
                   for e in c.event_log)
        # a later batch on the same client, without a new connect
        later = _heads(big, 40, offset=N)
        handshakes = c.handshakes
        batch2 = c.get_chained_records(later, campaign_name=big.campaign_name, application_id=big.application_id,
                                       concurrency=16, timeout=per_call_timeout, retries=0, progress=False)
        ok2 = sum(record_keys(r.records) == ChainIndex(big).keys(r.record_handle) for r in batch2.results)
        reliability.record("batch after the restart, same client", tried=len(later), survived=ok2,
                           lost=len(later) - ok2)
        assert batch2.ok and ok2 == len(later)
        assert c.handshakes == handshakes
