"""argparse converters over the one validator of :mod:`gwsnb.params`: the command line applies the same
rules as the client and the form, and reports a violation argparse's way (exit status 2, naming the option)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .._engine.bulk import MAX_STREAMED_HANDLES
from ..errors import InvalidParameterError
from ..handles import HandleList
from ..params import check_int, check_timeout, parse_handles

__all__ = ["at_least", "handles_arg", "int_arg", "seconds_arg"]


def _usage(exc: InvalidParameterError) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"{exc.reason}, got {exc.value!r}")


def int_arg(field: str, low: int, high: int) -> Callable[[str], int]:
    """An integer option in ``low..high``."""
    def convert(text: str) -> int:
        try:
            return check_int(field, text, low, high, digits=True)
        except InvalidParameterError as exc:
            raise _usage(exc) from None

    convert.__name__ = field  # argparse names the converter in "invalid <name> value"
    return convert


def at_least(kind: Callable[[str], float], low: float) -> Callable[[str], float]:
    """A number option (``kind`` is ``int`` or ``float``) of at least ``low``: the sandbox's flags, whose
    ranges the :class:`~gwsnb.sandbox.Sandbox` itself checks again."""
    noun = "an integer" if kind is int else "a number"

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not value >= low:  # NaN too
            raise argparse.ArgumentTypeError(f"must be >= {low:g}, got {text!r}")
        return value

    return convert


def seconds_arg(text: str) -> float:
    """A finite number of seconds > 0."""
    try:
        value: object = float(text)
    except ValueError:
        value = text
    try:
        return check_timeout("timeout", value)
    except InvalidParameterError as exc:
        raise _usage(exc) from None


def handles_arg(text: str) -> HandleList:
    """Record handles and ranges, ``"7, 9, 20-30"``, in the order given, duplicates dropped, up to a streamed
    run's limit (the client applies the lower in-memory limit when no ``--out-dir`` is given)."""
    try:
        return parse_handles(text, limit=MAX_STREAMED_HANDLES)
    except InvalidParameterError as exc:
        raise argparse.ArgumentTypeError(f"{exc.reason}: {exc.value!r}") from None
