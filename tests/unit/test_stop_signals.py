"""``gwsnb sandbox`` stops on SIGINT/SIGTERM however the signal falls (issue 26: it once did not exit
within 30 s of SIGTERM).  The cause was a signal handler calling ``threading.Event.set()``: run while
the main thread held that Event's lock inside ``Event.wait()``, it waited for the lock forever.

The child below waits the way the sandbox command does, with no pause between two looks (``poll_s=0``),
so that the main thread is always somewhere in the waiting code when the signal lands; with the old
``while not event.wait(0)`` loop about half of such children hang.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

CHILD = """
import sys
from gwsnb._cli.signals import StopSignals
with StopSignals() as stop:
    print("ready", flush=True)
    print(stop.wait(poll_s=0), flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_at_any_moment_ends_the_wait(sig: signal.Signals) -> None:
    rng = random.Random(26)
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            # a few ms into the waiting loop, at a moment nobody chose
            time.sleep(rng.random() / 50)
            proc.send_signal(sig)
            out, _ = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0 and out.strip() == str(int(sig))


def test_the_previous_handlers_come_back() -> None:
    from gwsnb._cli.signals import StopSignals

    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop:
        assert signal.getsignal(signal.SIGTERM) == stop._on_signal
        signal.raise_signal(signal.SIGTERM)
        assert stop.wait() == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before
