"""``make lab``: a sandbox plus JupyterLab on 127.0.0.1 with the notebooks open.

``python -m gwsnb._cli.lab [--port 8888] [--chains 1000] [--no-browser]`` starts an in-process
:class:`~gwsnb.sandbox.Sandbox` with a random password and runs ``jupyter lab`` on the notebooks/
directory with the ``GWS_*`` variables in its environment (the kernels inherit them, so each notebook's
parameter cell picks the sandbox up; the password never appears on a command line or in a notebook).
Ctrl-C stops JupyterLab (and its kernels) and then the sandbox.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from ..sandbox import Sandbox
from .demo_report import notebooks_dir, sandbox_env

_STOP_TIMEOUT_S = 20.0


def lab_command(root: Path, port: int, open_browser: bool) -> list[str]:
    """The ``jupyter lab`` command line: 127.0.0.1 only, token authentication kept on."""
    cmd = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={port}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "01-quickstart.ipynb"]
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # jupyter refuses to start as root otherwise
    return cmd


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gwsnb._cli.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--chains", type=int, default=1000, help="chains in the sandbox's calling list")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    args = parser.parse_args(argv)
    root = notebooks_dir()
    # Ctrl-C and SIGTERM both end in the cleanup below, even when started with SIGINT ignored (a
    # background job of a non-interactive shell inherits that, and Python then installs no handler).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    password = secrets.token_urlsafe(12)
    with Sandbox(chains=args.chains, seed=1, password=password) as sb:
        env = dict(os.environ)
        env.update(sandbox_env(sb, password))
        print(f"gwsnb sandbox: {sb.url} (user {sb.username!r}, campaign {sb.campaign_name!r}, "
              f"application {sb.application_id}); the notebooks pick it up from GWS_* variables", flush=True)
        # A session of its own: the terminal's Ctrl-C reaches only this process, which then stops
        # JupyterLab with SIGTERM (a SIGINT would make it ask for a confirmation).
        process = subprocess.Popen(lab_command(root, args.port, not args.no_browser), env=env, cwd=root,
                                   start_new_session=True)
        try:
            return process.wait()
        except KeyboardInterrupt:
            print("\nstopping JupyterLab and the sandbox…", flush=True)
            return 0
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


if __name__ == "__main__":
    sys.exit(main())
