"""Reading a long desktop session's HAR: 200 MB, 50,000 entries, read and framed (docs/captures.md).

The HAR is generated here (``build/bench-capture/session.har``, reused when it is already there with the
same size): a browser-like export (Chrome's headers, base64 and text bodies) of a long agent session,
GetChainedRecord POSTs each answered in the next long poll by its chain (ChainedRecord notifications with
their ``/me/internal`` user events, then ChainedRecordsDataEnd), between long polls that return empty
after their 30 s hold.

Each measurement runs in a child process of its own (its peak RSS is its own: ``ru_maxrss``, and psutil's
RSS before it started):

- ``baseline``: ``json.load`` of the file (the whole HAR as Python objects, nothing else);
- ``read``: ``gwsnb.read_capture`` (ijson streaming the entries into ``Entry`` objects);
- ``frames``: ``read_capture`` then the records, metrics, calls and requests frames (the calls replayed
  through the correlator);
- ``diagnose``: ``read_capture`` then ``Capture.diagnose()`` (which replays the calls too).

Target (issue 25): read and frame in <= 15 s with a peak RSS <= 1 GiB.  ``python -m
benchmarks.bench_capture [--entries N] [--fields F]``.

``--writer N``: the cost of ``connect(capture=...)`` on a bulk run of N calls against an in-process
sandbox, off and on alternated three times (best of each), as a ratio.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import psutil

OUT = Path("build") / "bench-capture"
DEVICE = "c259da54-7c22-4a43-9440-77a92facc86b"
CHROME_HEADERS = [
    ("Accept", "application/json, text/plain, */*"), ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "en-US,en;q=0.9"), ("Connection", "keep-alive"), ("Origin", "https://wwe.example.com"),
    ("Referer", "https://wwe.example.com/ui/ad/v1/index.html"), ("Sec-Fetch-Dest", "empty"),
    ("Sec-Fetch-Mode", "cors"), ("Sec-Fetch-Site", "same-origin"),
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                   "Safari/537.36"),
    ("sec-ch-ua", '"Chromium";v="131", "Not_A Brand";v="24"'), ("sec-ch-ua-platform", '"Linux"'),
]


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}Z"


def _entry(started: float, ms: float, method: str, path: str, request: str | None, response: str,
           base64_body: bool = False) -> dict[str, Any]:
    headers = [{"name": n, "value": v} for n, v in CHROME_HEADERS]
    headers.append({"name": "Cookie", "value": "JSESSIONID=1A2B3C4D5E6F70819AABBCCDDEEFF001; AWSALB=abcdefghij"})
    headers.append({"name": "X-CSRF-TOKEN", "value": "k3yT0k3nAbCdEfGhIjKlMnOpQrStUvWx"})
    content: dict[str, Any] = {"size": len(response), "mimeType": "application/json;charset=UTF-8",
                               "text": response}
    if base64_body:
        content["text"] = base64.b64encode(response.encode()).decode()
        content["encoding"] = "base64"
    entry: dict[str, Any] = {
        "startedDateTime": _iso(started), "time": ms,
        "request": {"method": method, "url": f"https://gws.example.com/api/v2{path}", "httpVersion": "HTTP/1.1",
                    "headers": headers, "queryString": [], "cookies": [], "headersSize": -1,
                    "bodySize": len(request or "")},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                     "headers": [{"name": "Content-Type", "value": "application/json;charset=UTF-8"},
                                 {"name": "Date", "value": time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                                                         time.gmtime(started))}],
                     "cookies": [], "content": content, "redirectURL": "", "headersSize": -1,
                     "bodySize": len(response), "_transferSize": len(response) + 300},
        "cache": {}, "timings": {"blocked": 0.5, "dns": -1, "ssl": -1, "connect": -1, "send": 0.1,
                                 "wait": ms - 1.0, "receive": 0.4},
        "serverIPAddress": "10.0.0.7", "_initiator": {"type": "script"}, "_priority": "High",
        "_resourceType": "xhr", "connection": "443",
    }
    if request is not None:
        entry["request"]["postData"] = {"mimeType": "application/json;charset=UTF-8", "text": request}
    return entry


def _chain(handle: int, reference: str, generated_ms: int, records: int, fields: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    common = {"GSW_APPLICATION_ID": 134, "GSW_CALLING_LIST": "CallingList1", "GSW_CAMPAIGN_NAME": "Campaign1",
              "GSW_CHAIN_ID": handle}
    for n in range(records):
        user_data = {"contact_info": f"+3312345{handle % 10000:04d}{n}", "contact_info_type": 1, "record_type": 2,
                     "record_status": 1, "call_result": 28, "attempt": 0, "dial_sched_time": 0,
                     "call_time": 0, "daily_from": 28800, "daily_till": 64800, "tz_dbid": 120,
                     "chain_id": handle, "chain_n": n, "GSW_TZ_NAME": "Europe/Paris", "GSW_TZ_OFFSET": 3600,
                     **{f"custom_field_{i}": f"value {i} of record {handle + n}" for i in range(fields)}}
        messages.append({"channel": "/v2/me/outbound", "data": {
            "messageType": "OutboundRecordMessage", "notificationType": "ChainedRecord", "referenceId": reference,
            "record": {"recordHandle": handle + n, "campaignName": "Campaign1", "callingList": "CallingList1",
                       "applicationId": 134, "devicePath": f"/devices/{DEVICE}", "userData": user_data}}})
        messages.append({"channel": "/me/internal", "data": {
            "messageType": "DeviceUserEventMessage", "deviceId": DEVICE,
            "userData": {**common, "GSW_RECORD_HANDLE": handle + n, "GSW_USER_EVENT": "ChainedRecord"},
            "metrics": {"eventProcessing": {"serverGenerationTimestamp": generated_ms + n,
                                            "nodeProcessingTimeNanos": 6518539, "serverProcessingTimeTotalMs": 6}}}})
    messages.append({"channel": "/v2/me/outbound", "data": {
        "messageType": "OutboundRecordMessage", "notificationType": "ChainedRecordsDataEnd", "referenceId": reference,
        "record": {"recordHandle": handle, "campaignName": "Campaign1", "callingList": "CallingList1",
                   "applicationId": 134, "devicePath": f"/devices/{DEVICE}"}}})
    messages.append({"channel": "/me/internal", "data": {
        "messageType": "DeviceUserEventMessage", "deviceId": DEVICE,
        "userData": {**common, "GSW_RECORD_HANDLE": handle, "GSW_USER_EVENT": "ChainedRecordsDataEnd"},
        "metrics": {"eventProcessing": {"serverGenerationTimestamp": generated_ms + records,
                                        "nodeProcessingTimeNanos": 6518539, "serverProcessingTimeTotalMs": 6}}}})
    return messages


def generate(path: Path, entries: int, fields: int) -> None:
    """A HAR of ``entries`` entries: per cycle one GetChainedRecord POST, the long poll answering it, and
    an empty long poll held 30 s; streamed to the file, one entry at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    start = 1_760_000_000.0
    client = "1a2b3c4d5e6f7a8b9c0d1e2f3a"
    reply = {"channel": "/meta/connect", "successful": True, "advice": {"interval": 0, "timeout": 30000,
                                                                         "reconnect": "retry"}}
    connect = json.dumps([{"channel": "/meta/connect", "clientId": client, "connectionType": "long-polling",
                           "id": "1"}])
    with path.open("w") as out:
        out.write('{"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"}, '
                  '"pages": [], "entries": [\n')
        at, written, cycle = start, 0, 0
        while written < entries:
            handle, reference = 1000 + cycle * 10, f"wwe-{cycle}"
            body = json.dumps({"operationName": "GetChainedRecord", "campaignName": "Campaign1",
                               "applicationId": 134, "devicePath": f"/devices/{DEVICE}", "referenceId": reference})
            batch = [_entry(at, 40.0, "POST", f"/me/outbound-records/{handle}", body,
                            json.dumps({"statusCode": 0}))]
            notifications = _chain(handle, reference, int((at + 0.02) * 1000), 4, fields)
            batch.append(_entry(at - 5.0, 5060.0, "POST", "/notifications", connect,
                                json.dumps(notifications + [reply]), base64_body=cycle % 2 == 1))
            batch.append(_entry(at + 0.07, 30000.0, "POST", "/notifications", connect, json.dumps([reply])))
            for entry in batch[: entries - written]:
                out.write(("," if written else "") + json.dumps(entry) + "\n")
                written += 1
            at += 30.1
            cycle += 1
        out.write("]}}\n")


