"""gwsnb: Genesys Web Services (GWS) v2 Outbound GetChainedRecord from Jupyter notebooks.

The public API is what ``__all__`` lists; modules whose names start with ``_`` are private.  Only the
errors and the parameter validator are imported eagerly: the client (aiohttp, the CometD transport), the
data model, the sandbox (aiohttp.web, pandas) and the form (ipywidgets) load on first use, so a script
that only needs part of gwsnb pays only for that part.
"""

import importlib as _importlib
import logging as _logging
import typing as _typing

from .errors import (
    AlreadyExistsError,
    AlreadyInUseError,
    AuthenticationError,
    CaptureError,
    ChainedRecordError,
    CsrfError,
    DeviceSelectionError,
    ForbiddenError,
    GwsError,
    GwsStatusError,
    InputValidationError,
    InternalServerError,
    InvalidParameterError,
    InvalidStateError,
    MissingParameterError,
    NoPermissionError,
    NotAuthenticatedError,
    NotFoundError,
    NotificationTimeout,
    OutcomeUnknownError,
    PasswordChangeRequiredError,
    RecordOperationError,
    ServerFailingError,
    ServerUnavailableError,
    TransportError,
    WritesNotAllowedError,
)
from .handles import HandleList
from .params import ChainedRecordParams, parse_handles

if _typing.TYPE_CHECKING:
    from .batch import ChainedRecordBatch, HandleFailure
    from .capture import Capture, read_capture
    from .client import Device, GwsClient, connect, connect_async
    from .doctor import Diagnosis, diagnose
    from .history import History, open_history
    from .pace import Pace
    from .plan import Plan
    from .progress import compare_runs
    from .record_form import RecordActionsForm
    from .results import CallTimings, ChainedRecordResult, CoveredHandle, Event, OperationResult
    from .runs import open_run
    from .sandbox import Faults, Sandbox
    from .widgets import ChainedRecordForm

__version__ = "0.1.0"

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

#: public name -> the module that defines it, imported on first access
_LAZY = {
    "CallTimings": ".results",
    "Capture": ".capture",
    "ChainedRecordBatch": ".batch",
    "ChainedRecordForm": ".widgets",
    "ChainedRecordResult": ".results",
    "CoveredHandle": ".results",
    "Device": ".client",
    "Diagnosis": ".doctor",
    "Event": ".results",
    "Faults": ".sandbox",
    "GwsClient": ".client",
    "HandleFailure": ".batch",
    "History": ".history",
    "OperationResult": ".results",
    "Pace": ".pace",
    "Plan": ".plan",
    "RecordActionsForm": ".record_form",
    "compare_runs": ".progress",
    "Sandbox": ".sandbox",
    "connect": ".client",
    "connect_async": ".client",
    "diagnose": ".doctor",
    "open_history": ".history",
    "open_run": ".runs",
    "read_capture": ".capture",
}

__all__ = [
    "AlreadyExistsError",
    "AlreadyInUseError",
    "AuthenticationError",
    "CallTimings",
    "Capture",
    "CaptureError",
    "ChainedRecordBatch",
    "ChainedRecordError",
    "ChainedRecordForm",
    "ChainedRecordParams",
    "ChainedRecordResult",
    "CoveredHandle",
    "CsrfError",
    "Device",
    "DeviceSelectionError",
    "Diagnosis",
    "Event",
    "Faults",
    "ForbiddenError",
    "GwsClient",
    "GwsError",
    "GwsStatusError",
    "HandleFailure",
    "HandleList",
    "History",
    "InputValidationError",
    "InternalServerError",
    "InvalidParameterError",
    "InvalidStateError",
    "MissingParameterError",
    "NoPermissionError",
    "NotAuthenticatedError",
    "NotFoundError",
    "NotificationTimeout",
    "OperationResult",
    "OutcomeUnknownError",
    "Pace",
    "PasswordChangeRequiredError",
    "Plan",
    "RecordActionsForm",
    "RecordOperationError",
    "Sandbox",
    "ServerFailingError",
    "ServerUnavailableError",
    "TransportError",
    "WritesNotAllowedError",
    "__version__",
    "compare_runs",
    "connect",
    "connect_async",
    "diagnose",
    "open_history",
    "open_run",
    "parse_handles",
    "read_capture",
]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
