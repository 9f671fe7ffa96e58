"""REST side of the sandbox (docs/gws-flow.md): auth, cookie, CSRF, ``/me``, devices, version,
contact-center session, the validation of GetChainedRecord, and the routing of the record operations to
:mod:`gwsnb.sandbox._operations` (which checks their bodies).

HTTP statuses ([choice]; clients decide on ``statusCode``): 200 for ``statusCode 0``; 401 for
``statusCode 20``; 403 text ``Missing or invalid Csrf token``; 413 with ``statusCode 10`` for a body over
64 KiB; 400 for every other non-zero ``statusCode`` (1 missing, 6 unknown device, 10 invalid value,
malformed JSON or unknown operationName).  A valid GetChainedRecord the capacity refuses gets 429 (throttle)
or 503 (queue full) with ``Retry-After``, or 500 under ``Faults.fail_calls="http500"``, each with
``statusCode 4`` (docs/choices.md#sandbox-capacity).

``RestApi.bodies`` keeps the last :data:`KEPT_BODIES` POST bodies as received (``ReceivedBody``: method,
path, the text), for tests that check a request's exact shape.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..protocol import (
    API_PREFIX,
    CSRF_HEADER_NAME_HEADER,
    CSRF_REJECTION_TEXT,
    CSRF_TOKEN_HEADER,
    END_CONTACT_CENTER_SESSION,
    GET_CHAINED_RECORD,
    NOTIFICATIONS_PATH,
    OUTBOUND_OPERATIONS,
    SESSION_COOKIE,
    START_CONTACT_CENTER_SESSION,
    STATUS_INTERNAL_ERROR,
    STATUS_INVALID_STATE,
    STATUS_INVALID_VALUE,
    STATUS_MESSAGES,
    STATUS_MISSING_PARAMETER,
    STATUS_NOT_AUTHENTICATED,
    STATUS_NOT_FOUND,
    STATUS_OK,
)
from ._bayeux import BayeuxServer
from ._capacity import DROPPED, retry_after_header
from ._misconfig import MOVED_COMETD_PATH
from ._ocs import ChainedRecordRequest, OcsEmulator
from ._operations import OperationEngine, Refused, parse_request
from ._sessions import HttpSession, SessionStore

__all__ = ["KEPT_BODIES", "MAX_BODY_BYTES", "ReceivedBody", "RestApi", "SandboxConfig", "build_app"]

KEPT_BODIES = 256

MAX_BODY_BYTES = 64 * 1024
GWS_VERSION = "8.5.200.50"
#: the contact center's features (docs/choices.md#sandbox-features-list); GetChainedRecord needs the last
FEATURES = ("api-voice", "api-voice-outbound")
OUTBOUND_FEATURE = "api-voice-outbound"
_HANDLE_RE = re.compile(r"^[0-9]{1,18}$")
_PUBLIC_PATHS = {API_PREFIX + "/diagnostics/version"}
_SESSION_KEY = web.RequestKey("gwsnb_session", HttpSession)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SandboxConfig:
    """Static facts the REST handlers answer with."""

    username: str
    device_ids: tuple[str, ...]
    campaign_name: str
    application_id: int

    @property
    def device_paths(self) -> tuple[str, ...]:
        return tuple(f"/devices/{d}" for d in self.device_ids)


@dataclass(frozen=True)
class ReceivedBody:
    """One POST body as the sandbox received it."""

    method: str
    path: str
    text: str

    @property
    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` for a body that is not JSON)."""
        return json.loads(self.text)


