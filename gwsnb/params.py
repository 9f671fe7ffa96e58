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

:func:`parse_handles` turns ``7``, ``"7, 9, 20-30"`` or an iterable of those into a sequence of handles
(a compact :class:`~gwsnb.handles.HandleList`).
:class:`OperationParams` validates the record operations (their own rules are listed above it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import protocol
from .errors import InvalidParameterError
from .handles import HandleBuilder, HandleList

__all__ = ["ChainedRecordParams", "OperationParams", "parse_handles", "check_int", "check_timeout", "check_call_result",
           "check_timestamp", "check_instant", "expand_folder", "folder_base", "MAX_HANDLE", "MAX_HANDLES", "PHONE_TYPES", "CALLBACK_TYPES", "OPERATIONS"]

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
    """Handles in first-seen order (runs of consecutive ones, :class:`~gwsnb.handles.HandleBuilder`),
    bounded by ``limit``; ``source`` is what the user gave (for errors)."""

    def __init__(self, source: Any, limit: int) -> None:
        self.source = source
        self.limit = limit
        self.handles = HandleBuilder()
        self._compacted = 0  # handles left after the last compaction

    def _check_limit(self, what: Any, *, final: bool = False) -> None:
        # handles given out of order may repeat: their duplicates do not count, so past the limit they
        # are dropped (each time the count doubled since, so that a long tail of repeats costs O(n log n))
        count = self.handles.count
        if count > self.limit and (final or count >= 2 * self._compacted):
            self.handles.compact()
            self._compacted = self.handles.count
            if self.handles.count > self.limit:
                raise InvalidParameterError(_HANDLES_FIELD, what, f"more than {self.limit} handles")

    def build(self) -> HandleList:
        if not self.handles.count:
            raise InvalidParameterError(_HANDLES_FIELD, self.source, "no record handle given")
        self._check_limit(self.source, final=True)
        return self.handles.build()

    def add(self, number: int) -> None:
        self.handles.add(number)
        self._check_limit(self.source)

    def add_range(self, text: str, low: int, high: int) -> None:
        if high < low:
            raise InvalidParameterError(_HANDLES_FIELD, text, "range end is before its start")
        if high - low + 1 > self.limit:
            raise InvalidParameterError(_HANDLES_FIELD, text, f"more than {self.limit} handles")
        self.handles.add_range(low, high)
        self._check_limit(text)

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


def parse_handles(text: Any, *, limit: int = MAX_HANDLES) -> HandleList:
    """Parse record handles: ``7``, ``"7, 9, 20-30"`` (ranges inclusive; commas or spaces separate),
    or an iterable of ints / such strings.  Duplicates are removed, first occurrence kept.  The one handle
    parser of the client, the form and the command line.

    Returns a :class:`~gwsnb.handles.HandleList`: a read-only sequence (``len()``, indexing, slicing,
    iteration, ``in``, equal to a list of the same handles) that holds runs of consecutive handles
    compactly (``"1-1000000"`` costs a few hundred bytes); ``list(...)`` gives a plain list
    (docs/changelog.md).

    :raises InvalidParameterError: (field ``record_handles``) naming the bad token, for an empty input,
        a reversed range, a handle out of 1..2**31-1 or more than ``limit`` handles.
    """
    found = _HandleSet(text, limit)
    if isinstance(text, HandleList) and len(text) <= limit:
        return text  # parsed already
    if isinstance(text, bool):
        raise InvalidParameterError(_HANDLES_FIELD, text, "expected handles, got a bool")
    if isinstance(text, (str, int)):
        found.add_item(text)
    elif isinstance(text, range) and text.step == 1 and text:
        found.add_range(repr(text), _positive_int(_HANDLES_FIELD, text[0]), _positive_int(_HANDLES_FIELD, text[-1]))
    elif isinstance(text, Iterable):
        for item in text:
            found.add_item(item)
    else:
        raise InvalidParameterError(_HANDLES_FIELD, text, f"expected handles, got {type(text).__name__}")
    return found.build()


# --- record operations (docs/record-operations.md) ---------------------------------------------------------
#
# The same rules as above for the common parameters; the operation's own parameters:
#
# - ``calling_list``, ``time_zone``: non-empty text (``_text``) of at most 255 / 64 characters.
# - ``phone_number``: non-empty text of at most 128 characters (OCS contact_info is varchar(128)).
# - ``phone_type``: one of :data:`PHONE_TYPES` (the contact_info_type order 0-11) or its code 0-11.
# - ``callback_type``: ``"Personal"`` or ``"Campaign"``.
# - ``timestamp``: epoch seconds (an integer >= 0) or a timezone-aware :class:`datetime.datetime`.
# - ``daily_from``/``daily_till``: seconds since midnight, 0..86399.
# - ``call_result``: a code with a label in :mod:`gwsnb.labels` (sent as that label without spaces:
#   6 -> "Busy", 7 -> "NoAnswer"), or a string naming such a label ignoring case, spaces, ``-`` and ``_``
#   (sent unchanged).  Codes and labels a site adds with :func:`gwsnb.labels.set_labels` count too.
# - ``chain``: True (the whole chain, ``AllChain``) or False (``RecordOnly``).
# - ``chain_id``: an integer 0..2**63-1; ``other_fields``: a dict of text keys to str/int/float/bool/None.

PHONE_TYPES = ("NoContactType", "HomePhone", "DirectBusinessPhone", "BusinessWithExt", "Mobile", "VacationPhone",
               "Pager", "Modem", "VoiceMail", "PinPager", "EmailAddress", "InstantMessaging")
CALLBACK_TYPES = ("Personal", "Campaign")
_SEPARATORS = re.compile(r"[\s_\-]")


def _squash(text: str) -> str:
    return _SEPARATORS.sub("", text).lower()


def check_call_result(value: Any) -> str:
    """The callResult to send: an integer code becomes its label without spaces, a label is kept as given.

    :raises InvalidParameterError: (field ``call_result``) a code or label :mod:`gwsnb.labels` does not know.
    """
    from . import labels

    table = labels.current()["call_result"]
    if isinstance(value, str) and not value.strip().isdigit():
        _text("call_result", value, max_len=64)
        if _squash(value) not in {_squash(label) for label in table.values()}:
            raise InvalidParameterError("call_result", value, "not a call result label of gwsnb.labels "
                                        "(e.g. 'Busy', 'NoAnswer', 'Answer'; add a site's own with set_labels)")
        return value
    code = check_int("call_result", value, 0, 2**31 - 1, digits=True)
    if code not in table:
        raise InvalidParameterError("call_result", value, "a call result code without a label in gwsnb.labels")
    return table[code].replace(" ", "")


def check_timestamp(value: Any) -> int:
    """Epoch seconds from an integer >= 0 or an aware datetime (a naive one is refused: its zone is unknown)."""
    from datetime import datetime

    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidParameterError("timestamp", value, "a naive datetime; give one with a tzinfo")
        return int(value.timestamp())
    return check_int("timestamp", value, 0, 2**63 - 1)


def check_instant(field: str, value: Any) -> float:
    """An instant as epoch seconds, from an aware datetime (a pandas Timestamp is one), ISO 8601 text with
    its zone (``2027-01-15T08:00:00Z``) or epoch seconds; a naive datetime is refused (its zone is unknown).

    :raises InvalidParameterError: naming ``field`` and ``value``.
    """
    from datetime import datetime

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidParameterError(field, value, "not ISO 8601 text (2027-01-15T08:00:00Z)") from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidParameterError(field, value, "a naive instant; give its zone (Z, +02:00, a tzinfo)")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidParameterError(field, value, "expected an aware datetime, ISO 8601 text or epoch seconds")
    return float(value)


#: the fields of a folder template: ``{now:...}`` the local time (aware), ``{utc:...}`` the same instant in UTC
FOLDER_FIELDS = ("now", "utc")


def _template_fields(field: str, value: str) -> list[str]:
    import string

    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise InvalidParameterError(field, value, f"not a folder template: {exc}") from None
    names = [name for _text, name, _spec, _conv in parsed if name is not None]
    for _text, name, _spec, conversion in parsed:
        if name is not None and conversion is not None:
            raise InvalidParameterError(field, value, f"no conversion (!{conversion}) in a folder template")
    for name in names:
        if name not in FOLDER_FIELDS:
            raise InvalidParameterError(
                field, value, f"unknown template field {{{name}}}: only {{now:FORMAT}} (local time) and "
                              f"{{utc:FORMAT}} (UTC), e.g. runs/{{now:%Y%m%dT%H%M}}")
    return names


def expand_folder(field: str, value: Any, now: Any = None) -> Any:
    """``value`` (a folder) with its time template filled in: ``runs/{now:%Y%m%dT%H%M}`` names the folder
    by the local time (an aware datetime), ``{utc:...}`` by UTC; ``{{`` and ``}}`` are literal braces.
    A path without a field is returned as it is (a ``PathLike`` too).  ``now``: the instant (an aware
    datetime; default the clock).  See docs/history.md.

    :raises InvalidParameterError: naming ``field``: a field other than ``now``/``utc``, an attribute or
        index on it, or braces that do not pair.
    """
    import os
    from datetime import datetime, timezone

    text = os.fspath(value)
    if "{" not in text and "}" not in text:
        return value
    _template_fields(field, text)
    when = (now if now is not None else datetime.now(timezone.utc)).astimezone()
    try:
        return text.format(now=when, utc=when.astimezone(timezone.utc))
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise InvalidParameterError(field, value, f"not a folder template: {exc}") from None


def folder_base(field: str, value: Any) -> str | None:
    """The folder above a template's first templated path component (``runs`` for
    ``runs/{now:%Y%m%d}/{now:%H%M}``): where its runs are; ``None`` when ``value`` has no field.

    :raises InvalidParameterError: as :func:`expand_folder`.
    """
    import os

    text = os.fspath(value)
    if not _template_fields(field, text):
        return None
    head, parts = [], text.replace(os.sep, "/").split("/")
    for part in parts:
        if "{" in part.replace("{{", "").replace("}}", ""):
            break
        head.append(part.replace("{{", "{").replace("}}", "}"))
    return "/".join(head) or "."


def _choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidParameterError(field, value, f"expected one of {', '.join(choices)}")
    return value


def _phone_type(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return PHONE_TYPES[check_int("phone_type", value, 0, len(PHONE_TYPES) - 1)]
    return _choice("phone_type", value, PHONE_TYPES)


def _other_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameterError("other_fields", value, f"expected a dict, got {type(value).__name__}")
    for key, item in value.items():
        _text("other_fields", key, max_len=255)
        if item is not None and not isinstance(item, (str, int, float, bool)):
            raise InvalidParameterError(f"other_fields[{key!r}]", item, "expected str, int, float, bool or None")
    return dict(value)


#: keyword -> (wire name, checker) for every operation parameter beyond the common ones
_OPERATION_FIELDS: dict[str, tuple[str, Any]] = {
    "calling_list": ("callingList", lambda v: _text("calling_list", v, max_len=255)),
    "phone_number": ("phoneNumber", lambda v: _text("phone_number", v, max_len=128)),
    "phone_type": ("phoneType", _phone_type),
    "time_zone": ("timeZone", lambda v: _text("time_zone", v, max_len=64)),
    "daily_from": ("from", lambda v: check_int("daily_from", v, 0, 86399)),
    "daily_till": ("until", lambda v: check_int("daily_till", v, 0, 86399)),
    "call_result": ("callResult", check_call_result),
    "callback_type": ("callbackType", lambda v: _choice("callback_type", v, CALLBACK_TYPES)),
    "timestamp": ("timestamp", check_timestamp),
    "chain": ("chainAttribute", lambda v: "AllChain" if _bool("chain", v) else "RecordOnly"),
    "chain_id": ("chainId", lambda v: check_int("chain_id", v, 0, 2**63 - 1)),
    "other_fields": ("otherFields", _other_fields),
}

#: operationName -> (path: "record" | "records" | "campaign", required keywords, optional keywords)
OPERATIONS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "StartPreviewSession": ("campaign", (), ()),
    "EndPreviewSession": ("campaign", (), ()),
    "GetPreviewRecord": ("campaign", (), ()),
    "CompleteRecord": ("record", ("calling_list",), ("call_result", "phone_number")),
    "UpdateRecord": ("record", (), ("calling_list", "phone_number", "phone_type", "time_zone", "daily_from",
                                    "daily_till")),
    "RejectRecord": ("record", ("calling_list",), ()),
    "RescheduleRecord": ("record", ("callback_type", "timestamp"), ()),
    "DoNotCallRecord": ("record", ("calling_list",), ("phone_number", "chain")),
    "DoNotCallRecordByPhone": ("records", ("phone_number",), ("calling_list", "chain")),
    "AddRecord": ("records", ("calling_list", "phone_number", "time_zone", "phone_type", "daily_from",
                              "daily_till"), ("chain_id", "other_fields")),
}


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(field, value, "expected True or False")
    return value


@dataclass
class OperationParams:
    """One record operation's parameters (docs/record-operations.md).  Call :meth:`validate` for a checked copy.

    ``operation`` is the operationName (``DoNotCallRecordByPhone`` names DoNotCallRecord without a handle);
    ``fields`` holds the operation's own keyword arguments (``calling_list=...``; ``None`` means not given).
    """

    operation: str
    campaign_name: str
    application_id: int
    record_handle: int | None = None
    device_path: str | None = None
    reference_id: str | int | None = None
    timeout: float | None = None
    fields: dict[str, Any] | None = None

    def validate(self) -> OperationParams:
        """Check every parameter and return a copy whose ``fields`` hold wire names and normalised values.

        :raises InvalidParameterError: naming the first offending field and its value.
        """
        if self.operation not in OPERATIONS:
            raise InvalidParameterError("operation", self.operation, f"expected one of {', '.join(OPERATIONS)}")
        path, required, optional = OPERATIONS[self.operation]
        handle: Any = self.record_handle if path == "record" else 1
        common = ChainedRecordParams(handle, self.campaign_name, self.application_id, self.device_path,
                                     self.reference_id, self.timeout).validate()
        given = {k: v for k, v in (self.fields or {}).items() if v is not None}
        unknown = sorted(set(given) - set(required) - set(optional))
        if unknown:
            raise InvalidParameterError(unknown[0], given[unknown[0]], f"not a parameter of {self.operation_name}")
        wire: dict[str, Any] = {}
        for key in (*required, *optional):
            if key not in given:
                if key in required:
                    by_phone = " by phone number (no handle)" if self.operation == "DoNotCallRecordByPhone" else ""
                    raise InvalidParameterError(key, None, f"required by {self.operation_name}{by_phone}")
                continue
            name, check = _OPERATION_FIELDS[key]
            wire[name] = check(given[key])
        return OperationParams(self.operation, common.campaign_name, common.application_id,
                               common.record_handle if path == "record" else None, common.device_path,
                               common.reference_id, common.timeout, wire)

    @property
    def operation_name(self) -> str:
        """The ``operationName`` sent."""
        return "DoNotCallRecord" if self.operation == "DoNotCallRecordByPhone" else self.operation

    @property
    def path(self) -> str:
        """The path under the API base (``/me/outbound-records/7``, ``/me/outbound-campaigns/<quoted name>``)."""
        from urllib.parse import quote

        kind = OPERATIONS[self.operation][0]
        if kind == "record":
            return f"/me/outbound-records/{self.record_handle}"
        if kind == "records":
            return "/me/outbound-records"
        return "/me/outbound-campaigns/" + quote(self.campaign_name, safe="")

    def request_body(self, reference_id: str | int, device_path: str) -> dict[str, Any]:
        """The JSON body of the POST (docs/record-operations.md): campaign operations carry the campaign
        in the path only."""
        body: dict[str, Any] = {"operationName": self.operation_name}
        if OPERATIONS[self.operation][0] != "campaign":
            body["campaignName"] = self.campaign_name
        body.update({"applicationId": self.application_id, "devicePath": device_path,
                     "referenceId": reference_id})
        body.update(self.fields or {})
        return body
