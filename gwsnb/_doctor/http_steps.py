"""The doctor's REST steps, from the outside in: reach, auth, session, csrf, features, devices, cc-session.

Each step reads the raw exchanges of :class:`~gwsnb._doctor.probe.Probe` and claims a cause only on
evidence; a GWS that merely differs from the sandbox (no features list, no CSRF headers, other cookies)
gets ``ok``, ``warn`` or ``skipped`` (docs/doctor.md#no-false-alarms).
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

from .._wire.rest import env_proxy
from ..protocol import API_PREFIX, CSRF_REJECTION_TEXT, SESSION_COOKIE, START_CONTACT_CENTER_SESSION
from .context import Context, failed, gws_error, passed, skipped, warned
from .probe import Exchange
from .report import Step

__all__ = ["auth", "cc_session", "csrf", "devices", "features", "reach", "session"]

#: back-to-back requests of the session step (the first login included)
SESSION_REQUESTS = 6
#: a median answer slower than this is worth a warning
SLOW_MS = 1000.0
OUTBOUND_FEATURE = "api-voice-outbound"
#: the csrf step's POST: an operation no GWS knows, so that passing CSRF changes nothing [choice]
CSRF_PROBE_BODY = {"operationName": "GwsnbDoctorCsrfProbe"}


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)


# ----- reach -------------------------------------------------------------------------------------


async def reach(ctx: Context) -> Step:
    """DNS, TCP, then TLS and ``GET /diagnostics/version`` without credentials."""
    parts = urlsplit(ctx.options.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    evidence: dict[str, Any] = {}
    if env_proxy(ctx.options.url) is None:
        early = await _reach_socket(ctx, host, port, evidence)
        if early is not None:
            return early
    else:
        evidence["proxy"] = "through the proxy the environment names (DNS and TCP not checked directly)"
    ex = await ctx.probe.request("GET", "/diagnostics/version", auth=False)
    evidence["version"] = ex.evidence()
    if not ex.ok:
        return _reach_failure(ctx, ex, evidence)
    if isinstance(ex.body, dict) and isinstance(ex.status_code, int):
        version = ex.body.get("version")
        ctx.found["version"] = version
        if ex.status_code == 0:
            return passed(ctx, "reach", f"GWS {version or '(no version given)'} answered in {ex.elapsed_ms:g} ms",
                          **evidence)
        return warned(ctx, "reach", f"GWS answered the version request with {gws_error(ex)}", None,
                      fix="look at GWS's own logs: it answers, but not with success", **evidence)
    return _not_gws(ctx, ex, evidence)


async def _reach_socket(ctx: Context, host: str, port: int, evidence: dict[str, Any]) -> Step | None:
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), ctx.options.timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        evidence["dns"] = f"{host}: {type(exc).__name__}: {exc}"
        return failed(ctx, "reach", f"the host name {host!r} does not resolve", "unreachable",
                      fix="check the host name in the URL (and the DNS or hosts file of this machine)", **evidence)
    address = str(infos[0][4][0])
    evidence["dns"] = f"{host} -> {', '.join(sorted({str(i[4][0]) for i in infos}))} in {_ms(start):g} ms"
    start = time.perf_counter()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), ctx.options.timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        what = "no answer" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__
        evidence["tcp"] = f"{address}:{port}: {what} after {_ms(start):g} ms"
        return failed(ctx, "reach", f"nothing accepts connections at {host}:{port} ({what})", "unreachable",
                      also=[("not_gws", "a wrong port in the URL looks the same; the URL of GWS's balancer "
                             "is in its configuration (HTCC external API URL)")], **evidence)
    writer.close()
    evidence["tcp"] = f"connected to {address}:{port} in {_ms(start):g} ms"
    return None


def _reach_failure(ctx: Context, ex: Exchange, evidence: dict[str, Any]) -> Step:
    kind = ex.error_kind
    if kind in ("tls_untrusted", "tls_hostname"):
        what = ("the certificate does not name this host" if kind == "tls_hostname"
                else "the certificate is signed by a CA this machine does not trust")
        return failed(ctx, "reach", f"TLS: {what}", kind, **evidence)
    if kind in ("tls", "cut"):
        return failed(ctx, "reach", "the server closed or broke the connection without an HTTP answer", "not_gws",
                      fix="check the URL's scheme: http:// against a TLS port, or https:// against a plain "
                          "HTTP port, fails this way", **evidence)
    return failed(ctx, "reach", f"GET /diagnostics/version got no answer ({kind})", "unreachable", **evidence)


def _not_gws(ctx: Context, ex: Exchange, evidence: dict[str, Any]) -> Step:
    also: list[tuple[str, str]] = []
    fix = None
    path = urlsplit(ctx.options.url).path.rstrip("/")
    if not path.endswith(API_PREFIX):
        fix = f"the base URL must end in {API_PREFIX} (this one ends in {path or '/'!r})"
    if ex.status in (502, 503, 504):
        also.append(("unreachable", f"HTTP {ex.status} comes from a proxy or gateway whose GWS is down; "
                                    "its Server/Via headers name it"))
    kind = ex.header("Content-Type") or "no Content-Type"
    return failed(ctx, "reach", f"the version endpoint answered HTTP {ex.status} with {kind}, not GWS's JSON",
                  "not_gws", fix=fix, also=also, **evidence)


# ----- auth and session ----------------------------------------------------------------------------


async def auth(ctx: Context) -> Step:
    """``GET /me`` with Basic credentials."""
    ex = await ctx.probe.request("GET", "/me")
    evidence: dict[str, Any] = {"me": ex.evidence()}
    if ex.ok and ex.status == 200 and ex.status_code == 0:
        user = ex.body.get("user") if isinstance(ex.body, dict) else None
        roles = user.get("roles") if isinstance(user, dict) else None
        ctx.found["roles"] = roles
        return passed(ctx, "auth", f"logged in as {ctx.options.username}" + (f" (roles {', '.join(roles)})"
                                                                           if isinstance(roles, list) else ""),
                      **evidence)
    if ex.ok and (ex.status == 401 or ex.status_code == 20):
        return failed(ctx, "auth", f"GET /me was refused: {gws_error(ex)}", "auth_refused", **evidence)
    if ex.ok and ex.status_code == 8:
        return failed(ctx, "auth", "the user must change the password first (statusCode 8)", "auth_refused",
                      fix="log in once through the agent desktop and change the password", **evidence)
    return failed(ctx, "auth", f"GET /me answered {gws_error(ex)}", None,
                  fix="look at GWS's logs for this request: the credentials were not refused, the request failed",
                  **evidence)


async def session(ctx: Context) -> Step:
    """A few back-to-back ``GET /me`` on one cookie jar keep one JSESSIONID and one CSRF token."""
    probe = ctx.probe
    ids = [probe.session_id]
    tokens = [probe.csrf_token]
    carried: list[bool] = []
    times: list[float] = []
    names: set[str] = set(probe.jar_cookies(probe.base_url + "/"))
    for _ in range(SESSION_REQUESTS - 1):
        before = probe.session_id
        ex = await probe.request("GET", "/me")
        if not ex.ok:
            return failed(ctx, "session", f"a back-to-back GET /me failed: {gws_error(ex)}", None, last=ex.evidence())
        carried.append(before is None or SESSION_COOKIE in ex.cookies_sent)
        times.append(ex.elapsed_ms)
        ids.append(probe.session_id)
        tokens.append(probe.csrf_token)
        names.update(ex.set_cookies)
    distinct = len({i for i in ids if i})
    evidence: dict[str, Any] = {
        "requests": SESSION_REQUESTS,
        "distinct_jsessionids": distinct,
        "distinct_csrf_tokens": len({t for t in tokens if t}),
        "cookies_kept": sorted(names),
        "median_ms": statistics.median(times),
    }
    ctx.found["cookies"] = sorted(names)
    return _session_verdict(ctx, distinct, all(carried), evidence)


def _session_verdict(ctx: Context, distinct: int, carried: bool, evidence: dict[str, Any]) -> Step:
    if distinct > 1 and carried:
        return failed(ctx, "session", f"the JSESSIONID changed between back-to-back requests ({distinct} values "
                      f"over {SESSION_REQUESTS} requests that each sent the previous one back)", "session_not_sticky",
                      also=[("auth_refused", "a server that drops sessions at once would also re-issue them; it "
                             "would then refuse cookie-only requests, which a balancer does not")], **evidence)
    if distinct > 1:
        return failed(ctx, "session", "the JSESSIONID changed because this client did not send it back (the "
                      "cookie's Secure, Path or Domain attributes exclude this URL)", None,
                      fix="use the URL the cookie is set for (https:// when the cookie is Secure)", **evidence)
    if distinct == 0:
        return warned(ctx, "session", "no JSESSIONID cookie was set: the HTTP session may ride on another cookie",
                      None, fix="if later steps fail with 402 or 403, ask how this GWS tracks HTTP sessions",
                      **evidence)
    extra = [n for n in evidence["cookies_kept"] if n != SESSION_COOKIE]
    note = f"; other cookies kept: {', '.join(extra)}" if extra else ""
    if evidence["median_ms"] > SLOW_MS:
        return warned(ctx, "session", f"one JSESSIONID, but a median answer of {evidence['median_ms']:g} ms",
                      "slow_server", **evidence)
    return passed(ctx, "session", f"one JSESSIONID over {SESSION_REQUESTS} back-to-back requests{note}", **evidence)


# ----- csrf, features, devices, cc-session -----------------------------------------------------------


async def csrf(ctx: Context) -> Step:
    """One POST that changes nothing (an unknown operation) must get past the CSRF filter."""
    probe = ctx.probe
    protected = probe.csrf_token is not None
    ex = await probe.request("POST", "/me", body=CSRF_PROBE_BODY)
    evidence: dict[str, Any] = {"post": ex.evidence(),
                                "token_header": probe.csrf_name if protected else "(no X-CSRF-HEADER on any GET)"}
    if not ex.ok:
        return failed(ctx, "csrf", f"the POST failed: {gws_error(ex)}", None, **evidence)
    refused = ex.status == 403 and (CSRF_REJECTION_TEXT.lower() in ex.text.lower() or ex.status_code is None)
    if refused:
        how = (f"the token sent under {probe.csrf_name}" if protected
               else "no token (no GET answer named one)")
        return failed(ctx, "csrf", f"the POST was refused with HTTP 403 ({ex.text[:60]!r}) carrying {how}",
                      "csrf_rejected",
                      also=[("session_not_sticky", "a token read on another node is refused too; the session "
                             "step showed one JSESSIONID, which rules it out here")], **evidence)
    if not protected:
        evidence["answer"] = gws_error(ex)
        return passed(ctx, "csrf", "CSRF protection is off on this node (no X-CSRF-HEADER); a POST passed",
                      **evidence)
    evidence["answer"] = f"{gws_error(ex)} (expected: the operation does not exist)"
    return passed(ctx, "csrf", f"a POST with the token under {probe.csrf_name} passed the CSRF filter", **evidence)


def _feature_ids(body: Any) -> list[str] | None:
    """Feature ids from ``{"uris": [...]}``, ``{"features": [...]}`` or ``{"paths": [...]}`` (ids, objects or URIs)."""
    if not isinstance(body, dict):
        return None
    for key in ("features", "uris", "paths"):
        items = body.get(key)
        if isinstance(items, list):
            ids = []
            for item in items:
                value = item.get("id") or item.get("name") or item.get("path") if isinstance(item, dict) else item
                if isinstance(value, str):
                    ids.append(value.rstrip("/").rsplit("/", 1)[-1])
            return ids
    return None


async def features(ctx: Context) -> Step:
    """``GET /features`` lists ``api-voice-outbound`` (an older GWS may not serve the list: skipped)."""
    ex = await ctx.probe.request("GET", "/features")
    evidence: dict[str, Any] = {"features": ex.evidence()}
    if not ex.ok:
        return failed(ctx, "features", f"GET /features failed: {gws_error(ex)}", None, **evidence)
    ids = _feature_ids(ex.body) if ex.status == 200 else None
    if ids is None:
        if ex.status in (401, 403):
            return warned(ctx, "features", f"this user may not read the features list ({gws_error(ex)})", None,
                          fix="nothing to do unless Outbound requests fail with 404", **evidence)
        return skipped(ctx, "features", f"this GWS does not serve the features list ({gws_error(ex)}); "
                       "older than 8.5.1, or the list is elsewhere", **evidence)
    evidence["listed"] = ids
    if OUTBOUND_FEATURE in ids:
        return passed(ctx, "features", f"{OUTBOUND_FEATURE} is assigned ({len(ids)} features listed)", **evidence)
    return failed(ctx, "features", f"{OUTBOUND_FEATURE} is not among the {len(ids)} features assigned",
                  "feature_missing", **evidence)


async def devices(ctx: Context) -> Step:
    """``GET /me/devices``: the device to be used exists and is Active."""
    ex = await ctx.probe.request("GET", "/me/devices")
    evidence: dict[str, Any] = {"devices_request": ex.evidence()}
    listed = ex.body.get("devices") if isinstance(ex.body, dict) else None
    if not ex.ok or not isinstance(listed, list):
        return failed(ctx, "devices", f"GET /me/devices answered {gws_error(ex)}", None,
                      fix="the user needs the agent role to have devices", **evidence)
    shown = [_device(d) for d in listed if isinstance(d, dict)]
    evidence["devices"] = shown
    if not shown:
        return failed(ctx, "devices", "the user has no device", "no_device", **evidence)
    wanted = ctx.options.device_path
    if wanted is not None:
        chosen = next((d for d in shown if d["path"] == wanted), None)
        if chosen is None:
            return failed(ctx, "devices", f"device_path {wanted!r} is not one of the user's devices", "no_device",
                          fix=f"pass one of {', '.join(d['path'] for d in shown)}", **evidence)
    else:
        chosen = next((d for d in shown if d["deviceState"] == "Active"), shown[0])
    ctx.found["device_path"] = chosen["path"]
    if chosen["deviceState"] != "Active":
        return failed(ctx, "devices", f"the device {chosen['path']} is {chosen['deviceState']}", "device_inactive",
                      **evidence)
    if wanted is None and len(shown) > 1:
        return warned(ctx, "devices", f"{len(shown)} devices and none named; the doctor uses {chosen['path']}",
                      "device_ambiguous", **evidence)
    return passed(ctx, "devices", f"{chosen['path']} is Active", **evidence)


def _device(d: dict[str, Any]) -> dict[str, Any]:
    state = d.get("userState")
    return {"path": f"/devices/{d.get('id')}", "deviceState": d.get("deviceState"),
            "userState": state.get("state") if isinstance(state, dict) else state,
            "phoneNumber": d.get("phoneNumber")}


async def cc_session(ctx: Context) -> Step:
    """``StartContactCenterSession`` (voice) is accepted."""
    ex = await ctx.probe.request("POST", "/me", body={"operationName": START_CONTACT_CENTER_SESSION,
                                                      "channels": ["voice"]})
    evidence: dict[str, Any] = {"start": ex.evidence()}
    if ex.ok and ex.status_code == 0:
        ctx.found["cc_session"] = True
        return passed(ctx, "cc-session", "the contact-center session started (voice)", **evidence)
    if ex.ok and ex.status == 403 and ex.status_code is None:
        return failed(ctx, "cc-session", "StartContactCenterSession was refused by the CSRF filter", "csrf_rejected",
                      **evidence)
    return failed(ctx, "cc-session", f"StartContactCenterSession was refused: {gws_error(ex)}", "cc_session_refused",
                  **evidence)
