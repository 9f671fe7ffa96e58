"""Parameters of a GetChainedRecord call and their one validator (shared by the client, the form and the CLI).

Rules (each violation raises :class:`~gwsnb.errors.InvalidParameterError` naming the field and the value,
before anything is sent):

- ``record_handle``: an integer 1..2**31-1 (OCS handles are 32-bit signed).  ``bool`` and floats are
  refused; a string of decimal digits (``"7"``, as typed in a form or a notebook) is accepted and converted.
- ``campaign_name``: a non-empty ``str`` of at most 255 characters, without control characters and not
  only whitespace.  Non-ASCII is allowed (campaign names are configuration object names).
- ``application_id``: an integer 1..2**31-1, same conversions as ``record_handle``.
- ``device_path``: ``None`` (the client picks the user's only device) or ``/devices/<id>`` where ``<id>``
  is 1..128 characters of ``A-Z a-z 0-9 . _ : @ -``.
- ``reference_id``: ``None`` (the client generates a unique one), an ``int`` (not ``bool``, kept as an
  ``int`` in the JSON body) or a non-empty ``str`` of at most 128 characters without control characters.
- ``timeout``: ``None`` (the client's default) or a finite number of seconds > 0.

:func:`parse_handles` turns ``7``, ``"7, 9, 20-30"`` or an iterable of those into a list of handles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import protocol
from .errors import InvalidParameterError

__all__ = ["ChainedRecordParams", "parse_handles", "check_int", "check_timeout", "MAX_HANDLE", "MAX_HANDLES"]

MAX_HANDLE = 2**31 - 1
MAX_HANDLES = 100_000
_DEVICE_PATH = re.compile(r"/devices/([A-Za-z0-9._:@-]{1,128})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DIGITS = re.compile(r"[0-9]+")


def check_int(field: str, value: Any, low: int, high: int, *, digits: bool = False) -> int:
    """The one integer rule: an ``int`` (or ``__index__``) in ``low..high``; ``bool`` and floats refused.

    :param digits: also accept a string of decimal digits (as typed in a form, a notebook or a command line).
    :raises InvalidParameterError: naming ``field`` and ``value``.
    """
    if isinstance(value, bool):
        raise InvalidParameterError(field, value, "expected an integer, got a bool")
    if isinstance(value, str) and digits:
        text = value.strip()
        if not _DIGITS.fullmatch(text):
            raise InvalidParameterError(field, value, "expected an integer (decimal digits)")
        number = int(text)
    elif isinstance(value, float):
        raise InvalidParameterError(field, value, "expected an integer, got a float")
    else:
        try:
            number = value.__index__()
        except (AttributeError, TypeError):
            raise InvalidParameterError(
                field, value, f"expected an integer, got {type(value).__name__}") from None
    if not low <= number <= high:
        raise InvalidParameterError(field, value, f"must be between {low} and {high}")
    return number


def check_timeout(field: str, value: Any) -> float:
    """The one timeout rule: a finite number of seconds > 0 (``bool`` refused), returned as a float.

    :raises InvalidParameterError: naming ``field`` and ``value``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterError(field, value, "expected a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise InvalidParameterError(field, value, "must be a finite number of seconds > 0")
    return float(value)


def _positive_int(field: str, value: Any) -> int:
    return check_int(field, value, 1, MAX_HANDLE, digits=True)


def _text(field: str, value: Any, *, max_len: int) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(field, value, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidParameterError(field, value, "must not be empty")
    if len(value) > max_len:
        raise InvalidParameterError(field, value, f"longer than {max_len} characters")
    if _CONTROL.search(value):
        raise InvalidParameterError(field, value, "contains control characters")
    return value


@dataclass
class ChainedRecordParams:
    """The parameters of one GetChainedRecord request.  Call :meth:`validate` for a checked copy."""

    record_handle: int
    campaign_name: str
    application_id: int
    device_path: str | None = None
    reference_id: str | int | None = None
    timeout: float | None = None

    def validate(self) -> ChainedRecordParams:
        """Check every field and return a normalised copy (digit strings become ints).

        :raises InvalidParameterError: naming the first offending field and its value.
        """
        handle = _positive_int("record_handle", self.record_handle)
        campaign = _text("campaign_name", self.campaign_name, max_len=255)
        application = _positive_int("application_id", self.application_id)
        device = self.device_path
        if device is not None and (not isinstance(device, str) or not _DEVICE_PATH.fullmatch(device)):
            raise InvalidParameterError(
                "device_path", device, "expected '/devices/<id>' with <id> of A-Z a-z 0-9 . _ : @ -")
        ref = self.reference_id
        if ref is not None:
            if isinstance(ref, bool) or not isinstance(ref, (str, int)):
                raise InvalidParameterError("reference_id", ref, "expected a string or an integer")
            if isinstance(ref, str):
                _text("reference_id", ref, max_len=128)
        timeout = None if self.timeout is None else check_timeout("timeout", self.timeout)
        return ChainedRecordParams(handle, campaign, application, device, ref, timeout)

    def request_body(self, reference_id: str | int, device_path: str) -> dict[str, Any]:
        """The JSON body of the POST (see docs/gws-flow.md)."""
        return {
            "operationName": protocol.GET_CHAINED_RECORD,
            "campaignName": self.campaign_name,
            "applicationId": self.application_id,
            "devicePath": device_path,
            "referenceId": reference_id,
        }


_TOKEN = re.compile(r"\s*([^,\s-]+)\s*-\s*([^,\s-]+)\s*|\s*([^,\s]+)\s*")
_HANDLES_FIELD = "record_handles"


class _HandleSet:
    """Handles in first-seen order, bounded by ``limit``; ``source`` is what the user gave (for errors)."""

    def __init__(self, source: Any, limit: int) -> None:
        self.source = source
        self.limit = limit
        self.handles: dict[int, None] = {}

    def add(self, number: int) -> None:
        self.handles[number] = None
        if len(self.handles) > self.limit:
            raise InvalidParameterError(_HANDLES_FIELD, self.source, f"more than {self.limit} handles")

    def add_range(self, text: str, low: int, high: int) -> None:
        if high < low:
            raise InvalidParameterError(_HANDLES_FIELD, text, "range end is before its start")
        if high - low + 1 + len(self.handles) > self.limit:
            raise InvalidParameterError(_HANDLES_FIELD, text, f"more than {self.limit} handles")
        for number in range(low, high + 1):
            self.add(number)

    def add_text(self, chunk: str) -> None:
        for part in chunk.split(","):
            pos = 0
            while part[pos:].strip():
                match = _TOKEN.match(part, pos)
                if match is None or match.end() == pos:
                    raise InvalidParameterError(_HANDLES_FIELD, part.strip(),
                                                "not a handle or a range like 20-30")
                pos = match.end()
                if match.group(3) is not None:
                    self.add(_handle_token(match.group(3)))
                else:
                    self.add_range(match.group(0).strip(), _handle_token(match.group(1)),
                                   _handle_token(match.group(2)))

    def add_item(self, item: Any) -> None:
        if isinstance(item, str):
            self.add_text(item)
        else:
            self.add(_positive_int(_HANDLES_FIELD, item))


def _handle_token(token: str) -> int:
    if not _DIGITS.fullmatch(token):
        raise InvalidParameterError(_HANDLES_FIELD, token, "not a handle (expected decimal digits)")
    number = int(token)
    if not 1 <= number <= MAX_HANDLE:
        raise InvalidParameterError(_HANDLES_FIELD, token, f"handle must be between 1 and {MAX_HANDLE}")
    return number


def parse_handles(text: Any, *, limit: int = MAX_HANDLES) -> list[int]:
    """Parse record handles: ``7``, ``"7, 9, 20-30"`` (ranges inclusive; commas or spaces separate),
    or an iterable of ints / such strings.  Duplicates are removed, first occurrence kept.  The one handle
    parser of the client, the form and the command line.

    :raises InvalidParameterError: (field ``record_handles``) naming the bad token, for an empty input,
        a reversed range, a handle out of 1..2**31-1 or more than ``limit`` handles.
    """
    found = _HandleSet(text, limit)
    if isinstance(text, bool):
        raise InvalidParameterError(_HANDLES_FIELD, text, "expected handles, got a bool")
    if isinstance(text, (str, int)):
        found.add_item(text)
    elif isinstance(text, Iterable):
        for item in text:
            found.add_item(item)
    else:
        raise InvalidParameterError(_HANDLES_FIELD, text, f"expected handles, got {type(text).__name__}")
    if not found.handles:
        raise InvalidParameterError(_HANDLES_FIELD, text, "no record handle given")
    return list(found.handles)
