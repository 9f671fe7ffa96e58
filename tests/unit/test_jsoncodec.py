"""The wire's JSON codec (gwsnb/_wire/jsoncodec.py): msgspec, with the standard library deciding whatever
msgspec refuses, so every body reads as json.loads read it; and the same without msgspec."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwsnb._wire import jsoncodec

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@pytest.fixture(params=["msgspec", "stdlib"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    if request.param == "stdlib":
        monkeypatch.setattr(jsoncodec, "_decode", None)
        monkeypatch.setattr(jsoncodec, "_encode", None)
    else:
        assert jsoncodec._decode is not None  # a dependency: installed by make venv
    return jsoncodec


@settings(max_examples=100, deadline=None)
@given(value=JSON)
def test_reads_and_writes_what_json_does(value: Any) -> None:
    saved = jsoncodec._decode, jsoncodec._encode
    for decode, encode in (saved, (None, None)):
        jsoncodec._decode, jsoncodec._encode = decode, encode
        try:
            text = json.dumps(value)
            assert jsoncodec.loads(text) == json.loads(text)
            assert jsoncodec.loads(text.encode()) == json.loads(text)
            assert json.loads(jsoncodec.dumps(value)) == value
            assert json.loads(jsoncodec.dumps_text(value)) == value
        finally:
            jsoncodec._decode, jsoncodec._encode = saved


def test_what_orjson_refuses_reads_as_json_reads_it(codec: Any) -> None:
    assert math.isnan(codec.loads(b'[NaN]')[0])
    assert codec.loads(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    assert codec.loads('"\\ud800"') == "\ud800"
    assert codec.dumps({1: 2**70}) == b'{"1":1180591620717411303424}'
    assert json.loads(codec.dumps({"a": "\ud800", "b": "é"})) == {"a": "\ud800", "b": "é"}
    assert codec.loads(b'[1e400]') == [math.inf]


@pytest.mark.parametrize("text", [b"", b"{", b"not json", b'[1,]', b"\xff"])
def test_not_json_raises_value_error(codec: Any, text: bytes) -> None:
    with pytest.raises(ValueError):
        codec.loads(text)
