"""``gwsnb chained-records``: GetChainedRecord for many record handles from a script or a scheduler.

Records go to stdout (or ``--out``) as a table, CSV, JSON or Parquet, or, with ``--out-dir DIR``, the run
is streamed to a Parquet dataset in DIR (``--resume`` continues it; DIR may be a time template, and
``--every`` takes a run per interval: :mod:`gwsnb._cli.snapshot`); the progress bar and the summary go
to stderr.  Table, CSV and JSON write values in their readable forms (ISO 8601 UTC instants, ``HH:MM:SS``
windows, units in the column names: :func:`gwsnb.frames.readable`); Parquet keeps the frame's native
types.  Exit status: 0 when every handle succeeded, 1 when any failed (or the server could not be
reached), 2 for a bad argument (argparse style, naming the option), 3 when ``--max-calls`` stopped the run
(nothing failed; ``--resume`` goes on), 130 after Ctrl-C (what finished is still written).  The pace
options and ``--plan`` are in :mod:`.pace_args`.  The password comes from ``--password-env VAR`` or is asked for without echo (read from
stdin when stdin is not a terminal); it is never printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import io
import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from .._engine.bulk import MAX_BATCH_HANDLES, MAX_RETRIES, MAX_STREAMED_HANDLES
from ..errors import GwsError, InvalidParameterError, ServerUnavailableError
from ..handles import HandleList
from ..params import MAX_HANDLE, ChainedRecordParams, parse_handles
from .args import handles_arg, int_arg, seconds_arg
from .pace_args import add_pace_options, pace_of, print_plan
from .snapshot import add_schedule_options, check_schedule, run_snapshots

if TYPE_CHECKING:
    import pandas as pd

    from ..batch import ChainedRecordBatch
    from ..results import ChainedRecordResult

__all__ = ["add_chained_records", "run_chained_records"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUDGET = 3
EXIT_INTERRUPTED = 130
#: the CLI's event log budget: nobody reads a CLI run's raw messages, so a small tail is enough (a notebook
#: client keeps 32 MiB; see docs/engine.md, "Event log")
CLI_EVENT_LOG_BYTES = 2**20
#: results turned into CSV at a time (see _write_csv)
CSV_SLICE = 1000

#: which command-line option each validated field comes from, for argparse-style messages
_OPTION = {
    "record_handles": "--handles",
    "campaign_name": "--campaign",
    "application_id": "--application-id",
    "device_path": "--device",
    "timeout": "--timeout",
    "concurrency": "--concurrency",
    "retries": "--retries",
    "url": "--url",
    "username": "--user",
    "out": "--out-dir",
    "max_outage": "--max-outage",
    "sample": "--plan-sample",
}
#: columns the same on every row of one run: left out of the table format (kept in csv/json/parquet)
_TABLE_HIDDEN = ("reference_id", "campaign_name", "calling_list", "application_id", "device_path")
_FAILURES_LISTED = 20


def add_chained_records(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``chained-records`` subcommand."""
    p = sub.add_parser(
        "chained-records",
        help="GetChainedRecord for many record handles; records to stdout or a file",
        description="Send GetChainedRecord for each record handle (concurrently over one CometD session) "
                    "and write the chained records. Exit status 0 when all handles succeeded, 1 when "
                    "any failed, 2 for bad arguments.",
    )
    p.add_argument("--url", required=True, help="GWS API base, e.g. http://127.0.0.1:8090/api/v2")
    p.add_argument("--user", required=True, help="GWS user name")
    p.add_argument("--password-env", metavar="VAR",
                   help="environment variable holding the password (default: ask, without echo)")
    p.add_argument("--campaign", required=True, help="campaign name")
    p.add_argument("--application-id", required=True, type=int_arg("application_id", 1, MAX_HANDLE), metavar="N",
                   help="OCS application id")
    p.add_argument("--device", metavar="PATH", help="devicePath, e.g. /devices/<id> (default: the user's only one)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--handles", type=handles_arg, metavar='"7,9,20-30"', help="record handles and ranges")
    source.add_argument("--handles-file", metavar="FILE",
                        help="file of record handles (commas, spaces or new lines; ranges allowed)")
    p.add_argument("--timeout", type=seconds_arg, metavar="S", help="seconds per attempt (default 30)")
    p.add_argument("--retries", type=int_arg("retries", 0, MAX_RETRIES), default=2, metavar="N",
                   help="retries of a call whose notifications were lost (default 2)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed handle")
    p.add_argument("--every-handle", action="store_true",
                   help="call every handle; by default a handle whose record came back in another handle's "
                        "chain is not called (it is covered: each chain is fetched once)")
    p.add_argument("--format", choices=("table", "csv", "json", "parquet"), default="table",
                   help="output format of the records (default table; parquet needs --out)")
    p.add_argument("--out", metavar="FILE", help="write the records to FILE instead of stdout")
    p.add_argument("--out-dir", metavar="DIR",
                   help="stream the run to a Parquet dataset in DIR as it goes (records, metrics and calls "
                        "tables; needs pyarrow); nothing is written to stdout")
    p.add_argument("--resume", action="store_true",
                   help="with --out-dir: continue the run in DIR (same campaign, application id, device and "
                        "handles), skipping the handles already written; starts it if DIR is empty")
    p.add_argument("--max-outage", type=seconds_arg, metavar="S", default=600.0,
                   help="seconds to wait for an unreachable server before stopping (default 600)")
    p.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_pace_options(p)
    add_schedule_options(p)
    p.add_argument("--capture", metavar="FILE",
                   help="write gwsnb's own HTTP traffic as a HAR file (redacted; the newest 64 MiB of "
                        "exchanges; docs/captures.md)")
    p.set_defaults(func=run_chained_records, _parser=p)


