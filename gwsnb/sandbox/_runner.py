"""``Sandbox``: the GWS emulator running on its own event loop in a background thread."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Coroutine, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from .._wire.loop import LoopThread
from ..protocol import API_PREFIX
from ._admin import add_control_routes, add_stats_routes
from ._bayeux import BayeuxServer
from ._calling_list import CallingList
from ._capacity import DEFAULT_LOG_LIMIT, Capacity, check_capacity
from ._dialer import ADVANCE_PATH, advance, advance_route
from ._faults import FAIL_KINDS, Faults
from ._misconfig import MOVED_COMETD_PATH, Misconfig
from ._ocs import OcsEmulator
from ._operations import OperationEngine
from ._rest import ReceivedBody, RestApi, SandboxConfig, build_app
from ._sessions import SessionStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Sandbox"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# The first device id is the one of the documented samples, so sample payloads match the sandbox's.
_SAMPLE_DEVICE_ID = "c259da54-7c22-4a43-9440-77a92facc86b"
_START_TIMEOUT_S = 30.0


class Sandbox:
    """A local Genesys Web Services v2 emulator for GetChainedRecord (REST + CometD long-polling).

    ``with Sandbox(chains=1000, seed=1) as sb:`` starts it on a free port of 127.0.0.1 in a background
    thread; ``sb.url`` is the base URL ending in ``/api/v2``. ``stop()`` then ``start()`` binds the same
    port again and forgets all CometD state (as a server restart would) while HTTP sessions survive
    (as behind a session-replicating cluster); ``expire_http_sessions()`` forgets those too.

    The record operations (preview, complete, update, reject, reschedule, do-not-call, add) change the
    calling list as docs/record-operations.md's state model says: ``calling_list`` is the list as it is now,
    ``held_chains()``, ``do_not_call_list`` and ``dialing_mode`` show the rest of that state, and
    ``received_bodies()`` the POST bodies as they arrived.

    :param chains: how many chains the generated calling list holds (ignored with ``calling_list``).
    :param seed: seed of the generated calling list and of the reorder fault.
    :param calling_list: a CSV path or a DataFrame with OCS column names, instead of generated data.
    :param username: the one configured user.
    :param password: its password (never shown in reprs).
    :param port: TCP port; 0 picks a free one.
    :param host: interface to bind (127.0.0.1 by default).
    :param devices: how many devices the user has.
    :param faults: initial fault switches; change them at run time through ``sb.faults``.
    :param campaign_name: the campaign GetChainedRecord must name.
    :param application_id: the OCS application id GetChainedRecord must name.
    :param http_session_idle_s: an HTTP session no request used for this long expires (30 min).
    :param tls: serve HTTPS with a certificate signed by a throwaway CA made for this sandbox (needs the
        ``trustme`` package: ``pip install 'gwsnb[tls]'``); ``sb.ca_path`` names that CA's PEM file, to pass
        as ``gwsnb.connect(..., verify=sb.ca_path)``.
    :param misconfigure: server-side misconfigurations to play, ``"a,b"`` or a list of names
        (``session_not_sticky``, ``csrf_rejected``, ``cometd_path``...; the list and what each does are in
        docs/doctor.md): what ``gwsnb.diagnose()`` is there to find.
    :param variants: healthy differences from the sandbox a correct GWS may show (``no_features_list``,
        ``no_csrf``, ``balancer_cookie``), on which the doctor must raise no alarm.
    :param capacity: at most this many GetChainedRecord requests are served at once, the others wait in a
        FIFO queue and their notifications come late by the wait (None: unlimited, today's sandbox);
        docs/guides/sandbox.md#capacity-and-pushback.
    :param service_ms: how long each request is served (an asyncio sleep, no CPU), before its notifications.
    :param queue_limit: at most this many requests wait; one more is answered HTTP 503 with ``Retry-After``
        and not queued (None: no limit).
    :param capacity_schedule: the capacity over time, ``"0:32,20:8,40:32"`` or ``[(0, 32), (20, 8), ...]``:
        seconds since the first ``start()`` (``restart_schedule()`` starts it again) -> capacity.
    :param throttle_429: GetChainedRecord requests per second (a token bucket holding one second's worth)
        above which the POST is answered HTTP 429 with ``Retry-After`` (None: no throttle).
    :param retry_after_s: the ``Retry-After`` of the 503 and 429 answers, in seconds.
    :param retry_after_date: send that ``Retry-After`` as an HTTP date (the server's clock plus
        ``retry_after_s``, rounded up to the second) instead of seconds.
    :param request_log_limit: GetChainedRecord requests the request log keeps (the oldest dropped, counted).
    :raises gwsnb.sandbox.CallingListError: for a calling list that cannot be loaded.
    :raises ValueError: for a bad keyword value (named), or an unknown misconfiguration or variant (named).
    """

    def __init__(
        self,
        chains: int = 1000,
        seed: int = 1,
        calling_list: str | os.PathLike[str] | pd.DataFrame | None = None,
        username: str = "agent",
        password: str = "agent",
        port: int = 0,
        host: str = "127.0.0.1",
        devices: int = 1,
        faults: Faults | None = None,
        campaign_name: str = "Campaign1",
        application_id: int = 134,
        *,
        calling_list_name: str = "CallingList1",
        cometd_timeout_ms: int = 30000,
        cometd_max_idle_s: float = 60.0,
        http_session_idle_s: float = 1800.0,
        tls: bool = False,
        misconfigure: str | Iterable[str] | None = None,
        variants: str | Iterable[str] | None = None,
        capacity: int | None = None,
        service_ms: float = 0.0,
        queue_limit: int | None = None,
        capacity_schedule: str | Sequence[tuple[float, int]] | None = None,
        throttle_429: float | None = None,
        retry_after_s: float = 1.0,
        request_log_limit: int = DEFAULT_LOG_LIMIT,
        retry_after_date: bool = False,
    ) -> None:
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer in 0..65535, got {port!r}")
        if not isinstance(devices, int) or isinstance(devices, bool) or devices < 1:
            raise ValueError(f"devices must be a positive integer, got {devices!r}")
        if not isinstance(username, str) or not username or ":" in username:
            raise ValueError(f"username must be a non-empty string without ':', got {username!r}")
        if not isinstance(password, str):
            raise ValueError("password must be a string")
        if not isinstance(application_id, int) or isinstance(application_id, bool) or application_id < 0:
            raise ValueError(f"application_id must be a non-negative integer, got {application_id!r}")
        if not isinstance(campaign_name, str) or not campaign_name:
            raise ValueError(f"campaign_name must be a non-empty string, got {campaign_name!r}")
        self.misconfig = Misconfig.of(misconfigure, variants)
        self._capacity = Capacity(capacity, service_ms, queue_limit, capacity_schedule, throttle_429,
                                  retry_after_s, request_log_limit, retry_after_date)
        self.host = host
        self.username = username
        self.password = password
        self.campaign_name = campaign_name
        self.application_id = application_id
        self.faults = faults if faults is not None else Faults()
        if calling_list is None:
            self._list = CallingList.generate(chains, seed, calling_list_name)
        else:
            source = os.fspath(calling_list) if isinstance(calling_list, (str, os.PathLike)) else calling_list
            self._list = CallingList.load(source, calling_list_name)
        self.calling_list_name: str = self._list.name
        device_ids = [_SAMPLE_DEVICE_ID] + [
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"gwsnb-sandbox/{username}/device/{i}")) for i in range(1, devices)
        ]
        self._config = SandboxConfig(
            username=username,
            device_ids=tuple(device_ids),
            campaign_name=campaign_name,
            application_id=application_id,
        )
        self.device_paths: list[str] = list(self._config.device_paths)
        self.device_path: str = self.device_paths[0]
        self.record_handles: list[int] = list(self._list.sample_handles(5))
        self._sessions = SessionStore({username: password}, max_idle_s=http_session_idle_s,
                                      node_of=self.misconfig.node_of)
        self._bayeux = BayeuxServer(
            self._sessions, self.faults, timeout_ms=cometd_timeout_ms, max_idle_s=cometd_max_idle_s,
            misconfig=self.misconfig,
        )
        self._ocs = OcsEmulator(
            self._list,
            self._bayeux,
            self.faults,
            campaign_name=campaign_name,
            application_id=application_id,
            seed=seed,
            capacity=self._capacity,
        )
        self._operations = OperationEngine(
            self._ocs.records, self._bayeux, self.faults, campaign_name=campaign_name,
            application_id=application_id, record_user_data=self._ocs._record_user_data)
        self._api = RestApi(self._config, self._sessions, self._bayeux, self._ocs, self._operations)
        self._api.on_outage = self._bounce
        #: ``(stopped, started)`` monotonic times of each outage ``Faults.outage_after_ack_s`` caused
        self.outages: list[tuple[float, float]] = []
        self._port = port
        self._tls = _Tls(host) if tls else None
        self._loop: LoopThread | None = None
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._schedule_task: asyncio.Task[None] | None = None
        self._schedule_anchor: float | None = None  # monotonic second 0 of capacity_schedule
        self._fail_timer: asyncio.TimerHandle | None = None
        self._fail_until: float | None = None  # monotonic end of fail_calls_for
        self._lock = threading.Lock()

    # ----- public attributes ---------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name == "faults" and "_ocs" in self.__dict__:
            # Keep the engine's view in step when a whole new Faults object is assigned.
            self._ocs.faults = value
            self._bayeux.faults = value
            if "_operations" in self.__dict__:
                self._operations.faults = value

    @property
    def port(self) -> int:
        """The bound port (the chosen one once started with ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL of the REST API, ending in ``/api/v2``."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._url_host()}:{self._port}{API_PREFIX}"

    @property
    def ca_path(self) -> str | None:
        """With ``tls=True``: the PEM file of the CA that signed the sandbox's certificate (else ``None``)."""
        return self._tls.ca_path if self._tls is not None else None

    @property
    def notifications_url(self) -> str:
        """The CometD endpoint (``/genesys/cometd`` from the host's root under ``misconfigure="cometd_path"``)."""
        if "cometd_path" in self.misconfig:
            return self.url[: -len(API_PREFIX)] + MOVED_COMETD_PATH
        return self.url + "/notifications"

    @property
    def misconfigured(self) -> frozenset[str]:
        """The misconfigurations in force (``misconfigure=``)."""
        return self.misconfig.names

    @property
    def calling_list(self) -> pd.DataFrame:
        """The calling list as it is now, one row per record: ``record_handle``, the OCS columns and custom
        fields (and ``agent_id`` once a personal callback exists), including the changes and the records
        added by the record operations.  Treat it as read-only."""
        return self._run_on_loop(self._ocs.records.frame)

    @property
    def dialing_mode(self) -> str:
        """The campaign's dialing mode ("Preview"); set another ("Predictive") to make StartPreviewSession
        and GetPreviewRecord fail with Error 108."""
        return self._operations.dialing_mode

    @dialing_mode.setter
    def dialing_mode(self, value: str) -> None:
        self._operations.dialing_mode = value

    @property
    def do_not_call_list(self) -> list[dict[str, Any]]:
        """The rows the DoNotCallRecord operations added (``phone``, ``campaign_name``, ``calling_list``,
        ``time_stamp``), oldest first."""
        return [dict(r) for r in self._run_on_loop(lambda: list(self._ocs.records.dnc))]

    def held_chains(self) -> dict[int, str]:
        """chain_id -> the device id holding it (GetPreviewRecord hands a chain to a device)."""
        return dict(self._run_on_loop(lambda: dict(self._ocs.records.holds)))

    def received_bodies(self) -> list[ReceivedBody]:
        """The last POST bodies the REST API received, oldest first (``.method``, ``.path``, ``.text``,
        ``.json``): what a client really sent."""
        return list(self._run_on_loop(lambda: list(self._api.bodies)))

    @property
    def custom_fields(self) -> list[str]:
        return list(self._list.custom_fields)

    @property
    def running(self) -> bool:
        return self._runner is not None

    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self.running else "stopped"
        wrong = f", misconfigure={','.join(sorted(self.misconfig.names))!r}" if self.misconfig.names else ""
        return (
            f"Sandbox({state}, username={self.username!r}, campaign_name={self.campaign_name!r}, "
            f"records={len(self._list.frame)}{wrong})"
        )

    # ----- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Start serving (no-op when running). Returns ``self``.

        :raises OSError: if the port cannot be bound.
        """
        with self._lock:
            if self._runner is not None:
                return self
            self._loop = LoopThread(name=f"gwsnb-sandbox-{id(self):x}")
            try:
                self._call(self._astart())
            except BaseException:
                self._halt_loop()
                raise
            log.info("GWS sandbox listening on %s", self.url)
            return self

    async def _astart(self) -> None:
        self._bayeux.expire_clients()
        self._bayeux.reopen()
        app = build_app(self._api)
        app.router.add_post(ADVANCE_PATH, advance_route(self._sessions, self.advance))
        add_stats_routes(app, self._sessions, self._capacity)
        add_control_routes(app, self._sessions, self)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True, backlog=1024,
                           ssl_context=self._tls.server_context if self._tls is not None else None)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        # The only way to learn the port picked for port=0 is the site's private server.
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        self._runner = runner
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._bayeux.sweeper(min(5.0, max(0.05, self._bayeux.max_idle_s / 4))))
        self._capacity.restart()
        if self._capacity.schedule:
            if self._schedule_anchor is None:
                self._schedule_anchor = time.monotonic()
            self._schedule_task = loop.create_task(self._capacity.run_schedule(self._schedule_anchor))
        if self._fail_until is not None:
            self._fail_timer = loop.call_later(max(0.0, self._fail_until - time.monotonic()), self._end_fail_calls)

    def stop(self) -> None:
        """Stop serving and join the thread (no-op when stopped)."""
        with self._lock:
            if self._runner is None:
                return
            try:
                self._call(self._astop())
            finally:
                self._halt_loop()
            log.info("GWS sandbox stopped")

    async def _astop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._schedule_task is not None:
            self._schedule_task.cancel()
            self._schedule_task = None
        if self._fail_timer is not None:  # re-armed by the next start (fail_calls_for's deadline stands)
            self._fail_timer.cancel()
            self._fail_timer = None
        self._bayeux.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._bayeux.expire_clients()

    def _halt_loop(self) -> None:
        loop, self._loop = self._loop, None
        self._runner = None
        if loop is not None:
            loop.stop(timeout=10.0)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = _START_TIMEOUT_S) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the sandbox is not running")
        return loop.run(coro, timeout)

    def _run_on_loop(self, fn: Any) -> Any:
        """Run a plain function on the loop thread (state belongs to it); direct call when stopped."""
        loop = self._loop
        if loop is None:
            return fn()
        return loop.call(fn, _START_TIMEOUT_S)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- fault actions -------------------------------------------------------------------------

    def _bounce(self, seconds: float) -> None:
        """Stop, wait ``seconds``, start again on the same port, on a thread of its own (called on the loop
        by ``Faults.outage_after_ack_s`` just after an acknowledgement; delivery is already frozen)."""

        def run() -> None:
            time.sleep(0.05)  # the acknowledgement leaves first
            self.stop()
            stopped = time.monotonic()
            time.sleep(seconds)
            self.start()
            self.outages.append((stopped, time.monotonic()))

        threading.Thread(target=run, name="gwsnb-sandbox-outage", daemon=True).start()

    def expire_cometd_clients(self) -> int:
        """Forget every current CometD client: its next connect gets ``402::Unknown client``.

        :returns: how many clients were forgotten.
        """
        return int(self._run_on_loop(self._bayeux.expire_clients))

    def restart_cometd(self) -> None:
        """Forget all CometD state (clients, subscriptions, queues), as a restarted server would."""
        self._run_on_loop(self._bayeux.expire_clients)

    def expire_http_sessions(self) -> int:
        """Invalidate every ``JSESSIONID`` and CSRF token (and the CometD clients riding on them).

        :returns: how many sessions were invalidated.
        """

        def expire() -> int:
            ids = self._sessions.invalidate_all()
            for sid in ids:
                self._bayeux.drop_session(sid)
            return len(ids)

        return int(self._run_on_loop(expire))

    def cometd_client_count(self) -> int:
        """How many CometD clients the sandbox currently knows."""
        return int(self._run_on_loop(self._bayeux.client_count))

    def http_session_count(self) -> int:
        return int(self._run_on_loop(lambda: len(self._sessions)))

    def set_password(self, password: str | None, username: str | None = None) -> None:
        """Change the user's password at run time (``None`` revokes it). Live HTTP sessions keep working;
        the next Basic login (after ``expire_http_sessions()``, say) needs the new password.

        :raises KeyError: an unknown ``username``.
        """
        if password is not None and not isinstance(password, str):
            raise ValueError("password must be a string or None")
        user = self.username if username is None else username
        self._run_on_loop(lambda: self._sessions.set_password(user, password))
        if user == self.username:
            self.password = password if password is not None else ""

    def request_counts(self) -> dict[str, int]:
        """HTTP requests received so far, by ``"METHOD /path"`` (CometD requests included)."""
        return dict(self._run_on_loop(lambda: dict(self._api.requests)))

    def chained_record_requests(self) -> dict[int, int]:
        """GetChainedRecord requests accepted so far, by record handle (the sandbox's side of a run's calls)."""
        return dict(self._run_on_loop(lambda: dict(self._ocs.requested)))

    # ----- capacity (docs/guides/sandbox.md#capacity-and-pushback) ---------------------------------

    @property
    def capacity(self) -> int | None:
        """The capacity in force (None: unlimited)."""
        return self._capacity.capacity

    def set_capacity(self, capacity: int | None) -> None:
        """Change the capacity now, from any thread (a drop lets the requests in service finish, a rise
        starts waiting ones at once).  It stops a running ``capacity_schedule`` (what is set by hand stays;
        ``restart_schedule()`` starts it again).

        :raises ValueError: ``capacity`` is not a positive integer or None.
        """
        check_capacity(capacity)

        def apply() -> None:
            if self._schedule_task is not None:
                self._schedule_task.cancel()
                self._schedule_task = None
            self._capacity.set_capacity(capacity)

        self._run_on_loop(apply)

    def restart_schedule(self) -> None:
        """Start ``capacity_schedule`` again from its second 0, now (e.g. at the start of a measured run).

        :raises RuntimeError: the sandbox has no schedule or is not running.
        """
        if not self._capacity.schedule:
            raise RuntimeError("the sandbox has no capacity_schedule")
        if self._loop is None:
            raise RuntimeError("the sandbox is not running")

        def restart() -> None:
            if self._schedule_task is not None:
                self._schedule_task.cancel()
            self._schedule_anchor = time.monotonic()
            self._schedule_task = asyncio.get_running_loop().create_task(
                self._capacity.run_schedule(self._schedule_anchor))

        self._run_on_loop(restart)

    def stats(self) -> dict[str, Any]:
        """The server's side of the GetChainedRecord requests since the start or ``reset_stats()``:
        ``requests`` (valid ones received), ``processed`` (served), ``in_service`` and ``queued`` now,
        ``max_queued``, ``max_in_service``, ``rejected_503``, ``rejected_429``, ``failed_500``, ``dropped``
        (``fail_calls="timeout"``), the settings in force (``capacity``, ``service_ms``, ``queue_limit``,
        ``throttle_429``, ``retry_after_s``), ``queue_wait_ms`` and ``service_time_ms`` (``count``, ``p50``,
        ``p95``, ``p99``, ``max`` over the request log), ``since`` (epoch s), ``elapsed_s``, the log's
        ``log_size``, ``log_limit``, ``log_dropped``, and ``capacity_changes`` (``t``, ``t_mono``,
        ``capacity`` of each change by the schedule or ``set_capacity``, the last 1,000; not reset).  Remotely: ``GET /sandbox/stats``
        (:func:`gwsnb.sandbox.remote_stats`)."""
        return dict(self._run_on_loop(self._capacity.stats))

    def request_log(self, last: int | None = None) -> list[dict[str, Any]]:
        """One dict per valid GetChainedRecord POST, oldest first (at most ``request_log_limit``; ``last``:
        only the last N): ``t`` (epoch s when received), ``t_mono`` (``time.monotonic()`` then), ``handle``,
        ``http_status``, ``outcome`` (``served``, ``in_service``, ``queued``, ``refused_503``,
        ``refused_429``, ``http500``, ``dropped``, ``lost``, ``cancelled``), ``queue_wait_ms`` (None if
        never served) and ``service_ms`` (None until served)."""
        return list(self._run_on_loop(lambda: self._capacity.request_log(last)))

    def reset_stats(self) -> None:
        """Forget the counters and the request log (requests in service or waiting carry on)."""
        self._run_on_loop(self._capacity.reset_stats)

    def fail_calls_for(self, seconds: float, kind: str = "http500") -> None:
        """Switch ``faults.fail_calls`` to ``kind`` now and back off after ``seconds`` (a timer on the
        sandbox's loop; a later call replaces the earlier one).

        :raises ValueError: ``seconds`` not a finite number > 0, or ``kind`` not ``"http500"``/``"timeout"``.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
            raise ValueError(f"seconds must be a finite number > 0, got {seconds!r}")
        if kind not in FAIL_KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, FAIL_KINDS))}, got {kind!r}")

        def arm() -> None:
            if self._fail_timer is not None:
                self._fail_timer.cancel()
                self._fail_timer = None
            self.faults.fail_calls = kind
            self._fail_until = time.monotonic() + seconds
            if self._loop is not None:
                self._fail_timer = self._loop.loop.call_later(seconds, self._end_fail_calls)

        self._run_on_loop(arm)

    def _end_fail_calls(self) -> None:
        self._fail_timer = None
        self._fail_until = None
        self.faults.fail_calls = None

    def cookies_seen(self) -> dict[str, frozenset[str]]:
        """Names of the cookies the last request of each ``"METHOD /path"`` carried (CometD ones included)."""
        return dict(self._run_on_loop(lambda: dict(self._api.cookies_seen)))

    def advance(self, hours: float = 4, seed: int = 0, *, now: float | None = None) -> dict[str, Any]:
        """Move the campaign forward as a dialer would in ``hours`` hours (docs/campaign-progress.md): a
        share of the dialable chains is dialed through the OCS state model (attempts go up, call results
        follow plausible shares, records are completed, rescheduled, become callbacks or do-not-call), and
        a few records are added.  The same ``seed`` on the same list makes the same changes; the calls'
        times are the ``hours`` before ``now`` (default: the clock).  A sandbox in its own process
        (``gwsnb sandbox``) is advanced with ``POST /sandbox/advance`` (``gwsnb sandbox-advance``).

        :returns: what happened: chains dialed, call results by code, completed, rescheduled, callbacks,
            do-not-call, the added handles.
        :raises ValueError: ``hours`` outside (0, 24] or ``seed`` not an integer.
        """
        return dict(self._run_on_loop(lambda: advance(
            self._ocs.records, self._operations, hours=hours, seed=seed, now=now, agent=self.username,
            campaign_name=self.campaign_name)))

    def inject(self, message: Any) -> int:
        """Queue any JSON value, unchecked, for every CometD client (a dict only for clients that want
        its channel): for testing what a client does with messages it did not ask for.

        :returns: how many clients it was queued for.
        """
        return int(self._run_on_loop(lambda: self._bayeux.broadcast(message)))


class _Tls:
    """A throwaway CA (``trustme``) and the sandbox's certificate for ``host``, ``127.0.0.1`` and ``localhost``.

    The CA's PEM file lives in a temporary directory removed with this object.
    """

    def __init__(self, host: str) -> None:
        try:
            import trustme
        except ImportError:
            raise RuntimeError("Sandbox(tls=True) needs the trustme package: pip install 'gwsnb[tls]'") from None
        import ssl
        import tempfile

        ca = trustme.CA(organization_name="gwsnb sandbox throwaway CA")
        names = list(dict.fromkeys([host, "127.0.0.1", "localhost"]))
        cert = ca.issue_cert(*names)
        self._dir = tempfile.TemporaryDirectory(prefix="gwsnb-sandbox-ca-")
        self.ca_path = os.path.join(self._dir.name, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        self.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.server_context)
