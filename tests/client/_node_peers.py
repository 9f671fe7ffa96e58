"""The Bayeux servers of ``tests/peers`` (faye, cometd-nodejs-server) run as node subprocesses on 127.0.0.1,
with the small HTTP control endpoints their scripts expose (publish, subscribers, cookies)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

PEERS = Path(__file__).resolve().parents[1] / "peers"


class NodeBayeuxServer:
    """``node <script> <port> [args]`` from ``tests/peers``; stop() and start() keep the port."""

    def __init__(self, script: str, *args: str) -> None:
        self.script = script
        self.args = args
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["node", str(PEERS / self.script), str(self.port), *self.args],
                                     stdout=subprocess.PIPE, text=True, cwd=PEERS)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("READY"), line
        self.port = int(line.split()[1])

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        # wait until the port is really free so that start() can bind it again
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2/notifications"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        r = requests.request(method, f"http://127.0.0.1:{self.port}{path}", json=body, timeout=5)
        r.raise_for_status()
        return r.json()

    def publish(self, *messages: dict[str, Any]) -> None:
        self.control("POST", "/publish", list(messages))

    def subscribers(self) -> int:
        return int(self.control("GET", "/subscribers")["subscribers"])


async def until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
