"""The wire's JSON codec and the result packer's serializer, measured on the machine's own bodies.

1. Decoding a long-poll body shaped like GWS's (``docs/samples/get_chained_record.connect_response.json``:
   its ChainedRecordsDataEnd and user event repeated ten times, then the ``/meta/connect`` reply; about
   8 KiB) with :func:`json.loads`, msgspec and, when installed, orjson; and encoding a GetChainedRecord
   request body with :func:`json.dumps` and msgspec (gwsnb/_wire/jsoncodec.py uses msgspec).
2. Packing results as ``gwsnb.batch.ResultPacker`` does (a chunk of 64 results serialized, then deflated
   at level 1 against the first chunk as a preset dictionary), pickle against msgpack (msgspec), on the
   results of a 640-handle run against ``gwsnb sandbox`` in its own process: microseconds per result and
   bytes kept per result.

Run: ``.venv/bin/python -m benchmarks.bench_codec`` (about a minute).  Best of several repeats; the
machine's load average is printed with the figures.
"""

from __future__ import annotations

import json
import os
import pickle
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

SAMPLE = Path(__file__).resolve().parent.parent / "docs" / "samples" / "get_chained_record.connect_response.json"


def best_us(fn: Callable[[], Any], number: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - started) / number)
    return best * 1e6


def codec_rows() -> None:
    messages = json.loads(SAMPLE.read_text())
    body = json.dumps(messages[:2] * 10 + messages[2:]).encode()
    decoders: dict[str, Callable[[bytes], Any]] = {"json": json.loads, "msgspec": msgspec.json.Decoder().decode}
    try:
        import orjson

        decoders["orjson"] = orjson.loads
    except ImportError:
        pass
    base = best_us(lambda: json.loads(body), 2000)
    for name, decode in decoders.items():
        us = best_us(lambda d=decode: d(body), 2000)  # type: ignore[misc]
        print(f"decode a {len(body):,}-byte long-poll body, {name}: {us:.1f} us ({base / us:.1f}x json)")
    request = {"operationName": "GetChainedRecord", "campaignName": "Campaign1", "applicationId": 134,
               "devicePath": "/devices/c259da54-7c22-4a43-9440-77a92facc86b", "referenceId": "gwsnb-1a2b3c-17"}
    encode = msgspec.json.Encoder().encode
    j, m = best_us(lambda: json.dumps(request), 20000), best_us(lambda: encode(request), 20000)
    print(f"encode a GetChainedRecord body: json {j:.2f} us, msgspec {m:.2f} us ({j / m:.1f}x)")


def packer_rows() -> None:
    import gwsnb

    from .bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER, subprocess_sandbox

    with subprocess_sandbox(1000, 0.0) as server, gwsnb.connect(server.url, USER, PASSWORD) as client:
        batch = client.get_chained_records(server.handles[:640], campaign_name=CAMPAIGN,
                                           application_id=APPLICATION_ID, progress=False, every_handle=True)
    items = [(r.reference_id, r.campaign_name, r.application_id, r.device_path,
              (r.timings.sent, r.timings.http_answered, r.timings.first_event, r.timings.data_end), r.records,
              r.end, [(e.received_at, e.message) for e in r.user_events]) for r in batch.results]
    chunks = [items[i:i + 64] for i in range(0, len(items), 64)]
    serializers: dict[str, Callable[[Any], bytes]] = {
        "pickle": lambda chunk: pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL),
        "msgpack": msgspec.msgpack.Encoder().encode}
    counted = sum(len(c) for c in chunks[1:])
    for name, serialize in serializers.items():
        zdict = serialize(chunks[0])[-32768:]
        kept = 0

        def pack(s: Callable[[Any], bytes] = serialize, z: bytes = zdict) -> None:
            nonlocal kept
            kept = 0
            for chunk in chunks[1:]:
                packer = zlib.compressobj(1, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, z)
                kept += len(packer.compress(s(chunk)) + packer.flush())

        us = best_us(pack, 1) / counted
        print(f"pack a result ({name} + deflate level 1 with a preset dictionary): {us:.1f} us, "
              f"{kept / counted:.0f} bytes kept")


def main() -> None:
    codec_rows()
    packer_rows()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
