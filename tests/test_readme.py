"""The README's five-line example works, as printed, against ``gwsnb sandbox`` run as a user would."""

from __future__ import annotations

import contextlib
import io
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Five lines"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_readme_example_runs_against_the_sandbox_command() -> None:
    code = _readme_example()
    assert code.count("\n") <= 5, "the README promises five lines"
    port = _free_port()
    gwsnb_cmd = Path(sys.executable).with_name("gwsnb")
    server = subprocess.Popen([str(gwsnb_cmd), "sandbox", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/api/v2"
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(url + "/me", auth=("agent", "agent"), timeout=2).ok:
                    break
            assert time.monotonic() < deadline, "gwsnb sandbox did not answer"
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            time.sleep(0.1)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code.replace("127.0.0.1:8090", f"127.0.0.1:{port}"), "README.md", "exec"), {})
        printed = out.getvalue()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)

    # the same seed and size as `gwsnb sandbox` defaults: handle 7's chain, from the sandbox's own list
    from gwsnb.sandbox import CallingList

    calling_list = CallingList.generate(chains=1000, seed=1)
    chain = calling_list.chain(7)
    assert chain and len(chain) >= 1
    for row in chain:
        assert row["contact_info"] in printed
    assert "ms until ChainedRecordsDataEnd" in printed
    assert server.returncode == 0
