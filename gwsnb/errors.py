"""The gwsnb exception tree: every error the client raises is one of these.

::

    GwsError                                 base of everything gwsnb raises
    ├── InvalidParameterError (ValueError)   bad input, raised before anything is sent (.field, .value)
    │   └── DeviceSelectionError             no device_path given and the user has zero or several devices
    ├── CaptureError (ValueError)            a HAR capture cannot be read as GWS traffic (.path, .reason)
    ├── GwsStatusError                       GWS answered a non-zero statusCode (.status_code, .status_message,
    │   │                                    .http_status); :func:`status_error` picks the subclass
    │   ├── MissingParameterError            1  required parameter missing
    │   ├── InvalidStateError                2  parameter not valid for the current state
    │   ├── ForbiddenError                   3  forbidden
    │   ├── InternalServerError              4  internal error
    │   ├── NoPermissionError                5  no permission
    │   ├── NotFoundError                    6  resource not found (e.g. a devicePath not of this user)
    │   ├── PasswordChangeRequiredError      8  password change demanded
    │   ├── InputValidationError             10 input validation error (value out of range)
    │   ├── AlreadyExistsError               18 already exists
    │   ├── AlreadyInUseError                19 already in use
    │   └── NotAuthenticatedError            20 not authenticated (also an AuthenticationError)
    ├── AuthenticationError                  credentials refused (HTTP 401 or statusCode 20)
    ├── CsrfError                            HTTP 403 "Missing or invalid Csrf token" or no cookie store
    ├── TransportError                       network / HTTP / Bayeux failure (connection refused, TLS,
    │   │                                    non-JSON answer, CometD handshake refused, client closed)
    │   └── ServerUnavailableError           a bulk run gave up waiting for an unreachable server
    │                                        (``max_outage``); ``.batch`` holds what was done
    │       └── ServerFailingError           ... its circuit breaker stayed open (most calls failing);
    │                                        ``.failures`` counts them by kind
    ├── ChainedRecordError                   the asynchronous ``Error`` notification (.error_code,
    │   │                                    .error_message)
    │   └── RecordOperationError             ... answering a record operation (.operation, .operation_result)
    ├── OutcomeUnknownError                  a record operation in flight when the server's session was lost
    │                                        (outage, restart): it may or may not have been applied; never resent
    ├── WritesNotAllowedError                a record operation on a client connected without allow_writes
    └── NotificationTimeout (TimeoutError)   ChainedRecordsDataEnd did not arrive within the timeout

Errors raised after the request was sent (``GwsStatusError`` from the POST, ``ChainedRecordError``,
``NotificationTimeout``, ``TransportError`` during the call) carry ``.record_handle`` and ``.result``:
the partial :class:`~gwsnb.results.ChainedRecordResult` holding the events received so far (``None``
when the error happened before the request was sent).

No error message ever contains a password or an ``Authorization`` header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import protocol
from .protocol import STATUS_MESSAGES

if TYPE_CHECKING:
    from .results import ChainedRecordResult

__all__ = [
    "GwsError",
    "InvalidParameterError",
    "DeviceSelectionError",
    "CaptureError",
    "GwsStatusError",
    "MissingParameterError",
    "InvalidStateError",
    "ForbiddenError",
    "InternalServerError",
    "NoPermissionError",
    "NotFoundError",
    "PasswordChangeRequiredError",
    "InputValidationError",
    "AlreadyExistsError",
    "AlreadyInUseError",
    "NotAuthenticatedError",
    "AuthenticationError",
    "CsrfError",
    "TransportError",
    "ServerUnavailableError",
    "ServerFailingError",
    "ChainedRecordError",
    "RecordOperationError",
    "OutcomeUnknownError",
    "WritesNotAllowedError",
    "NotificationTimeout",
    "status_error",
    "describe",
    "describe_error",
]


class GwsError(Exception):
    """Base class of every gwsnb error.

    ``result`` and ``record_handle`` are set on errors raised after a GetChainedRecord request was sent.
    """

    def __init__(self, message: str, *, result: ChainedRecordResult | None = None,
                 record_handle: int | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.record_handle = record_handle

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidParameterError(GwsError, ValueError):
    """A parameter failed validation; nothing was sent.  ``field`` names it, ``value`` is what was given."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"invalid {field}={shown}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class DeviceSelectionError(InvalidParameterError):
    """``device_path`` was not given and the user does not have exactly one device (lists the choices)."""

    def __init__(self, reason: str, choices: list[str]) -> None:
        super().__init__("device_path", None, reason)
        self.choices = choices