# ------------------------------------------------------------------------------------------- children
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def child(kind: str, path: str) -> dict[str, Any]:
    before = psutil.Process().memory_info().rss / 2**20
    started, cpu = time.perf_counter(), time.process_time()
    figures: dict[str, Any] = {"kind": kind, "rss_before_mb": round(before, 1)}
    if kind == "baseline":
        with open(path, "rb") as stream:
            data = json.load(stream)
        figures["entries"] = len(data["log"]["entries"])
    else:
        import gwsnb
        from gwsnb.capture import CaptureSecretsWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CaptureSecretsWarning)
            capture = gwsnb.read_capture(path)
        figures["entries"] = len(capture.entries)
        figures["read_s"] = round(time.perf_counter() - started, 2)
        figures["read_cpu_s"] = round(time.process_time() - cpu, 2)
        if kind == "frames":
            records = capture.records_frame()
            figures["records"] = len(records)
            figures["metrics"] = len(capture.metrics_frame())
            calls = capture.calls_frame()
            figures["calls"] = len(calls)
            figures["calls_ok"] = int((calls["status"] == "ok").sum())
            figures["requests"] = len(capture.requests_frame())
        if kind == "diagnose":
            diagnosis = capture.diagnose()
            figures["ok"], figures["cause"], figures["warnings"] = diagnosis.ok, diagnosis.cause, diagnosis.warnings
    figures["total_s"] = round(time.perf_counter() - started, 2)
    figures["cpu_s"] = round(time.process_time() - cpu, 2)
    figures["peak_rss_mb"] = round(_peak_mb(), 1)
    return figures


