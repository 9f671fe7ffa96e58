"""Benchmark: gwsnb.frames builders vs ``pd.json_normalize`` over the same 100,000 messages.

Run: ``.venv/bin/python -m benchmarks.bench_frames [N]``. Prints seconds (best of a few runs) and the
ratio builder / json_normalize (below 1 means the builder is faster, although it also converts dtypes
and labels codes, which json_normalize does not).
"""

from __future__ import annotations

import random
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

from gwsnb import frames

BUDGET_S = 1.0


def chained_record_messages(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` ChainedRecord notifications shaped as docs/notifications.md describes, chains of 1-5 records."""
    rng = random.Random(seed)
    messages = []
    chain_id = 0
    chain_n = 0
    for i in range(n):
        if chain_n == 0 or rng.random() < 0.3:
            chain_id += 1
            chain_n = 0
        chain_n += 1
        handle = 1000 + i
        phone = f"+1555{rng.randrange(10**7):07d}"
        user_data = {
            "GSW_RECORD_HANDLE": handle,
            "GSW_CHAIN_ID": chain_id,
            "GSW_PHONE": phone,
            "GSW_ATTEMPTS": rng.randrange(5),
            "GSW_CALL_RESULT": 28,
            "GSW_TZ_NAME": "EST",
            "GSW_TZ_OFFSET": -18000,
            "GSW_CALLING_LIST": "CallingList1",
            "GSW_CAMPAIGN_NAME": "Campaign1",
            "GSW_APPLICATION_ID": 134,
            "GSW_USER_EVENT": "ChainedRecord",
            "GSW_CALL_ATTEMPT_GUID": f"01AJ7BMDBGANF1AABGHAHG5AES{i:06d}",
            "contact_info": phone,
            "contact_info_type": rng.randrange(12),
            "record_type": 2,
            "record_status": rng.choice((1, 2, 3)),
            "call_result": rng.choice((28, 33, 6, 7, 9)),
            "attempt": rng.randrange(5),
            "dial_sched_time": 1_700_000_000 + rng.randrange(10**6),
            "call_time": 1_700_000_000 + rng.randrange(10**6),
            "daily_from": 8 * 3600,
            "daily_till": 20 * 3600,
            "tz_dbid": 112,
            "chain_id": chain_id,
            "chain_n": chain_n,
            "customer_id": f"C{rng.randrange(10**6):06d}",
            "balance": round(rng.random() * 1000, 2),
            "segment": rng.choice(("gold", "silver", "bronze")),
        }
        messages.append(
            {
                "channel": "/v2/me/outbound",
                "data": {
                    "messageType": "OutboundRecordMessage",
                    "notificationType": "ChainedRecord",
                    "referenceId": f"ref-{chain_id}",
                    "record": {
                        "recordHandle": handle,
                        "campaignName": "Campaign1",
                        "callingList": "CallingList1",
                        "applicationId": 134,
                        "devicePath": "/devices/c259da54-7c22-4a43-9440-77a92facc86b",
                        "userData": user_data,
                    },
                },
            }
        )
    return messages


def internal_event_messages(n: int, seed: int = 2) -> list[dict[str, Any]]:
    """``n`` /me/internal DeviceUserEventMessages with ``metrics.eventProcessing`` (the documented sample's shape)."""
    rng = random.Random(seed)
    return [
        {
            "channel": "/me/internal",
            "data": {
                "metrics": {
                    "eventProcessing": {
                        "serverGenerationTimestamp": 1_433_915_532_887 + i,
                        "nodeProcessingTimeNanos": rng.randrange(10**6, 10**7),
                        "serverProcessingTimeTotalMs": rng.randrange(1, 20),
                    }
                },
                "userData": {
                    "GSW_APPLICATION_ID": 134,
                    "GSW_RECORD_HANDLE": 1000 + i,
                    "GSW_USER_EVENT": "ChainedRecord",
                    "GSW_CALLING_LIST": "CallingList1",
                    "GSW_CAMPAIGN_NAME": "Campaign1",
                    "GSW_CHAIN_ID": i // 3,
                },
                "deviceId": "c259da54-7c22-4a43-9440-77a92facc86b",
                "messageType": "DeviceUserEventMessage",
            },
        }
        for i in range(n)
    ]


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float, Any]:
    """Best wall-clock and best CPU seconds over ``repeat`` runs, and the last output.

    CPU time is printed too because other jobs on a 2-core machine stretch wall-clock time.
    """
    best_wall = best_cpu = float("inf")
    out: Any = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, out


def compare(name: str, builder: Callable[[], pd.DataFrame], baseline: Callable[[], pd.DataFrame]) -> bool:
    base_s, base_cpu, base = best_of(baseline)
    ours_s, ours_cpu, ours = best_of(builder)
    ratio = ours_s / base_s
    ok = ours_s <= BUDGET_S and ratio <= 1.0
    print(
        f"{name:<15} rows={len(ours):>7} cols={ours.shape[1]:>3}  gwsnb {ours_s:6.3f} s (cpu {ours_cpu:.3f})  "
        f"json_normalize {base_s:6.3f} s (cpu {base_cpu:.3f}, cols={base.shape[1]})  ratio {ratio:5.2f}  "
        f"{'OK' if ok else 'FAIL'} (budget {BUDGET_S:.1f} s wall, ratio <= 1)"
    )
    return ok


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 100_000
    warnings.simplefilter("error", frames.FrameWarning)  # the generated payloads are all valid
    records = chained_record_messages(n)
    events = internal_event_messages(n)
    ok = compare("records_frame", lambda: frames.records_frame(records), lambda: pd.json_normalize(records))
    ok &= compare("metrics_frame", lambda: frames.metrics_frame(events), lambda: pd.json_normalize(events))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
