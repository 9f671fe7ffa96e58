"""REST answers decoded on their own: statusCode → typed error, HTTP status mapping, TLS and proxy settings."""

from __future__ import annotations

import json
import ssl
import warnings
from pathlib import Path
from typing import Any

import pytest

from gwsnb import errors
from gwsnb._wire import rest as _rest
from gwsnb._wire.rest import decode, env_proxy, ssl_context


def _raw(body: Any) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize("code", [0, 7])
def test_success_codes_return_the_body(code: int) -> None:
    body = {"statusCode": code, "user": {"id": "u"}}
    assert decode("POST", "/me", 200, _raw(body)) == body


@pytest.mark.parametrize(("code", "cls"), [
    (1, errors.MissingParameterError), (2, errors.InvalidStateError), (3, errors.ForbiddenError),
    (4, errors.InternalServerError), (5, errors.NoPermissionError), (6, errors.NotFoundError),
    (8, errors.PasswordChangeRequiredError), (10, errors.InputValidationError),
    (18, errors.AlreadyExistsError), (19, errors.AlreadyInUseError), (20, errors.NotAuthenticatedError),
])
def test_status_codes_map_to_their_error_class(code: int, cls: type[errors.GwsStatusError]) -> None:
    with pytest.raises(cls) as info:
        decode("POST", "/me/outbound-records/7", 400, _raw({"statusCode": code, "statusMessage": "why"}))
    assert info.value.status_code == code and info.value.http_status == 400


def test_unknown_status_code_is_still_a_status_error() -> None:
    with pytest.raises(errors.GwsStatusError) as info:
        decode("POST", "/x", 400, _raw({"statusCode": 99}))
    assert info.value.status_code == 99


def test_not_authenticated_is_also_an_authentication_error() -> None:
    with pytest.raises(errors.AuthenticationError):
        decode("POST", "/x", 401, _raw({"statusCode": 20}))


def test_403_without_status_body_is_a_csrf_refusal() -> None:
    with pytest.raises(errors.CsrfError) as info:
        decode("POST", "/me", 403, b"Missing or invalid Csrf token")
    assert "Missing or invalid Csrf token" in str(info.value) and "403" in str(info.value)


def test_403_with_a_status_body_is_that_status_error() -> None:
    with pytest.raises(errors.ForbiddenError):
        decode("POST", "/me", 403, _raw({"statusCode": 3}))


def test_401_without_body_is_an_authentication_error() -> None:
    with pytest.raises(errors.AuthenticationError) as info:
        decode("GET", "/me", 401, b"")
    assert not isinstance(info.value, errors.GwsStatusError)


@pytest.mark.parametrize(("status", "raw", "words"), [
    (404, b"<html>not found</html>", "404"),
    (500, b"oops", "HTTP 500"),
    (500, _raw({"statusCode": 0}), "statusCode 0"),  # an HTTP error with a success body: trust neither
    (200, b"not json", "not a JSON object"),
    (200, _raw([1, 2]), "not a JSON object"),
])
def test_other_answers_are_transport_errors(status: int, raw: bytes, words: str) -> None:
    with pytest.raises(errors.TransportError) as info:
        decode("GET", "/me", status, raw)
    assert words in str(info.value)


def test_2xx_json_without_status_code_is_kept() -> None:
    assert decode("GET", "/diagnostics/version", 200, _raw({"version": "9"})) == {"version": "9"}


def test_verify_false_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_rest, "_insecure_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert ssl_context(False) is False
        assert ssl_context(False) is False
    assert len([w for w in caught if "verification is turned off" in str(w.message)]) == 1


def test_verify_true_is_a_verifying_context(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    context = ssl_context(True)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_ca_bundle_from_argument_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    subject = ca.cert_pem.bytes()

    def holds_ca(context: Any) -> bool:
        pems = [ssl.DER_cert_to_PEM_cert(der).encode() for der in context.get_ca_certs(binary_form=True)]
        return any(p.split() == subject.split() for p in pems)

    assert holds_ca(ssl_context(str(path)))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("CURL_CA_BUNDLE", str(path))
    assert holds_ca(ssl_context(True))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/no/such/file.pem")  # REQUESTS_CA_BUNDLE wins, as in requests
    with pytest.raises(errors.InvalidParameterError) as info:
        ssl_context(True)
    assert info.value.field == "verify"


def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https://gws.example.com/api/v2") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    assert env_proxy("https://gws.example.com/api/v2") == "http://proxy.example.com:3128"
    assert env_proxy("http://gws.example.com/api/v2") is None
    monkeypatch.setenv("NO_PROXY", "gws.example.com")
    assert env_proxy("https://gws.example.com/api/v2") is None
