"""The warning ``gwsnb sandbox`` prints when it listens beyond this machine.

The sandbox serves one account whose default password is the well-known ``agent``. On 127.0.0.1 only this
machine can reach it; on ``0.0.0.0``, ``::`` or a LAN address anyone on the network can log in. The data
are fake, but a user should know that, and should choose a password (``--password``). See
docs/guides/sandbox.md.
"""

from __future__ import annotations

import ipaddress

__all__ = ["DEFAULT_PASSWORD", "exposure_warning", "is_loopback"]

#: the password ``gwsnb sandbox`` serves when none is given; it is printed in every example
DEFAULT_PASSWORD = "agent"


def is_loopback(host: str) -> bool:
    """Whether a sandbox bound to ``host`` is reachable from this machine only.

    Loopback is ``localhost``, 127.0.0.0/8 and ``::1`` (also written as an IPv4-mapped address). Any other
    name counts as reachable from elsewhere: names are not resolved (no DNS query), so the check errs on
    the side of warning. An empty host binds every interface, like ``0.0.0.0``.
    """
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def exposure_warning(host: str, port: int, username: str, password: str,
                     calling_list: str | None = None) -> str | None:
    """The warning for a sandbox bound to ``host``, or ``None`` on a loopback address.

    It names the account served and says what the data are; it encourages ``--password`` while the
    password is the default one, and never contains a chosen password.
    """
    if is_loopback(host):
        return None
    if password == DEFAULT_PASSWORD:
        login = (f"log in as user {username!r} with the default password {DEFAULT_PASSWORD!r}; "
                 "choose another with --password")
    else:
        login = f"try to log in as user {username!r} (its password is the one given with --password)"
    if calling_list is None:
        data = "The data are fake (a generated calling list with fictional 555-01XX numbers)"
    else:
        data = f"Its calling list is loaded from {calling_list}: whoever logs in can read it"
    return (f"gwsnb sandbox: warning: listening on {host or 'every interface'} port {port}, not only on this "
            f"machine: anyone who can reach it can {login}. {data}. "
            "Use --host 127.0.0.1 to keep it on this machine.")