class _ApiError(Exception):
    def __init__(self, status_code: int, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.http_status = http_status


def _status(status_code: int, message: str | None = None, http_status: int = 400) -> web.Response:
    body: dict[str, Any] = {"statusCode": status_code}
    if status_code != STATUS_OK:
        body["statusMessage"] = message or STATUS_MESSAGES.get(status_code, "Error")
    return web.json_response(body, status=200 if status_code == STATUS_OK else http_status)


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class RestApi:
    """The REST handlers over one session store, Bayeux server and OCS emulator."""

    def __init__(self, config: SandboxConfig, sessions: SessionStore, bayeux: BayeuxServer, ocs: OcsEmulator,
                 operations: OperationEngine | None = None) -> None:
        self.config = config
        self.sessions = sessions
        self.bayeux = bayeux
        self.ocs = ocs
        self.operations = operations
        #: the misconfigurations and variants in force (docs/doctor.md)
        self.misconfig = bayeux.misconfig
        #: the last POST bodies received on the REST API (not CometD), oldest first
        self.bodies: deque[ReceivedBody] = deque(maxlen=KEPT_BODIES)
        #: HTTP requests received, by ``"METHOD /path"`` (CometD ones included), for tests to check that
        #: nothing was sent
        self.requests: Counter[str] = Counter()
        #: names of the cookies the last request of each ``"METHOD /path"`` carried (for tests)
        self.cookies_seen: dict[str, frozenset[str]] = {}
        #: takes the server down for the given seconds (set by ``Sandbox``; ``Faults.outage_after_ack_s``)
        self.on_outage: Callable[[float], None] | None = None

    def __repr__(self) -> str:
        return f"RestApi(user={self.config.username!r})"

    # ----- middleware: authentication, cookie, CSRF -----------------------------------------------

    @web.middleware
    async def auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        key = f"{request.method} {path}"
        self.requests[key] += 1
        self.cookies_seen[key] = frozenset(request.cookies)
        if path.startswith(API_PREFIX + NOTIFICATIONS_PATH) or path in _PUBLIC_PATHS or not path.startswith(API_PREFIX):
            return await handler(request)
        session, created = self.sessions.authenticate(request)
        if session is None:
            denied = _status(STATUS_NOT_AUTHENTICATED, "Access denied", http_status=401)
            denied.headers["WWW-Authenticate"] = 'Basic realm="GWS sandbox"'
            return denied
        if request.method in ("POST", "PUT", "DELETE", "PATCH") and not self._csrf_passes(request, session):
            if created:  # a cookie-less client never gets a token: do not keep its session
                self.sessions.invalidate(session.id)
            return web.Response(status=403, text=CSRF_REJECTION_TEXT)
        request[_SESSION_KEY] = session
        if "feature_missing" in self.misconfig and path.startswith(API_PREFIX + "/me/outbound-"):
            # a disabled feature: "the API behaves as if this set of functionality does not exist" [doc: Features]
            resp: web.StreamResponse = _status(STATUS_NOT_FOUND, "Resource not found", http_status=404)
        else:
            resp = await handler(request)
        if created:
            resp.set_cookie(SESSION_COOKIE, session.id, path="/", httponly=True)
        if request.method == "GET" and "no_csrf" not in self.misconfig:
            resp.headers[CSRF_HEADER_NAME_HEADER] = CSRF_TOKEN_HEADER
            resp.headers[CSRF_TOKEN_HEADER] = session.csrf_token
        return resp

    def _csrf_passes(self, request: web.Request, session: HttpSession) -> bool:
        if "csrf_rejected" in self.misconfig:
            return False
        return "no_csrf" in self.misconfig or self.sessions.csrf_ok(request, session)

    # ----- GET -----------------------------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.StreamResponse:
        user = self.config.username
        return web.json_response(
            {
                "statusCode": STATUS_OK,
                "user": {
                    "id": f"sandbox-{user}",
                    "userName": user,
                    "firstName": user.capitalize(),
                    "lastName": "Sandbox",
                    "roles": ["ROLE_AGENT"],
                    "enabled": True,
                    "changePasswordOnFirstLogin": False,
                    "uri": f"{request.scheme}://{request.host}{API_PREFIX}/users/sandbox-{user}",
                    "path": f"/users/sandbox-{user}",
                },
            }
        )

    async def get_devices(self, request: web.Request) -> web.StreamResponse:
        session = request[_SESSION_KEY]
        devices = []
        state = "Inactive" if "device_inactive" in self.misconfig else "Active"
        for i, device_id in enumerate(self._device_ids()):
            number = f"{5550100 + i}"
            devices.append(
                {
                    "id": device_id,
                    "deviceState": state,
                    "userState": {"id": "ready", "displayName": "Ready", "state": "Ready"}
                    if session.contact_center_active
                    else {"id": "logged-out", "displayName": "Logged Out", "state": "LoggedOut"},
                    "phoneNumber": number,
                    "e164Number": f"+1555{number[-4:]}000"[:12],
                    "telephonyNetwork": "Private",
                    "doNotDisturb": "Off",
                    "voiceEnvironmentUri": f"{request.scheme}://{request.host}{API_PREFIX}/voice-environments/sandbox",
                    "capabilities": ["ReadyForCall", "NotReadyForCall", "DoNotDisturbOn", "DoNotDisturbOff"],
                }
            )
        return web.json_response({"statusCode": STATUS_OK, "devices": devices})

    async def stamp_date(self, request: web.Request, response: web.StreamResponse) -> None:
        """The ``Date`` header from the server's clock, which ``clock_offset_ms`` may set apart from ours."""
        if self.bayeux.faults.clock_offset_ms:
            response.headers["Date"] = _http_date(self.bayeux.faults.server_time_ms())

    async def get_version(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"statusCode": STATUS_OK, "version": GWS_VERSION})

    async def get_features(self, request: web.Request) -> web.StreamResponse:
        """URIs of the contact center's features; ``?fields=*`` the descriptions [doc: Features 8.5.1]."""
        names = [f for f in FEATURES if not (f == OUTBOUND_FEATURE and "feature_missing" in self.misconfig)]
        if request.query.get("fields") == "*":
            return web.json_response({"statusCode": STATUS_OK, "features": [
                {"id": f, "displayName": f, "path": f"/features/{f}"} for f in names]})
        base = f"{request.scheme}://{request.host}{API_PREFIX}/features/"
        return web.json_response({"statusCode": STATUS_OK, "uris": [base + f for f in names]})

    def _device_ids(self) -> tuple[str, ...]:
        return () if "no_device" in self.misconfig else self.config.device_ids

    # ----- POST ----------------------------------------------------------------------------------

    async def _read_json(self, request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise _ApiError(
                STATUS_INVALID_VALUE,
                f"request body is {request.content_length} bytes, over the limit of {MAX_BODY_BYTES}",
                413,
            )
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise _ApiError(STATUS_INVALID_VALUE, f"request body over the limit of {MAX_BODY_BYTES} bytes", 413)
        self.bodies.append(ReceivedBody(request.method, request.path, raw.decode("utf-8", "replace")))
        if not raw.strip():
            raise _ApiError(STATUS_MISSING_PARAMETER, "request body is required: a JSON object with operationName")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _ApiError(STATUS_INVALID_VALUE, f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _ApiError(STATUS_INVALID_VALUE, f"request body must be a JSON object, got {_type_name(body)}")
        return body

    @staticmethod
    def _operation(body: dict[str, Any]) -> str:
        if "operationName" not in body:
            raise _ApiError(STATUS_MISSING_PARAMETER, "operationName is required")
        op = body["operationName"]
        if not isinstance(op, str):
            raise _ApiError(STATUS_INVALID_VALUE, f"operationName must be a string, got {_describe(op)}")
        return op

    async def post_me(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await self._read_json(request)
            op = self._operation(body)
            session = request[_SESSION_KEY]
            if op == START_CONTACT_CENTER_SESSION:
                if "channels" not in body:
                    raise _ApiError(STATUS_MISSING_PARAMETER, "channels is required, e.g. [\"voice\"]")
                channels = body["channels"]
                if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
                    raise _ApiError(STATUS_INVALID_VALUE, f"channels must be an array of strings, got {_describe(channels)}")
                if "cc_session_refused" in self.misconfig:
                    raise _ApiError(STATUS_INVALID_STATE, "StartContactCenterSession refused: the user's place has "
                                    "no ACD position for this device (sandbox misconfiguration cc_session_refused)")
                session.contact_center_active = True
                return _status(STATUS_OK)
            if op == END_CONTACT_CENTER_SESSION:
                session.contact_center_active = False
                if self.operations is not None:
                    self.operations.end_session(session.id)
                self.sessions.invalidate(session.id)
                self.bayeux.drop_session(session.id)
                return _status(STATUS_OK)
            raise _ApiError(STATUS_INVALID_VALUE, f"operationName {op!r} is not an operation of /me")
        except _ApiError as err:
            return _status(err.status_code, err.message, err.http_status)

    async def post_outbound_record(self, request: web.Request) -> web.StreamResponse:
        received_ns = time.perf_counter_ns()
        try:
            raw_handle = request.match_info["handle"]
            body = await self._read_json(request)
            if not _HANDLE_RE.match(raw_handle):
                raise _ApiError(
                    STATUS_INVALID_VALUE, f"record handle must be a non-negative integer (at most 18 digits), got {raw_handle!r}"
                )
            handle = int(raw_handle)
            op = self._operation(body)
            if op != GET_CHAINED_RECORD:
                return self._record_operation(request, "record", raw_handle, body, op)
            req = self._chained_record_request(request[_SESSION_KEY], handle, body, received_ns)
        except _ApiError as err:
            return _status(err.status_code, err.message, err.http_status)
        if self._outage_after_ack():  # the server goes down before OCS even starts on it
            self.ocs.capacity.lost(handle)
            return _status(STATUS_OK)
        entry = self.ocs.capacity.admit(handle, self.ocs.faults.fail_calls)
        if entry.http_status != 200:
            return self._refusal(entry.http_status)
        if entry.outcome != DROPPED:
            self.ocs.submit(req, entry)
        return _status(STATUS_OK)

    def _refusal(self, http_status: int) -> web.Response:
        """The 429, 500 or 503 answer of a request the capacity refused (docs/choices.md#sandbox-capacity)."""
        capacity = self.ocs.capacity
        if http_status == 500:
            return _status(STATUS_INTERNAL_ERROR, "Internal server error (sandbox fault fail_calls='http500')", 500)
        if http_status == 429:
            message = f"Too many requests: over {capacity.throttle_429:g} GetChainedRecord requests per second"
        else:
            message = (f"Service unavailable: {len(capacity.waiting)} requests waiting, the queue limit "
                       f"(capacity {capacity.capacity}, queue limit {capacity.queue_limit})")
        response = _status(STATUS_INTERNAL_ERROR, f"{message}; retry after {capacity.retry_after_s:g} s",
                           http_status)
        response.headers["Retry-After"] = retry_after_header(capacity.retry_after_s, capacity.retry_after_date,
                                                             self.ocs.faults.server_time_ms())
        return response

    def _outage_after_ack(self) -> bool:
        """Fire ``Faults.outage_after_ack_s`` (one shot): freeze delivery now, bounce the server."""
        faults = self.ocs.faults
        seconds = faults.outage_after_ack_s
        if seconds <= 0 or self.on_outage is None:
            return False
        faults.outage_after_ack_s = 0.0
        self.bayeux.freeze()
        self.on_outage(seconds)
        return True

    async def post_outbound_records(self, request: web.Request) -> web.StreamResponse:
        return await self._operation_post(request, "records", None)

    async def post_outbound_campaign(self, request: web.Request) -> web.StreamResponse:
        return await self._operation_post(request, "campaign", request.match_info["campaign"])

    async def _operation_post(self, request: web.Request, kind: str, path_arg: str | None) -> web.StreamResponse:
        try:
            body = await self._read_json(request)
            return self._record_operation(request, kind, path_arg, body, self._operation(body))
        except _ApiError as err:
            return _status(err.status_code, err.message, err.http_status)

    def _record_operation(self, request: web.Request, kind: str, path_arg: str | None, body: dict[str, Any],
                          op: str) -> web.StreamResponse:
        """Every outbound operation but GetChainedRecord: checked by the operations module, then applied."""
        if self.operations is None or op not in OUTBOUND_OPERATIONS:
            return _status(STATUS_INVALID_VALUE, f"operationName {op!r} is not a known outbound operation")
        session = request[_SESSION_KEY]
        try:
            req = parse_request(kind, path_arg, body, operation=op, session_id=session.id,
                                login=session.username, device_ids=self.config.device_ids)
        except Refused as err:
            return _status(err.status_code, err.message)
        self._outage_after_ack()  # the operation is applied, its notifications are lost with the server
        self.operations.submit(req)
        return _status(STATUS_OK)

    def _chained_record_request(
        self, session: HttpSession, handle: int, body: dict[str, Any], received_ns: int
    ) -> ChainedRecordRequest:
        for name in ("applicationId", "devicePath", "campaignName"):
            if name not in body or body[name] is None:
                raise _ApiError(STATUS_MISSING_PARAMETER, f"{name} is required")
        app = body["applicationId"]
        if not isinstance(app, int) or isinstance(app, bool):
            raise _ApiError(STATUS_INVALID_VALUE, f"applicationId must be an integer, got {_describe(app)}")
        if app < 0 or app > 2**31 - 1:
            raise _ApiError(STATUS_INVALID_VALUE, f"applicationId must be between 0 and 2147483647, got {app}")
        device_path = body["devicePath"]
        if not isinstance(device_path, str):
            raise _ApiError(STATUS_INVALID_VALUE, f"devicePath must be a string, got {_describe(device_path)}")
        campaign = body["campaignName"]
        if not isinstance(campaign, str):
            raise _ApiError(STATUS_INVALID_VALUE, f"campaignName must be a string, got {_describe(campaign)}")
        if not campaign.strip():
            raise _ApiError(STATUS_INVALID_VALUE, "campaignName must not be empty")
        reference: Any = OcsEmulator.NO_REFERENCE
        if "referenceId" in body:
            reference = body["referenceId"]
            if isinstance(reference, bool) or not isinstance(reference, (str, int, float)):
                raise _ApiError(
                    STATUS_INVALID_VALUE, f"referenceId must be a string or a number, got {_describe(reference)}"
                )
        paths = tuple(f"/devices/{d}" for d in self._device_ids())
        if device_path not in paths:
            raise _ApiError(STATUS_NOT_FOUND, f"devicePath {device_path!r} is not one of this user's devices")
        device_id = self.config.device_ids[paths.index(device_path)]
        return ChainedRecordRequest(
            session_id=session.id,
            handle=handle,
            campaign_name=campaign,
            application_id=app,
            device_path=device_path,
            device_id=device_id,
            reference_id=reference,
            received_ns=received_ns,
        )


def _http_date(epoch_ms: int) -> str:
    return email.utils.formatdate(epoch_ms / 1000, usegmt=True)


def build_app(api: RestApi) -> web.Application:
    """The aiohttp application: REST under ``/api/v2`` and the Bayeux endpoint."""
    # client_max_size above our own limits, so that the handlers answer in the contract's envelope.
    app = web.Application(middlewares=[api.misconfig.balancer, api.auth_middleware], client_max_size=4 * 1024 * 1024)
    p = API_PREFIX
    app.on_response_prepare.append(api.stamp_date)
    app.router.add_get(p + "/me", api.get_me)
    app.router.add_post(p + "/me", api.post_me)
    app.router.add_get(p + "/me/devices", api.get_devices)
    app.router.add_get(p + "/diagnostics/version", api.get_version)
    if "no_features_list" not in api.misconfig:
        app.router.add_get(p + "/features", api.get_features)
    app.router.add_post(p + "/me/outbound-records/{handle}", api.post_outbound_record)
    app.router.add_post(p + "/me/outbound-records", api.post_outbound_records)
    app.router.add_post(p + "/me/outbound-campaigns/{campaign}", api.post_outbound_campaign)
    cometd = MOVED_COMETD_PATH if "cometd_path" in api.misconfig else p + NOTIFICATIONS_PATH
    app.router.add_post(cometd, api.bayeux.handle)
    # CometD clients append the meta channel to the URL (e.g. .../notifications/connect) by default.
    app.router.add_post(cometd + "/{tail:.*}", api.bayeux.handle)
    return app