def _read_handles_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().replace("\n", ",")
    except OSError as exc:
        raise InvalidParameterError("handles_file", path, exc.strerror or str(exc)) from None


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise InvalidParameterError("password_env", args.password_env, "environment variable is not set")
        return value
    prompt = f"GWS password for {args.user}: "
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(prompt)
    # piped: read one line (getpass would open /dev/tty and wait for a terminal the script may not have)
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline() if sys.stdin is not None else ""
    sys.stderr.write("\n")
    return line.rstrip("\r\n")


def _table(frame: pd.DataFrame) -> str:
    """The records for a person: written forms (``HH:MM:SS``, ISO 8601 UTC), blanks for missing values."""
    from ..frames import readable

    shown = frame.drop(columns=[c for c in _TABLE_HIDDEN if c in frame.columns])
    if shown.empty:
        return "(no records)\n"
    written = readable(shown).astype(object)
    return written.where(written.notna(), "").to_string(index=False) + "\n"


def _text(frame: pd.DataFrame, fmt: str) -> str:
    """The records as ``fmt`` text: csv, json (one array, see :func:`gwsnb.frames.to_json`) or table."""
    from ..frames import readable, to_json

    if fmt == "csv":
        return str(readable(frame).to_csv(index=False))
    if fmt == "json":
        return to_json(frame) + "\n"
    return _table(frame)


def _write(batch: ChainedRecordBatch, fmt: str, out: str | None) -> None:
    if fmt == "parquet":
        assert out is not None
        batch.to_parquet(out)
        return
    if fmt == "csv":
        if out is None:
            _write_csv(batch, sys.stdout)
            sys.stdout.flush()
        else:
            with open(out, "w", encoding="utf-8", newline="") as f:
                _write_csv(batch, f)
        return
    text = _text(batch.records_frame(), fmt)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with open(out, "w", encoding="utf-8", newline="") as f:
            f.write(text)


