"""``make demo``'s module: the quickstart executed against a fresh sandbox, written as an HTML report."""

from __future__ import annotations

from pathlib import Path

import pytest

from gwsnb._cli import demo_report as _demo_report


def test_demo_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _demo_report.main(["--out", str(tmp_path / "demo"), "--chains", "120"]) == 0
    printed = capsys.readouterr().out
    report = tmp_path / "demo" / "01-quickstart.html"
    html = report.read_text(encoding="utf-8")
    assert f"report: {report}" in printed
    # every phone of the chain the summary lists is in the report, and the summary has the timings
    phones = [line.split()[2] for line in printed.splitlines() if line.startswith("  chain_n")]
    assert phones and all(phone in html for phone in phones)
    assert "ChainedRecordsDataEnd" in printed and "form: 1 call(s)" in printed
    assert (tmp_path / "demo" / "01-quickstart.ipynb").exists()