def _run_child(kind: str, path: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_capture", "--child", kind, str(path)],
                          capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def writer_cost(handles: int, rounds: int) -> int:
    """A bulk run of ``handles`` calls against an in-process sandbox without and with ``capture=``,
    alternated ``rounds`` times: the writer's cost is the ratio (the sandbox's own work is in both)."""
    import tempfile

    import gwsnb

    with gwsnb.Sandbox(chains=max(handles, 100), seed=3) as sb, tempfile.TemporaryDirectory() as folder:
        todo = sb.calling_list["record_handle"].head(handles).tolist()
        figures: dict[str, list[tuple[float, float, float]]] = {"off": [], "on": []}
        for _ in range(rounds):
            for mode in ("off", "on"):
                capture = os.path.join(folder, "bulk.har") if mode == "on" else None
                wall, cpu = time.perf_counter(), time.process_time()
                client = gwsnb.connect(sb.url, sb.username, sb.password, capture=capture)
                batch = client.get_chained_records(todo, campaign_name=sb.campaign_name,
                                                   application_id=sb.application_id, progress=False,
                                                   every_handle=True)
                run_cpu = time.process_time() - cpu
                client.close()  # the capture is written (and redacted) here
                figures[mode].append((time.perf_counter() - wall, time.process_time() - cpu, run_cpu))
                assert len(batch.failures) == 0
        size = os.path.getsize(os.path.join(folder, "bulk.har")) / 2**20
    best = {mode: tuple(min(run[i] for run in runs) for i in range(3)) for mode, runs in figures.items()}
    print(f"writer: {handles} calls, best of {rounds}; load average {os.getloadavg()[0]:.2f}")
    for mode, (wall, cpu, run_cpu) in best.items():
        print(f"  capture {mode:<3} {wall:6.2f} s wall  {cpu:6.2f} s CPU (client and sandbox), of which the calls "
              f"{run_cpu:5.2f} s and the close {cpu - run_cpu:5.2f} s")
    on, off = best["on"], best["off"]
    print(f"  ratio on/off: {on[0] / off[0]:.2f}x wall, {on[1] / off[1]:.2f}x CPU; during the calls "
          f"{on[2] / off[2]:.2f}x CPU; the HAR: {size:.1f} MiB")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--fields", type=int, default=1, help="custom fields per record (sets the file's size)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--writer", type=int, metavar="HANDLES", default=0,
                        help="measure the writer's cost on a bulk run of HANDLES calls instead")
    args = parser.parse_args(argv)
    if args.writer:
        return writer_cost(args.writer, 3)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    path = OUT / f"session-{args.entries}-{args.fields}.har"
    if not path.exists():
        started = time.perf_counter()
        generate(path, args.entries, args.fields)
        print(f"generated {path} in {time.perf_counter() - started:.1f} s")
    size_mb = path.stat().st_size / 2**20
    print(f"{path}: {size_mb:.0f} MiB, {args.entries} entries; load average {os.getloadavg()[0]:.2f} "
          f"{os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    results = {kind: _run_child(kind, path) for kind in ("baseline", "read", "frames", "diagnose")}
    base = results["baseline"]
    shown = ("kind", "total_s", "cpu_s", "peak_rss_mb")
    for kind, figures in results.items():
        ratio = figures["cpu_s"] / base["cpu_s"] if base["cpu_s"] else float("nan")
        print(f"  {kind:<8} {figures['total_s']:6.2f} s wall, {figures['cpu_s']:6.2f} s CPU ({ratio:4.2f}x json.load's "
              f"CPU)  peak RSS {figures['peak_rss_mb']:7.1f} MiB  "
              f"{json.dumps({k: v for k, v in figures.items() if k not in shown})}")
    frames = results["frames"]
    # on a machine shared with other work the wall time includes the waits for a core: the CPU time is
    # what the reading costs, the wall time what it cost here now (both are printed, with the load)
    met = {"wall": frames["total_s"] <= 15.0, "cpu": frames["cpu_s"] <= 15.0, "rss": frames["peak_rss_mb"] <= 1024.0}
    print(f"target (read + frames <= 15 s, peak RSS <= 1 GiB): wall {'met' if met['wall'] else 'MISSED'}, "
          f"CPU {'met' if met['cpu'] else 'MISSED'}, RSS {'met' if met['rss'] else 'MISSED'}; "
          f"load average now {os.getloadavg()[0]:.2f}")
    diagnosed = results["diagnose"]
    print(f"read + diagnose: {diagnosed['total_s']:.2f} s wall, {diagnosed['cpu_s']:.2f} s CPU, peak RSS "
          f"{diagnosed['peak_rss_mb']:.0f} MiB (target <= 15 s, <= 1 GiB)")
    ok = met["cpu"] and met["rss"] and diagnosed["cpu_s"] <= 15.0 and diagnosed["peak_rss_mb"] <= 1024.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