def _write_csv(batch: ChainedRecordBatch, stream: IO[str]) -> None:
    """The records as CSV, :data:`CSV_SLICE` results at a time: a frame of every record of a big run holds
    all their dicts at once (50,000 handles: over 600 MiB), a slice a small part of it.  Every slice has the
    columns of the whole run (the union, in records_frame's order, found from one record of each shape)."""
    from ..frames import readable, records_frame

    results = batch.results
    shapes: dict[tuple[frozenset[str], frozenset[str]], ChainedRecordResult] = {}
    for result in results:
        for record in result.records:
            user_data = record.get("userData") if isinstance(record, dict) else None
            shape = (frozenset(record) if isinstance(record, dict) else frozenset(),
                     frozenset(user_data) if isinstance(user_data, dict) else frozenset())
            if shape not in shapes:
                shapes[shape] = dataclasses.replace(result, records=[record], events=[], user_events=[])
    columns = list(records_frame(list(shapes.values())).columns)
    for start in range(0, max(len(results), 1), CSV_SLICE):
        frame = records_frame(results[start:start + CSV_SLICE]).reindex(columns=columns)
        readable(frame).to_csv(stream, index=False, header=start == 0)


def _report(batch: ChainedRecordBatch, stream: IO[str]) -> None:
    print(f"gwsnb chained-records: {batch.summary()}", file=stream)
    if batch.load is not None and len(batch.load):
        print(f"  load: {batch.load.text()}", file=stream)
    latency = batch.latency_percentiles()
    if latency:
        print("  POST to DataEnd: " + ", ".join(f"p{p} {ms:.1f} ms" for p, ms in latency.items()), file=stream)
    for reason, handles in batch.failures_by_reason().items():
        print(f"  {reason}: {len(handles)} handle(s)", file=stream)
    for failure in batch.failures[:_FAILURES_LISTED]:
        print(f"  failed {failure}", file=stream)
    if len(batch.failures) > _FAILURES_LISTED:
        print(f"  ... and {len(batch.failures) - _FAILURES_LISTED} more", file=stream)
    if batch.skipped:
        shown = ", ".join(str(h) for h in batch.skipped[:_FAILURES_LISTED])
        more = " ..." if len(batch.skipped) > _FAILURES_LISTED else ""
        print(f"  not run: {shown}{more}", file=stream)


