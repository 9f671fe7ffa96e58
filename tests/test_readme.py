"""The front page's code works, as printed, against ``gwsnb sandbox`` run as a user would.

README.md shows two blocks of Python: the five lines (one chain) and a whole calling list (in memory and
streamed). Both run here against one ``gwsnb sandbox`` process; the docs pages that repeat the five lines
(docs/index.md, docs/getting-started.md, docs/guides/one-call.md) must show exactly the README's code.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
PAGES_WITH_THE_FIVE_LINES = ("docs/index.md", "docs/getting-started.md", "docs/guides/one-call.md")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _python_block(path: Path, heading: str | None = None) -> str:
    """The first ```python block of ``path`` (after ``heading`` when given)."""
    text = path.read_text(encoding="utf-8")
    section = text[text.index(heading):] if heading else text
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def _readme_example() -> str:
    return _python_block(ROOT / "README.md", "## Five lines")


def _readme_whole_list() -> str:
    return _python_block(ROOT / "README.md", "## A whole calling list")


@pytest.fixture(scope="module")
def sandbox_port() -> Iterator[int]:
    """``gwsnb sandbox`` with its defaults (1,000 chains, seed 1) on a free port of 127.0.0.1."""
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
        yield port
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)
    assert server.returncode == 0


def _run(code: str, port: int, namespace: dict[str, object]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace("127.0.0.1:8090", f"127.0.0.1:{port}"), "README.md", "exec"), namespace)
    return out.getvalue()


def test_readme_example_runs_against_the_sandbox_command(sandbox_port: int) -> None:
    code = _readme_example()
    assert code.count("\n") <= 5, "the README promises five lines"
    printed = _run(code, sandbox_port, {})

    # the same seed and size as `gwsnb sandbox` defaults: handle 7's chain, from the sandbox's own list
    from gwsnb.sandbox import CallingList

    calling_list = CallingList.generate(chains=1000, seed=1)
    chain = calling_list.chain(7)
    assert chain and len(chain) >= 1
    for row in chain:
        assert row["contact_info"] in printed
    assert "ms until ChainedRecordsDataEnd" in printed


def test_readme_whole_list_runs_against_the_sandbox_command(sandbox_port: int, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from gwsnb.sandbox import CallingList

    monkeypatch.chdir(tmp_path)  # the block writes runs/q3 where it runs
    namespace: dict[str, object] = {}
    _run("import gwsnb\n", sandbox_port, namespace)
    printed = _run(_readme_whole_list(), sandbox_port, namespace)

    calling_list = CallingList.generate(chains=1000, seed=1)
    # each chain once (the default): every record of the chains holding handles 1-500, once each
    records = len({record["record_handle"] for handle in range(1, 501) for record in calling_list.chain(handle)})
    assert printed.strip() == f"{records} records in memory; 500 handles in runs/q3: {records} records"
    assert isinstance(namespace["fig"], Figure)
    assert os.path.isfile(tmp_path / "runs" / "q3" / "_run.json")


@pytest.mark.parametrize("page", PAGES_WITH_THE_FIVE_LINES)
def test_docs_show_the_five_lines_the_readme_runs(page: str) -> None:
    assert _python_block(ROOT / page) == _readme_example()


def test_readme_links_point_at_files_of_the_repository() -> None:
    """The front page is not part of the docs site's strict build, so its relative links are checked here."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {m.group(1) for m in re.finditer(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
               if not re.match(r"[a-z]+:", m.group(1))}
    assert "docs/index.md" in targets and "docs/assets/latency.png" in targets
    missing = sorted(t for t in targets if not (ROOT / t).exists())
    assert missing == []
