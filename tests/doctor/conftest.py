"""Fixtures of the doctor tests: sandboxes that play each failure, and the servers for the causes that
live on the client's side (a closed port, a page that is not GWS, a TLS sandbox reached by a name its
certificate does not hold).  Everything runs on 127.0.0.1 (and 127.0.0.2, also loopback) over real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

import gwsnb
from gwsnb.doctor import Diagnosis
from gwsnb.sandbox import Sandbox

PASSWORD = "doctor-Secret-5d1e"
#: the sandboxes' CometD hold: short, so that the held-connect check takes a second
HOLD_MS = 1000


def diagnose(sb: Sandbox, *, round_trip: bool = True, **kw: Any) -> Diagnosis:
    """The doctor against ``sb`` (its own password), with a round trip unless told otherwise."""
    args: dict[str, Any] = {"progress": False, "timeout": 3.0}
    if round_trip:
        args.update(campaign_name=sb.campaign_name, application_id=sb.application_id,
                    record_handle=sb.record_handles[0])
    args.update(kw)
    url = args.pop("url", sb.url)
    return gwsnb.diagnose(url, sb.username, args.pop("password", sb.password), **args)


def sandbox(**kw: Any) -> Sandbox:
    kw.setdefault("cometd_timeout_ms", HOLD_MS)
    return Sandbox(chains=20, seed=3, password=PASSWORD, **kw)


@pytest.fixture(scope="module")
def healthy() -> Iterator[Sandbox]:
    with sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def tls_sandbox() -> Iterator[Sandbox]:
    pytest.importorskip("trustme")
    with sandbox(tls=True) as sb:
        yield sb


class _Server:
    """An asyncio server on its own loop thread (stopped by ``close``)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def close(self, cleanup: Any) -> None:
        self.run(cleanup)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def html_url() -> Iterator[str]:
    """A web server on 127.0.0.1 that answers every path with an HTML page (a proxy's, say): not GWS."""
    async def page(request: web.Request) -> web.Response:
        if request.path.startswith("/gateway/"):  # a gateway whose upstream is down
            return web.Response(status=503, text="<html><body>503 Service Unavailable</body></html>",
                                content_type="text/html", headers={"Server": "nginx", "Via": "1.1 gateway"})
        return web.Response(text="<html><body><h1>Welcome to nginx!</h1></body></html>", content_type="text/html",
                            headers={"Server": "nginx"})

    server = _Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", page)
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    port = server.run(start())
    yield f"http://127.0.0.1:{port}/api/v2"
    server.close(runner.cleanup())


@pytest.fixture(scope="module")
def other_name_url(tls_sandbox: Sandbox) -> Iterator[str]:
    """The TLS sandbox reached as 127.0.0.2 (a plain TCP relay there): its certificate names only 127.0.0.1,
    localhost and the bound host, so the name in this URL is not one it holds."""
    server = _Server()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", tls_sandbox.port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def start() -> asyncio.AbstractServer:
        return await asyncio.start_server(relay, "127.0.0.2", 0)

    try:
        relay_server = server.run(start())
    except OSError as exc:  # pragma: no cover - a host without the 127/8 loopback range
        server.close(asyncio.sleep(0))
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    port = relay_server.sockets[0].getsockname()[1]
    yield f"https://127.0.0.2:{port}/api/v2"

    async def stop() -> None:
        relay_server.close()

    server.close(stop())


def closed_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
