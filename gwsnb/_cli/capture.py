"""``gwsnb capture show|redact``: HTTP captures (HAR) of GWS traffic from a shell (docs/captures.md).

``show FILE`` prints the sessions, CometD clients, calls, errors and the timeline (``--json``: the same
as JSON); ``redact IN -o OUT`` writes a copy fit for a support ticket; ``diagnose FILE`` prints the doctor's
checklist from the capture's evidence (exit 1 when a step failed, as ``gwsnb doctor``).  Exit status 0, 2 for bad
arguments or a file that cannot be read as a GWS capture (the reason on stderr, never a traceback).
A capture that still holds secrets is said so on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any

from ..errors import CaptureError

__all__ = ["add_capture"]


def add_capture(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``capture`` subcommand group."""
    p = sub.add_parser("capture", help="read, redact HTTP captures (HAR) of GWS traffic",
                       description="Read an HTTP capture (HAR file from Chrome, Edge, Firefox, Playwright, "
                                   "mitmproxy or gwsnb itself) as GWS traffic, or redact it for a ticket.")
    commands = p.add_subparsers(dest="capture_command", metavar="COMMAND")

    show = commands.add_parser("show", help="sessions, CometD clients, calls, errors and the timeline",
                               description="Print what a capture holds: sessions (JSESSIONID hashes), "
                                           "CometD clients, GetChainedRecord calls, errors, the timeline.")
    show.add_argument("file", metavar="FILE", help="the HAR file")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    show.set_defaults(func=_run_show)

    redact = commands.add_parser("redact", help="write a copy without passwords, cookies, CSRF tokens, clientIds",
                                 description="Write a copy of the capture with credentials, cookie values, "
                                             "CSRF tokens and Bayeux clientIds replaced by stable placeholders.")
    redact.add_argument("file", metavar="IN", help="the HAR file")
    redact.add_argument("-o", "--out", required=True, metavar="OUT", help="the redacted copy to write")
    redact.add_argument("--customer-data", action="store_true",
                        help="also mask phone numbers, contact info and the records' custom fields")
    redact.add_argument("--json", action="store_true", help="print the replacements made as JSON")
    redact.set_defaults(func=_run_redact)

    diagnose = commands.add_parser("diagnose", help="the doctor's checklist from the capture's evidence alone",
                                   description="Name what went wrong in a captured GWS session, as `gwsnb doctor` "
                                               "does (its steps, cause ids and fixes), from the file alone; steps "
                                               "the capture cannot show are 'skipped'. Exit status 0 when no step "
                                               "failed, 1 when one did, 2 for a file that cannot be read.")
    diagnose.add_argument("file", metavar="FILE", help="the HAR file")
    diagnose.add_argument("--json", action="store_true",
                          help='print {"ok", "cause", "clock_offset_ms", "steps"} as JSON (as gwsnb doctor --json)')
    diagnose.add_argument("--verbose", action="store_true", help="show the evidence of every step")
    diagnose.set_defaults(func=_run_diagnose)

    p.set_defaults(func=lambda args: _no_command(p))


def _no_command(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _read(path: str) -> Any:
    """The capture, with a secrets warning turned into one line on stderr."""
    from ..capture import CaptureSecretsWarning, read_capture

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CaptureSecretsWarning)
        capture = read_capture(path)
    for warning in caught:
        if issubclass(warning.category, CaptureSecretsWarning):
            print(f"gwsnb capture: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return capture


def _run_show(args: argparse.Namespace) -> int:
    try:
        capture = _read(args.file)
        data = capture.summary()
    except CaptureError as exc:
        print(f"gwsnb capture show: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(data, ensure_ascii=False, indent=1) if args.json else capture.text(), flush=True)
    return 0


def _run_redact(args: argparse.Namespace) -> int:
    try:
        capture = _read(args.file)
        counts = capture.redact(args.out, customer_data=args.customer_data)
    except CaptureError as exc:
        print(f"gwsnb capture redact: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"out": args.out, "replaced": counts}), flush=True)
    else:
        listed = ", ".join(f"{kind} {n}" for kind, n in counts.items()) or "nothing to replace"
        print(f"wrote {args.out} ({listed})", flush=True)
    return 0


def _run_diagnose(args: argparse.Namespace) -> int:
    try:
        diagnosis = _read(args.file).diagnose()
    except CaptureError as exc:
        print(f"gwsnb capture diagnose: {exc}", file=sys.stderr)
        return 2
    print(diagnosis.to_json() if args.json else diagnosis.text(verbose=args.verbose), flush=True)
    return 0 if diagnosis.ok else 1
