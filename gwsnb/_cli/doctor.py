"""``gwsnb doctor``: :func:`gwsnb.diagnose` from a shell (docs/doctor.md#the-command).

Prints the checklist (or ``--json``) on stdout and what it waits for on stderr.  Exit status 0 when no
step failed, 1 when one did, 2 for bad arguments.  The password comes from ``--password-env VAR`` or is
asked for without echo: never from the command line, where other users and the shell history see it.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import InvalidParameterError
from .args import int_arg, seconds_arg
from .chained_records import _password

__all__ = ["add_doctor"]


def add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``doctor`` subcommand."""
    p = sub.add_parser(
        "doctor",
        help="check a GWS setup step by step and say what is wrong",
        description="Check a GWS setup from the outside in (reach, auth, session, csrf, features, devices, "
                    "cc-session, cometd, clock, round-trip) and name the cause of a failure with one fix. "
                    "Exit status 0 when no step failed, 1 when one did, 2 for bad arguments.",
    )
    p.add_argument("--url", required=True, help="GWS API base, e.g. https://gws.example.com/api/v2")
    p.add_argument("--user", required=True, help="GWS user name")
    p.add_argument("--password-env", metavar="VAR",
                   help="environment variable holding the password (default: ask, without echo)")
    p.add_argument("--device", metavar="PATH", help="device path to check and use, e.g. /devices/<id>")
    p.add_argument("--notifications-path", metavar="P", default="/notifications",
                   help="CometD endpoint, relative to --url or a full URL (default /notifications)")
    trip = p.add_argument_group("round trip (all three, or none)")
    trip.add_argument("--campaign", help="campaign name for one GetChainedRecord")
    trip.add_argument("--application-id", type=int_arg("application_id", 0, 2**31 - 1), help="OCS application id")
    trip.add_argument("--handle", type=int_arg("record_handle", 0, 10**18 - 1), help="a record handle")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--insecure", action="store_true", help="do not check the server's TLS certificate")
    tls.add_argument("--ca-file", metavar="F", help="PEM file of the CA that signed the server's certificate")
    p.add_argument("--quick", action="store_true",
                   help="skip the held CometD connect (which waits up to the advised timeout, 30 s)")
    p.add_argument("--timeout", type=seconds_arg, default=10.0,
                   help="seconds per request, and for the round trip's notifications (default 10)")
    p.add_argument("--json", action="store_true", help='print {"ok", "cause", "clock_offset_ms", "steps"} as JSON')
    p.add_argument("--verbose", action="store_true", help="show the evidence of every step, not only of problems")
    p.add_argument("--capture", metavar="FILE",
                   help="write the doctor's own HTTP traffic as a HAR file (redacted; docs/captures.md)")
    p.set_defaults(func=_run_doctor, parser=p)


def _run_doctor(args: argparse.Namespace) -> int:
    from ..doctor import checked_arguments, diagnose

    trip = [args.campaign, args.application_id, args.handle]
    if any(v is not None for v in trip) and any(v is None for v in trip):
        args.parser.error("--campaign, --application-id and --handle go together (all three or none)")
    verify: bool | str = False if args.insecure else (args.ca_file or True)
    try:
        # every argument checked before the password is asked for (a refused URL asks for nothing)
        checked_arguments(args.url, args.user, verify=verify, notifications_path=args.notifications_path,
                          device_path=args.device, campaign_name=args.campaign, application_id=args.application_id,
                          record_handle=args.handle, quick=args.quick, timeout=args.timeout)
        password = _password(args)
        diagnosis = diagnose(args.url, args.user, password, verify=verify,
                             notifications_path=args.notifications_path, device_path=args.device,
                             campaign_name=args.campaign, application_id=args.application_id,
                             record_handle=args.handle, quick=args.quick, timeout=args.timeout,
                             capture=args.capture)
    except InvalidParameterError as exc:
        print(f"gwsnb doctor: {exc}", file=sys.stderr)
        return 2
    del password
    print(diagnosis.to_json() if args.json else diagnosis.text(verbose=args.verbose), flush=True)
    return 0 if diagnosis.ok else 1
