"""The JSON codec of the wire: msgspec where it can, the standard library where msgspec says no.

Decoding the long-poll bodies was the largest single cost of the client's loop thread at concurrency 64
and 256 (``benchmarks/bench_engine.py --profile``; figures in docs/engine.md, "The raw client's pace"):
msgspec decodes them about three times faster than :mod:`json` (``benchmarks/bench_codec.py``).  The result is the same Python value for
every text both accept (integers of any size included: orjson, as fast, reads those beyond 64 bits as
floats, so it was not taken); what msgspec refuses and :mod:`json` accepts (``NaN``, ``1e400``, lone
surrogates) is decoded by :mod:`json`, so a body the client read before reads the same now, and what
neither accepts raises :class:`ValueError` as before.  Encoding is compact UTF-8 (``{"a":1}``; a float
that is not finite, which JSON cannot hold, is written ``null``); what msgspec cannot encode goes to
:mod:`json`.  msgspec is a dependency of gwsnb; should it be missing (a platform without its wheel,
installed with ``--no-deps``) the standard library does everything.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import msgspec
except ImportError:  # pragma: no cover - msgspec is a dependency; the fallback is tested by patching
    _decode: Any = None
    _encode: Any = None
    _REFUSED: tuple[type[BaseException], ...] = ()
else:
    _decode = msgspec.json.Decoder().decode
    _encode = msgspec.json.Encoder().encode
    _REFUSED = (msgspec.DecodeError,)

__all__ = ["dumps", "dumps_text", "loads"]


def loads(data: bytes | str) -> Any:
    """The value of a JSON text.

    :raises ValueError: the text is not JSON (as :func:`json.loads` says).
    """
    if _decode is not None:
        try:
            return _decode(data)
        except _REFUSED:
            pass  # json decides: it accepts a little more (NaN, 1e400, lone surrogates), and names the error
    return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON of ``value``.

    :raises TypeError: ``value`` holds something JSON cannot represent.
    """
    if _encode is not None:
        try:
            return _encode(value)
        except (TypeError, ValueError):
            pass  # e.g. a tuple as a key, a lone surrogate: json's conversions and escapes
    return json.dumps(value, separators=(",", ":")).encode()


def dumps_text(value: Any) -> str:
    """:func:`dumps` as text (what aiohttp's ``json_serialize`` expects)."""
    return dumps(value).decode()
