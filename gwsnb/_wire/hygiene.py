"""Received-message hygiene for the CometD session: what a long-poll answer may hold, and what is kept.

A Bayeux answer is a JSON array of message objects, each with a string ``channel``.  Anything else in the
array (a number, a string, an object without a channel) is *invalid*: it is still logged in the event log
(a non-object wrapped as ``{INVALID_MESSAGE_KEY: value}``, so the log holds dicts only) and counted, but
no protocol decision reads it.  A body that is JSON but not an array is treated as a one-element array.
See docs/cometd.md.
"""

from __future__ import annotations

from typing import Any

from . import jsoncodec

__all__ = ["INVALID_MESSAGE_KEY", "MalformedBody", "is_unknown_client", "parse_body"]

#: an event-log entry for a received array element that was not a JSON object: ``{key: the value}``
INVALID_MESSAGE_KEY = "gwsnb.invalid_message"


class MalformedBody(ValueError):
    """The answer is not JSON at all."""


def parse_body(raw: bytes) -> tuple[list[dict[str, Any]], int]:
    """``(messages, invalid)``: every element as a dict in arrival order (invalid ones wrapped or kept as
    they are), and how many were invalid (not an object with a string ``channel``).

    :raises MalformedBody: the body is not JSON.
    """
    try:
        payload = jsoncodec.loads(raw) if raw else []
    except ValueError:
        raise MalformedBody(f"not JSON ({len(raw)} bytes)") from None
    if not isinstance(payload, list):
        payload = [payload]
    invalid = 0
    messages: list[dict[str, Any]] = []
    for element in payload:
        if isinstance(element, dict):
            if not isinstance(element.get("channel"), str):
                invalid += 1
            messages.append(element)
        else:
            invalid += 1
            messages.append({INVALID_MESSAGE_KEY: element})
    return messages, invalid


def is_valid(message: dict[str, Any]) -> bool:
    return isinstance(message.get("channel"), str)


def is_unknown_client(message: dict[str, Any]) -> bool:
    """``402::Unknown client`` (CometD) or ``401:<id>:Unknown client`` (faye)."""
    error = message.get("error")
    if not isinstance(error, str):
        return False
    return error.startswith(("402", "401")) and "unknown client" in error.lower()
