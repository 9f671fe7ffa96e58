"""gwsnb: Genesys Web Services (GWS) v2 Outbound GetChainedRecord from Jupyter notebooks.

The public API is what ``__all__`` lists; modules whose names start with ``_`` are private.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .batch import ChainedRecordBatch, HandleFailure
from .client import Device, GwsClient, connect
from .errors import (
    AuthenticationError,
    ChainedRecordError,
    CsrfError,
    DeviceSelectionError,
    GwsError,
    GwsStatusError,
    InvalidParameterError,
    NotAuthenticatedError,
    NotFoundError,
    NotificationTimeout,
    TransportError,
)
from .params import ChainedRecordParams, parse_handles
from .results import CallTimings, ChainedRecordResult, Event
from .sandbox import Faults, Sandbox

if TYPE_CHECKING:
    from .widgets import ChainedRecordForm

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AuthenticationError",
    "ChainedRecordBatch",
    "ChainedRecordError",
    "ChainedRecordForm",
    "ChainedRecordParams",
    "CsrfError",
    "Device",
    "DeviceSelectionError",
    "GwsClient",
    "GwsError",
    "GwsStatusError",
    "HandleFailure",
    "InvalidParameterError",
    "NotAuthenticatedError",
    "NotFoundError",
    "NotificationTimeout",
    "TransportError",
    "connect",
    "parse_handles",
    "CallTimings",
    "ChainedRecordResult",
    "Event",
    "Faults",
    "Sandbox",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # ChainedRecordForm is loaded on first use: only gwsnb.widgets imports ipywidgets, and the CLI and
    # scripts should not pay for it.
    if name == "ChainedRecordForm":
        from .widgets import ChainedRecordForm

        return ChainedRecordForm
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
