"""Readable labels for the OCS calling-list code columns.

OCS stores ``contact_info_type``, ``record_type``, ``record_status`` and ``call_result`` as integer
codes whose meaning is configuration (the ``cfg_locale`` table), so a site may differ from the defaults.
All labels live in one :class:`CodeLabels` object:

- :data:`DEFAULT` holds the enumerations as OCS configures them by default (``docs/ocs-codes.md``
  lists them with their sources);
- :func:`current` is what :mod:`gwsnb.frames` uses when no ``labels=`` argument is given;
- :func:`set_labels` extends (or, with ``replace=True``, replaces) one field's mapping process-wide,
  :func:`reset_labels` goes back to :data:`DEFAULT`;
- :meth:`CodeLabels.with_labels` builds a new object for one frame call (``records_frame(items,
  labels=...)``) without touching the process-wide setting.

A code with no label is shown as its number written as a string (``"77"``): the label column stays one
Categorical of strings, and the exact code is always in the ``*_code`` column beside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

__all__ = [
    "CODE_FIELDS",
    "CodeLabels",
    "DEFAULT",
    "current",
    "reset_labels",
    "set_labels",
]

CODE_FIELDS: tuple[str, ...] = ("contact_info_type", "record_type", "record_status", "call_result")
"""The calling-list columns that carry codes; each gets a label column and a ``*_code`` column."""

_CONTACT_INFO_TYPE: dict[int, str] = {
    0: "No Contact Type",
    1: "Home Phone",
    2: "Direct Business Phone",
    3: "Business With Ext",
    4: "Mobile",
    5: "Vacation Phone",
    6: "Pager",
    7: "Modem",
    8: "Voice Mail",
    9: "Pin Pager",
    10: "E-Mail Address",
    11: "Instant Messaging",
}

# An ordinary record is 2 General; the rescheduled and callback records (3-6) carry dial_sched_time.
_RECORD_TYPE: dict[int, str] = {
    0: "No Record Type",
    1: "Unknown",
    2: "General",
    3: "Campaign Rescheduled",
    4: "Personal Rescheduled",
    5: "Personal Callback",
    6: "Campaign Callback",
    7: "No Call",
}

_RECORD_STATUS: dict[int, str] = {
    0: "No Record Status",
    1: "Ready",
    2: "Retrieved",
    3: "Updated",
    4: "Stale",
    5: "Cancelled",
    6: "Agent Error",
    7: "Chain Updated",
    8: "Missed Callback",
    9: "Chain Ready",
}

# OCS call result enumeration (GCTI_CALL_RESULT). Source: the "Call Result Types" enumeration table of
# the Outbound Contact reference (docs.genesys.com OU Ref DefinedConstants -> Enumeration Table), seen
# through a secondary transcription; the primary table could not be opened offline.
# To be checked against a live OCS cfg_locale before relying on rarely used codes.
_CALL_RESULT: dict[int, str] = {
    0: "Ok",
    1: "Transferred",
    2: "Conferenced",
    3: "General Error",
    4: "System Error",
    5: "Remote Release",
    6: "Busy",
    7: "No Answer",
    8: "SIT Detected",
    9: "Answering Machine Detected",
    10: "All Trunks Busy",
    11: "SIT Invalid Num",
    12: "SIT VC (Vacant Code)",
    13: "SIT IC (Intercept)",
    14: "SIT Unknown Call State",
    15: "SIT NC (No Circuit)",
    16: "SIT RO (Reorder)",
    17: "Fax Detected",
    18: "Queue Full",
    19: "Cleared",
    20: "Overflowed",
    21: "Abandoned",
    22: "Redirected",
    23: "Forwarded",
    24: "Consult",
    25: "Picked Up",
    26: "Dropped",
    27: "Dropped on No Answer",
    28: "Unknown Call Result",
    29: "Covered",
    30: "Converse-On",
    31: "Bridged",
    32: "Silence",
    33: "Answer",
    34: "NU Tone",
    35: "No Dial Tone",
    36: "No Progress",
    37: "No Ring Back Tone",
    38: "No Established Detected",
    39: "Pager Detected",
    40: "Wrong Party",
    41: "Dial Error",
    42: "Call Drop Error",
    43: "Switch Error",
    44: "No Port Available",
    45: "Transfer Error",
    46: "Stale",
    47: "Agent Callback Error",
    48: "Group Callback Error",
    49: "Deafened",
    50: "Held",
    51: "Do Not Call",
    52: "Cancel Record",
    53: "Wrong Number",
}


def _check_mapping(field: str, mapping: Mapping[int, str]) -> dict[int, str]:
    if field not in CODE_FIELDS:
        raise ValueError(f"labels: unknown code field {field!r}; expected one of {', '.join(CODE_FIELDS)}")
    if not isinstance(mapping, Mapping):
        raise TypeError(f"labels[{field!r}]: expected a mapping of int code to str label, got {type(mapping).__name__}")
    checked: dict[int, str] = {}
    for code, label in mapping.items():
        if isinstance(code, bool) or not isinstance(code, int):
            raise TypeError(f"labels[{field!r}]: code {code!r} is not an int")
        if not isinstance(label, str) or not label:
            raise TypeError(f"labels[{field!r}][{code}]: label {label!r} is not a non-empty str")
        checked[code] = label
    return checked


class CodeLabels(Mapping[str, Mapping[int, str]]):
    """Immutable mapping ``field -> {code: label}`` for the fields in :data:`CODE_FIELDS`.

    Build one from plain dicts (``CodeLabels({"call_result": {33: "Answer"}})``; fields not given have
    no labels) or derive one from another with :meth:`with_labels`.

    :raises ValueError: a field name that is not one of :data:`CODE_FIELDS`.
    :raises TypeError: a code that is not an int or a label that is not a non-empty str.
    """

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Mapping[int, str]] | None = None) -> None:
        given = dict(fields or {})
        self._fields: dict[str, Mapping[int, str]] = {
            name: MappingProxyType(_check_mapping(name, given.get(name, {}))) for name in CODE_FIELDS
        }
        for name in given:
            if name not in CODE_FIELDS:
                _check_mapping(name, given[name])  # raises with the field's name

    def __getitem__(self, field: str) -> Mapping[int, str]:
        return self._fields[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def label(self, field: str, code: int) -> str:
        """The label of ``code`` in ``field``, or the code written as a string when it has none."""
        return self._fields[field].get(code, str(code))

    def with_labels(self, field: str, mapping: Mapping[int, str], *, replace: bool = False) -> CodeLabels:
        """A new object where ``field`` has ``mapping`` added (or, with ``replace=True``, only ``mapping``).

        :raises ValueError: ``field`` is not one of :data:`CODE_FIELDS`.
        :raises TypeError: a code that is not an int or a label that is not a non-empty str.
        """
        checked = _check_mapping(field, mapping)
        merged = checked if replace else {**self._fields[field], **checked}
        return CodeLabels({**self._fields, field: merged})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CodeLabels):
            return NotImplemented
        return {k: dict(v) for k, v in self._fields.items()} == {k: dict(v) for k, v in other._fields.items()}

    def __hash__(self) -> int:
        return hash(tuple((k, tuple(sorted(v.items()))) for k, v in self._fields.items()))

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}: {len(codes)} codes" for name, codes in self._fields.items())
        return f"CodeLabels({sizes})"


DEFAULT = CodeLabels(
    {
        "contact_info_type": _CONTACT_INFO_TYPE,
        "record_type": _RECORD_TYPE,
        "record_status": _RECORD_STATUS,
        "call_result": _CALL_RESULT,
    }
)
"""The commonly configured OCS enumerations; never modified (see :func:`set_labels`)."""

_current: CodeLabels = DEFAULT


def current() -> CodeLabels:
    """The labels the frame builders use when not given ``labels=``."""
    return _current


def set_labels(field: str, mapping: Mapping[int, str], *, replace: bool = False) -> CodeLabels:
    """Extend (or with ``replace=True`` replace) the process-wide labels of ``field``; returns the new set.

    :raises ValueError: ``field`` is not one of :data:`CODE_FIELDS`.
    :raises TypeError: a code that is not an int or a label that is not a non-empty str.
    """
    global _current
    _current = _current.with_labels(field, mapping, replace=replace)
    return _current


def reset_labels() -> None:
    """Go back to :data:`DEFAULT`."""
    global _current
    _current = DEFAULT
