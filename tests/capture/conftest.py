"""Fixtures of the capture tests: a sandbox, and captures written by gwsnb's own client against it
(with secrets, as a support engineer receives an unredacted HAR) together with the live results."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import gwsnb
from gwsnb.capture import CaptureSecretsWarning
from gwsnb.sandbox import Faults, Sandbox

PEERS = Path(__file__).resolve().parents[1] / "peers"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(chains=60, seed=25, password="s3cret-Passw0rd") as sb:
        yield sb


@dataclass
class Recorded:
    """A capture written by ``connect(capture=...)`` and what the live client got meanwhile."""

    path: Path
    results: list[gwsnb.ChainedRecordResult]
    outcomes: list[Any]
    secrets: dict[str, list[str]]


def record_session(sb: Sandbox, path: Path, *, secrets: bool, error_handle: int | None = None) -> Recorded:
    """Three calls (and one answered by an Error notification when ``error_handle`` is given)."""
    sb.faults = Faults(error_handles={error_handle} if error_handle is not None else set())
    results: list[gwsnb.ChainedRecordResult] = []
    outcomes: list[Any] = []
    with gwsnb.connect(sb.url, sb.username, sb.password, timeout=10.0, capture=str(path),
                       capture_secrets=secrets) as client:
        for handle in sb.record_handles[:3]:
            result = client.get_chained_record(handle, campaign_name=sb.campaign_name,
                                               application_id=sb.application_id)
            results.append(result)
            outcomes.append(result)
        if error_handle is not None:
            try:
                client.get_chained_record(error_handle, campaign_name=sb.campaign_name,
                                          application_id=sb.application_id)
            except gwsnb.ChainedRecordError as exc:
                outcomes.append(exc)
        cookies = client._rest.cookies()
        csrf = list(client._rest.csrf_headers().values())
        client_id = client._cometd.client_id if client._cometd is not None else None
    sb.faults = Faults()
    found = {"password": [sb.password], "cookie": [v for v in cookies.values() if len(v) >= 6], "csrf": csrf,
             "client_id": [client_id] if client_id else []}
    return Recorded(path, results, outcomes, found)


@pytest.fixture(scope="module")
def recorded(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """A capture that keeps its secrets, with one call answered by an Error notification."""
    path = tmp_path_factory.mktemp("capture") / "session.har"
    return record_session(sandbox, path, secrets=True, error_handle=987654)


@pytest.fixture()
def read_quietly() -> Any:
    """read_capture without the secrets warning (tests that check it do so themselves)."""
    def read(path: Any) -> gwsnb.Capture:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CaptureSecretsWarning)
            return gwsnb.read_capture(path)
    return read


# the Chromium captures of the diagnosis tests (session-scoped: made once, concurrently)
from .browser_captures import chromium_captures, sanitized_captures  # noqa: E402, F401
