"""Real HAR captures: headless Debian Chromium (Playwright's ``record_har_path``, content embedded) while a small
agent page (``agent/``) drives the GWS flow against a sandbox with the official CometD JavaScript client.

The page is served on the sandbox's own origin through Playwright's ``context.route`` (the sandbox itself is
unchanged: no CORS, no extra route), so its ``fetch`` and CometD requests are same-origin, carry the
browser's own cookies, and are recorded as a desktop's would be.  All scenarios run concurrently in one
browser: the capture set costs about as long as its slowest scenario (``long_poll_cut``, one cut of 5 s).
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from gwsnb.sandbox import Faults, Sandbox

from ..browser.conftest import CHROMIUM_ARGS

HERE = Path(__file__).resolve().parent
AGENT = HERE / "agent"
COMETD_JS = HERE.parents[1] / "tests" / "peers" / "node_modules" / "cometd"
#: the CometD hold of the sandboxes (short: the healthy capture sees connects end at the advised timeout)
HOLD_MS = 1000
#: the hold under long_poll_cut: longer than the 5 s the "proxy" allows
CUT_HOLD_MS = 8000
PAGE_TIMEOUT_MS = 60_000
#: headers Chrome's default ("sanitized") HAR export leaves out
SENSITIVE_HEADERS = frozenset({"cookie", "set-cookie", "authorization"})


@dataclass(frozen=True)
class Scenario:
    """One capture: the sandbox's misconfiguration (None: healthy) and what the page waits for."""

    name: str
    misconfigure: str | None = None
    hold_ms: int = HOLD_MS
    settle: int = 1
    cut: bool = False
    wait_ms: int = 3000
    unknown_handle: bool = False
    clock_offset_ms: int = 0
    wrong_password: bool = False
    #: CometD's maxNetworkDelay on the page (None: the client's default, 10 s)
    max_network_delay_ms: int | None = None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy", settle=1, wait_ms=6000),
    Scenario("session_not_sticky", "session_not_sticky", wait_ms=2000),
    Scenario("csrf_rejected", "csrf_rejected", wait_ms=2000),
    Scenario("cometd_rerouted", "cometd_rerouted", wait_ms=2000),
    Scenario("long_poll_cut", "long_poll_cut", hold_ms=CUT_HOLD_MS, cut=True, wait_ms=40000),
    # the client gives up (8 + 2 s) before Chromium's silent resends after each cut (5 s) let it see one
    Scenario("long_poll_cut_given_up", "long_poll_cut", hold_ms=CUT_HOLD_MS, cut=True, wait_ms=40000,
             max_network_delay_ms=2000),
    Scenario("subscription_refused", "subscription_refused", wait_ms=2500, settle=2),
    Scenario("notifications_missing", "notifications_missing", wait_ms=4000, settle=2),
    Scenario("ocs_error", unknown_handle=True, wait_ms=6000),
    Scenario("auth_refused", wrong_password=True, wait_ms=1500),
    Scenario("cometd_not_found", "cometd_path", wait_ms=1500),
    # the warnings: the calls still complete
    Scenario("slow_server", "slow_server", wait_ms=6000),
    Scenario("multiple_clients", "multiple_clients", wait_ms=6000),
    Scenario("clock_skew", clock_offset_ms=90_000, wait_ms=6000),
)


@dataclass
class Produced:
    """A capture on disk and what the page and the sandbox saw while it was made."""

    scenario: Scenario
    path: Path
    handles: list[int]
    page_result: dict[str, Any]
    password: str
    seconds: float
    #: the sandbox's calling list by chain (tests/chains.py), to compare the capture's records with
    chains: Any = None


def _content_type(name: str) -> str:
    return "text/html" if name.endswith(".html") else "text/javascript"


async def _serve_agent(route: Any) -> None:
    path = urlsplit(route.request.url).path.removeprefix("/agent/")
    base, name = (COMETD_JS, path.removeprefix("cometd/")) if path.startswith("cometd/") else (AGENT, path)
    target = (base / name).resolve()
    if base.resolve() not in target.parents or not target.is_file():
        await route.fulfill(status=404, body="not found")
        return
    await route.fulfill(status=200, body=target.read_bytes(), content_type=_content_type(name))


async def _produce(browser: Any, scenario: Scenario, out: Path) -> Produced:
    from tests.chains import ChainIndex

    password = "page-" + secrets.token_urlsafe(10)
    started = time.monotonic()
    sb = Sandbox(chains=20, seed=3, password=password, cometd_timeout_ms=scenario.hold_ms,
                 misconfigure=scenario.misconfigure, faults=Faults(clock_offset_ms=scenario.clock_offset_ms))
    await asyncio.to_thread(sb.start)
    try:
        handles = list(sb.record_handles[:3])
        if scenario.unknown_handle:
            handles = [handles[0], int(sb.calling_list["record_handle"].max()) + 1000]
        path = out / f"{scenario.name}.har"
        # a 401 with WWW-Authenticate makes Chromium ask for credentials (a dialog a headless page never
        # answers): the context answers the challenge with the same wrong ones, as a person retyping them
        asked = {"http_credentials": {"username": sb.username, "password": password + "-typo"}} \
            if scenario.wrong_password else {}
        context = await browser.new_context(record_har_path=str(path), record_har_content="embed", **asked)
        origin = f"http://{sb.host}:{sb.port}"
        await context.route(f"{origin}/agent/**", _serve_agent)
        page = await context.new_page()
        typed = password + "-typo" if scenario.wrong_password else password
        query = urlencode({"user": sb.username, "pass": typed, "campaign": sb.campaign_name,
                           "app": sb.application_id, "handles": ",".join(map(str, handles)),
                           "settle": scenario.settle, "cut": int(scenario.cut), "wait": scenario.wait_ms,
                           **({"mnd": scenario.max_network_delay_ms} if scenario.max_network_delay_ms else {})})
        await page.goto(f"{origin}/agent/index.html?{query}")
        await page.wait_for_function("() => window.agentResult !== undefined", timeout=PAGE_TIMEOUT_MS)
        result = await page.evaluate("() => window.agentResult")
        await context.close()  # writes the HAR
        chains = ChainIndex(sb)
    finally:
        await asyncio.to_thread(sb.stop)
    return Produced(scenario, path, handles, result, password, time.monotonic() - started, chains)


async def produce_all(chromium: str, out: Path, scenarios: tuple[Scenario, ...] = SCENARIOS) -> dict[str, Produced]:
    """Every scenario's capture, made concurrently in one headless Chromium."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            made = await asyncio.gather(*(_produce(browser, s, out) for s in scenarios))
        finally:
            await browser.close()
    return {p.scenario.name: p for p in made}


def sanitize_like_chrome(source: Path, target: Path) -> Path:
    """A copy of ``source`` as Chrome's default HAR export writes it (DevTools, "Export HAR (sanitized)"):
    no ``Cookie``, ``Set-Cookie`` or ``Authorization`` header, and so no cookies parsed from them."""
    har = json.loads(source.read_text(encoding="utf-8"))
    clean = copy.deepcopy(har)
    for entry in clean["log"]["entries"]:
        for side in ("request", "response"):
            part = entry[side]
            part["headers"] = [h for h in part.get("headers", []) if h["name"].lower() not in SENSITIVE_HEADERS]
            part["cookies"] = []
    target.write_text(json.dumps(clean), encoding="utf-8")
    return target