class CaptureError(GwsError, ValueError):
    """A HAR capture cannot be read as GWS traffic: the file is missing, not a HAR, cut short, has an
    empty log, or holds no GWS traffic.  ``path`` names the file, ``reason`` says what is wrong (see
    docs/captures.md)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"capture {path}: {reason}")
        self.path = path
        self.reason = reason


class AuthenticationError(GwsError):
    """The server refused the credentials (HTTP 401, or statusCode 20)."""


class CsrfError(GwsError):
    """HTTP 403 ``Missing or invalid Csrf token`` (or cookies not kept) on a POST/PUT/DELETE."""

    def __init__(self, message: str, *, http_status: int | None = 403, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.http_status = http_status


class TransportError(GwsError):
    """The network, HTTP or Bayeux layer failed (refused connection, TLS error, non-JSON answer...).

    ``unreachable`` is ``True`` when the server could not be reached at all (connection refused or
    reset): a bulk run then waits for the server instead of spending the handle's retries.
    ``http_status`` is the HTTP status when the failure was an HTTP error answer, else ``None``;
    ``retry_after`` the seconds its ``Retry-After`` header asked for (HTTP 429 and 503), else ``None``.
    """

    def __init__(self, message: str, *, unreachable: bool = False, http_status: int | None = None,
                 retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.unreachable = unreachable
        self.http_status = http_status
        self.retry_after = retry_after


class ServerUnavailableError(TransportError):
    """A bulk run stopped because the server stayed unreachable longer than its ``max_outage``.

    The run stopped cleanly: the handles not finished are listed as skipped in ``batch`` (a
    :class:`~gwsnb.ChainedRecordBatch`, or the streamed run read back, which can be resumed);
    ``waited_s`` is how long the run waited.
    """

    def __init__(self, message: str, *, waited_s: float = 0.0, batch: Any = None, **kwargs: Any) -> None:
        super().__init__(message, unreachable=True, **kwargs)
        self.waited_s = waited_s
        self.batch = batch


class ServerFailingError(ServerUnavailableError):
    """A bulk run stopped because its circuit breaker stayed open longer than ``max_outage``: the server
    answered, but most calls failed (HTTP 5xx, timeouts, refusals), and no probe call succeeded.

    ``failures`` counts the failures seen by kind (``"timeout"``, ``"http_429"``, ``"http_503"``,
    ``"transport"``, ``"other"``) from the breaker's opening to the stop, the ones that opened it
    included; ``batch`` and ``waited_s`` as for :class:`ServerUnavailableError` (docs/production.md).
    """

    def __init__(self, message: str, *, failures: dict[str, int] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.failures = dict(failures or {})


class GwsStatusError(GwsError):
    """GWS answered with a non-zero ``statusCode``.  See :func:`status_error` for the subclass mapping.

    ``http_status`` is the answer's HTTP status; ``retry_after`` the seconds its ``Retry-After`` header
    asked for (HTTP 429 and 503, docs/production.md), else ``None``.
    """

    status_code_default: int | None = None

    def __init__(self, status_code: int, status_message: str | None = None, *,
                 http_status: int | None = None, body: Any = None, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        label = STATUS_MESSAGES.get(status_code, "unknown status")
        text = f"GWS statusCode {status_code} ({label})"
        if status_message:
            text += f": {status_message}"
        if http_status is not None:
            text += f" [HTTP {http_status}]"
        super().__init__(text, **kwargs)
        self.status_code = status_code
        self.status_message = status_message
        self.http_status = http_status
        self.body = body
        self.retry_after = retry_after


class MissingParameterError(GwsStatusError):
    """statusCode 1: a required parameter is missing."""


class InvalidStateError(GwsStatusError):
    """statusCode 2: a parameter is not valid for the current state (e.g. no contact-center session)."""


class ForbiddenError(GwsStatusError):
    """statusCode 3: forbidden."""


class InternalServerError(GwsStatusError):
    """statusCode 4: internal server error."""


class NoPermissionError(GwsStatusError):
    """statusCode 5: no permission."""


class NotFoundError(GwsStatusError):
    """statusCode 6: resource not found (for example a devicePath that is not one of the user's)."""


class PasswordChangeRequiredError(GwsStatusError):
    """statusCode 8: the server demands a password change."""


class InputValidationError(GwsStatusError):
    """statusCode 10: input validation error (wrong type or value out of range)."""


class AlreadyExistsError(GwsStatusError):
    """statusCode 18: already exists."""


class AlreadyInUseError(GwsStatusError):
    """statusCode 19: already in use."""


class NotAuthenticatedError(GwsStatusError, AuthenticationError):
    """statusCode 20: not authenticated (no session or bad credentials)."""


_BY_CODE: dict[int, type[GwsStatusError]] = {
    protocol.STATUS_MISSING_PARAMETER: MissingParameterError,
    protocol.STATUS_INVALID_STATE: InvalidStateError,
    protocol.STATUS_FORBIDDEN: ForbiddenError,
    protocol.STATUS_INTERNAL_ERROR: InternalServerError,
    protocol.STATUS_NO_PERMISSION: NoPermissionError,
    protocol.STATUS_NOT_FOUND: NotFoundError,
    protocol.STATUS_PASSWORD_CHANGE: PasswordChangeRequiredError,
    protocol.STATUS_INVALID_VALUE: InputValidationError,
    protocol.STATUS_ALREADY_EXISTS: AlreadyExistsError,
    protocol.STATUS_ALREADY_IN_USE: AlreadyInUseError,
    protocol.STATUS_NOT_AUTHENTICATED: NotAuthenticatedError,
}


def status_error(body: Any, *, http_status: int | None = None, **kwargs: Any) -> GwsStatusError:
    """Build the typed error for a GWS response body holding a non-zero ``statusCode``.

    Unknown codes (and codes without a dedicated class, 9, 11-17) give a plain :class:`GwsStatusError`.
    A body without an integer ``statusCode`` gives statusCode ``-1``.
    """
    code: int = -1
    message: str | None = None
    if isinstance(body, dict):
        raw = body.get("statusCode")
        if isinstance(raw, int) and not isinstance(raw, bool):
            code = raw
        elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            code = int(raw)
        msg = body.get("statusMessage")
        message = None if msg is None else str(msg)
    cls = _BY_CODE.get(code, GwsStatusError)
    return cls(code, message, http_status=http_status, body=body, **kwargs)


class ChainedRecordError(GwsError):
    """The server answered the request with an asynchronous ``Error`` notification.

    ``error_code`` and ``error_message`` are copied from the notification (``None`` when absent);
    ``notification`` is its ``data`` dict.
    """

    def __init__(self, error_code: Any, error_message: Any, *, notification: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        handle = kwargs.get("record_handle")
        text = f"GetChainedRecord failed for record handle {handle}: errorCode={error_code!r}"
        if error_message:
            text += f" errorMessage={error_message!r}"
        super().__init__(text, **kwargs)
        self.error_code = error_code
        self.error_message = error_message
        self.notification = notification


class RecordOperationError(ChainedRecordError):
    """The ``Error`` notification answering a record operation (docs/record-operations.md lists the codes).

    ``operation`` is its operationName; ``operation_result`` the :class:`~gwsnb.results.OperationResult`
    holding the events received (``result`` stays ``None``: it is for GetChainedRecord results).
    """

    def __init__(self, operation: str, error_code: Any, error_message: Any, *,
                 notification: dict[str, Any] | None = None, operation_result: Any = None,
                 record_handle: int | None = None) -> None:
        super().__init__(error_code, error_message, notification=notification, record_handle=record_handle)
        target = f"record handle {record_handle}" if record_handle is not None else "the campaign or list"
        text = f"{operation} failed for {target}: errorCode={error_code!r}"
        if error_message:
            text += f" errorMessage={error_message!r}"
        self.args = (text,)
        self.operation = operation
        self.operation_result = operation_result


class OutcomeUnknownError(GwsError):
    """A record operation was acknowledged (HTTP statusCode 0), then the server's CometD session was lost
    (an outage, a restart, a re-login) before its acknowledgement notification came: GWS does not replay
    notifications to a new session, so whether the operation was applied cannot be known from here.

    gwsnb never resends a record operation (a resent CompleteRecord may act twice): check the record
    (``get_chained_record``) and decide.  ``operation`` is the operationName, ``reference_id`` the
    referenceId sent, ``operation_result`` the :class:`~gwsnb.results.OperationResult` with what arrived.
    See docs/engine.md ("Outages").
    """

    def __init__(self, operation: str, *, reference_id: str | None = None, operation_result: Any = None,
                 record_handle: int | None = None) -> None:
        target = f" for record handle {record_handle}" if record_handle is not None else ""
        super().__init__(f"{operation}{target}: the outcome is unknown: the server acknowledged the request, "
                         "then its notification session was lost (outage or restart) before the "
                         "acknowledgement notification came; it may or may not have been applied and gwsnb "
                         "does not resend it: check the record", record_handle=record_handle)
        self.operation = operation
        self.reference_id = reference_id
        self.operation_result = operation_result


class WritesNotAllowedError(GwsError):
    """A record operation (it changes OCS data or the agent's state) on a read-only client; nothing was sent.

    Connect with ``allow_writes=True`` (or set ``GWS_ALLOW_WRITES=1``) to allow them.
    """

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation} changes the calling list or the agent's state and this client is "
                         "read-only: connect with allow_writes=True (or set GWS_ALLOW_WRITES=1) to allow it; "
                         "nothing was sent")
        self.operation = operation


class NotificationTimeout(GwsError, TimeoutError):
    """ChainedRecordsDataEnd did not arrive in time; ``.result`` holds what did arrive."""


def describe(error: BaseException) -> str:
    """``"TypeName: message"`` (just the type name when the message is empty): the one short form used in
    logs, frames' ``error`` column and batch listings."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def describe_error(error: BaseException) -> str:
    """One line for a person: the statusCode or errorCode and the server's message, the partial record
    count of a timeout, else :func:`describe`."""
    if isinstance(error, GwsStatusError):
        text = f"statusCode {error.status_code}"
        if error.status_message:
            text += f": {error.status_message}"
        return f"{text} ({type(error).__name__})"
    if isinstance(error, ChainedRecordError):
        text = f"Error notification, errorCode {error.error_code!r}"
        if error.error_message:
            text += f": {error.error_message}"
        return text
    if isinstance(error, InvalidParameterError):
        return str(error)
    if isinstance(error, NotificationTimeout):
        got = len(error.result.records) if error.result is not None else 0
        return f"{error} (partial result: {got} record(s))"
    return describe(error)
