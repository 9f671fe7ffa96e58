"""``gwsnb.diagnose()``: what is wrong between this machine and a GWS, step by step (docs/doctor.md).

``diagnose(url, username)`` runs a fixed list of checks from the outside in (reach, auth, session, csrf,
features, devices, cc-session, cometd, clock, round-trip), each ``ok``, ``warn``, ``fail`` or ``skipped``
with its evidence, the cause it points at (a stable id) and one fix, and returns a :class:`Diagnosis`:
a checklist in a notebook, ``str()`` for a terminal, ``to_json()`` for a support ticket.  ``gwsnb
doctor`` is the same from a shell.  Passwords, cookie values and CSRF tokens never appear in any form.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._doctor.causes import CAUSES, Cause
from ._doctor.report import Diagnosis, Step

if TYPE_CHECKING:
    import ssl

    from ._doctor.context import Options

__all__ = ["CAUSES", "Cause", "Diagnosis", "Step", "diagnose"]


def checked_arguments(url: str, username: str, *, verify: bool | str = True,
                      notifications_path: str = "/notifications", device_path: str | None = None,
                      campaign_name: str | None = None, application_id: int | None = None,
                      record_handle: int | None = None, quick: bool = False,
                      timeout: float = 10.0) -> tuple[Options, ssl.SSLContext | bool]:
    """Every argument of :func:`diagnose` but the password, checked: the options and the TLS context.
    ``gwsnb doctor`` calls it before it asks for the password, so that a bad URL is refused first.

    :raises gwsnb.errors.InvalidParameterError: a bad argument, naming it.
    """
    from ._doctor.context import Options
    from ._wire.rest import check_base_url, ssl_context
    from .params import check_int, check_timeout

    base = check_base_url(url)
    user = _check_text("username", username)
    assert user is not None
    options = Options(
        url=base, username=user, notifications_path=_check_path(notifications_path),
        device_path=_check_text("device_path", device_path, optional=True),
        campaign_name=_check_text("campaign_name", campaign_name, optional=True),
        application_id=None if application_id is None else check_int("application_id", application_id, 0, 2**31 - 1),
        record_handle=None if record_handle is None else check_int("record_handle", record_handle, 0, 10**18 - 1),
        quick=bool(quick), timeout=check_timeout("timeout", timeout))
    return options, ssl_context(verify)


def _say_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _password(username: str, password: str | None) -> str:
    if password is None:
        password = os.environ.get("GWS_PASSWORD")
    if password is None:
        password = getpass.getpass(f"GWS password for {username}: ")
    if not isinstance(password, str):
        from .errors import InvalidParameterError

        raise InvalidParameterError("password", "<hidden>", "expected a string")
    return password


def _check_text(field: str, value: Any, *, optional: bool = False) -> str | None:
    from .errors import InvalidParameterError

    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError(field, value, "expected a non-empty string")
    return value


def _check_path(value: Any) -> str:
    from .errors import InvalidParameterError

    if not isinstance(value, str) or not value.startswith(("/", "http://", "https://")):
        raise InvalidParameterError("notifications_path", value, "expected a path starting with '/' or a full URL")
    return value


def diagnose(url: str, username: str, password: str | None = None, *, verify: bool | str = True,
             notifications_path: str = "/notifications", device_path: str | None = None,
             campaign_name: str | None = None, application_id: int | None = None,
             record_handle: int | None = None, quick: bool = False, timeout: float = 10.0,
             progress: Callable[[str], None] | bool = True, capture: str | os.PathLike[str] | None = None,
             capture_secrets: bool = False) -> Diagnosis:
    """Check a GWS setup step by step and say what is wrong, with the evidence and one fix.

    :param url: the base URL, ending in ``/api/v2``.
    :param password: if ``None``, taken from ``GWS_PASSWORD``, else asked with :func:`getpass.getpass`.
    :param verify: ``True`` (the system's CAs), ``False`` (no TLS check, warns) or a CA bundle path.
    :param notifications_path: the CometD endpoint, relative to ``url`` or a full URL.
    :param device_path: the device the round trip uses (else the only one, or the first Active one).
    :param campaign_name: with ``application_id`` and ``record_handle``: run one GetChainedRecord.
    :param quick: skip the cometd step's held connect (which waits up to the advised timeout, 30 s).
    :param timeout: seconds each request may take, and how long the round trip waits for its notifications.
    :param progress: where to say what the doctor waits for (stderr by default; ``False``: nowhere).
    :param capture: write the doctor's own HTTP traffic as a HAR file there (redacted unless
        ``capture_secrets``; docs/captures.md), to attach to a ticket beside the diagnosis.
    :raises gwsnb.errors.InvalidParameterError: a bad argument (nothing was sent).
    """
    from ._doctor.context import Context
    from ._doctor.probe import Probe
    from ._doctor.run import run
    from ._wire.loop import LoopThread

    options, context = checked_arguments(
        url, username, verify=verify, notifications_path=notifications_path, device_path=device_path,
        campaign_name=campaign_name, application_id=application_id, record_handle=record_handle, quick=quick,
        timeout=timeout)
    base, user = options.url, options.username
    from ._capture.writer import make_recorder

    recorder = make_recorder(capture, capture_secrets, str(getattr(sys.modules.get("gwsnb"), "__version__", "")))
    say = progress if callable(progress) else (_say_to_stderr if progress else (lambda message: None))
    secret = _password(user, password)
    loop = LoopThread(name="gwsnb-doctor")
    try:
        async def main() -> Diagnosis:
            probe = Probe(base, user, secret, ssl_context=context, timeout=options.timeout)
            probe.recorder = recorder
            return await run(Context(options, probe, say))

        return loop.run(main(), None)
    finally:
        loop.stop()
        if recorder is not None:
            recorder.close()