def run_chained_records(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status (argument errors exit 2 through ``parser.error``)."""
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("gwsnb chained-records: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _usage_error(args: argparse.Namespace, exc: InvalidParameterError) -> int:
    """Report a validation error argparse's way, naming the option it came from (exits 2)."""
    parser: argparse.ArgumentParser = args._parser
    if getattr(exc, "choices", None):  # DeviceSelectionError: known only once connected
        parser.error(f"argument --device: {exc.reason}")
    option = _OPTION.get(exc.field, "--" + exc.field.replace("_", "-"))
    parser.error(f"argument {option}: {exc.reason}: {exc.value!r}")
    return EXIT_USAGE  # not reached: parser.error exits


def _handles_of(args: argparse.Namespace) -> HandleList:
    if args.handles is not None:
        return args.handles  # a HandleList (handles_arg): kept compact, never listed
    try:
        return parse_handles(_read_handles_file(args.handles_file),
                             limit=MAX_STREAMED_HANDLES if args.out_dir else MAX_BATCH_HANDLES)
    except InvalidParameterError as exc:
        args._parser.error(f"argument --handles-file: {exc.reason}: {exc.value!r}")
        raise  # not reached: parser.error exits


def _run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args._parser
    if args.format == "parquet" and not args.out:
        parser.error("argument --format: parquet needs --out FILE (binary output is not written to stdout)")
    _check_out_dir(parser, args)
    check_schedule(parser, args)
    try:
        handles = _handles_of(args)
        # everything the call will check, checked before the password prompt and before connecting
        ChainedRecordParams(handles[0], args.campaign, args.application_id, args.device, None,
                            args.timeout).validate()
        args.pace = pace_of(args)
        password = _password(args)
    except InvalidParameterError as exc:
        return _usage_error(args, exc)
    return run_snapshots(args, handles, password, _connect_and_run)  # one run, or one per --every


def _connect_and_run(args: argparse.Namespace, handles: Sequence[int], password: str) -> int:
    from ..client import connect

    try:
        client = connect(args.url, args.user, password, verify=not args.insecure,
                         timeout=args.timeout if args.timeout is not None else 30.0,
                         event_log_bytes=CLI_EVENT_LOG_BYTES, capture=args.capture)
    except InvalidParameterError as exc:
        return _usage_error(args, exc)
    except GwsError as exc:
        print(f"gwsnb chained-records: cannot connect to {args.url}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        del password
    try:
        if args.plan:
            return print_plan(client, handles, args, args.pace)
        batch = client.get_chained_records(
            handles, campaign_name=args.campaign, application_id=args.application_id,
            device_path=args.device, pace=args.pace, timeout=args.timeout,
            progress=not args.no_progress, retries=args.retries, fail_fast=args.fail_fast,
            max_outage=args.max_outage, out=args.out_dir, every_handle=args.every_handle)
    except InvalidParameterError as exc:
        return _usage_error(args, exc)
    except ServerUnavailableError as exc:
        print(f"gwsnb chained-records: {exc}", file=sys.stderr)
        if exc.batch is not None:
            _report_any(exc.batch, args)
        return EXIT_FAILED
    except ImportError as exc:  # --out-dir without pyarrow
        print(f"gwsnb chained-records: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        client.close()
    if args.out_dir is None:
        try:
            _write(batch, args.format, args.out)
        except (OSError, ImportError) as exc:
            print(f"gwsnb chained-records: cannot write the records: {exc}", file=sys.stderr)
            return EXIT_FAILED
    return _report_any(batch, args)


def _check_out_dir(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--out-dir`` and ``--resume`` make sense together, not with ``--out``/``--format``; without
    ``--resume`` an existing run in DIR is not continued by accident."""
    if args.out_dir is None:
        if args.resume:
            parser.error("argument --resume: needs --out-dir DIR")
        return
    if args.out:
        parser.error("argument --out-dir: not with --out (the run's records are in DIR/records)")
    if args.format != "table":
        parser.error("argument --out-dir: not with --format (a run is written as Parquet)")
    if not args.resume and os.path.exists(os.path.join(args.out_dir, "_run.json")):
        parser.error(f"argument --out-dir: {args.out_dir!r} holds a run already; pass --resume to continue it")


def _report_any(batch: Any, args: argparse.Namespace) -> int:
    """Print the summary of a batch or of a streamed run to stderr; the exit status it calls for."""
    stream = io.StringIO()
    if args.out_dir is not None:
        _report_run(batch, stream)
    else:
        _report(batch, stream)
    sys.stderr.write(stream.getvalue())
    if batch.interrupted:
        return EXIT_INTERRUPTED
    failed = batch.failed if isinstance(getattr(batch, "failed", None), int) else len(batch.failures)
    if getattr(batch, "stopped_by", None) == "max_calls" and not failed:
        return EXIT_BUDGET
    return EXIT_OK if batch.ok else EXIT_FAILED


def _report_run(run: Any, stream: IO[str]) -> None:
    print(f"gwsnb chained-records: {run.summary()} -> {os.fspath(run.path)}", file=stream)
    if run.load is not None and len(run.load):
        print(f"  load: {run.load.text()}", file=stream)
    if run.failed:
        for handle, error in run._failure_rows(_FAILURES_LISTED):  # pyarrow alone: no pandas for the report
            print(f"  failed handle {handle}: {error}", file=stream)
        if run.failed > _FAILURES_LISTED:
            print(f"  ... and {run.failed - _FAILURES_LISTED} more", file=stream)
    if run.remaining:
        print(f"  not run: {run.remaining} handle(s); run again with --resume to finish", file=stream)
