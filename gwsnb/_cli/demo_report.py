"""``make demo``: run notebooks/01-quickstart.ipynb headless against a sandbox and write an HTML report.

``python -m gwsnb._cli.demo_report [--out build/demo] [--chains 500]`` starts an in-process
:class:`~gwsnb.sandbox.Sandbox` with a random password, points the notebook's parameter cell at it
through the ``GWS_*`` environment variables the kernel inherits, executes it with nbclient, writes
``<out>/01-quickstart.html`` (nbconvert) and the executed notebook beside it, prints a short summary and
stops the sandbox.  The summary comes from one extra cell run in the same kernel after the notebook and
removed before export.  The report is checked not to contain the password.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from ..sandbox import Sandbox

NOTEBOOK = "01-quickstart"
_SUMMARY_MARK = "GWSNB-DEMO-SUMMARY:"
_SUMMARY_CELL = f"""\
import json as _json
_t = result.timings
print({_SUMMARY_MARK!r} + _json.dumps({{
    "handle": result.record_handle,
    "records": result.records_frame()[["chain_n", "contact_info", "record_status", "call_result"]]
    .astype("string").fillna("").to_dict("records"),
    "events": len(result.events),
    "http_ms": _t.http_ms, "first_event_ms": _t.first_event_ms, "total_ms": _t.total_ms,
    "server_ms": [float(x) for x in result.metrics_frame()["node_processing_ms"].dropna()],
    "form_calls": len(form.results), "form_errors": len(form.errors),
    "form_records": int(len(form.records_frame())),
}}))
"""


def notebooks_dir() -> Path:
    """The repository's notebooks/ directory (gwsnb is installed editable from the checkout)."""
    path = Path(__file__).resolve().parents[2] / "notebooks"
    if not path.is_dir():
        raise FileNotFoundError(f"{path} not found: run the demo from a gwsnb checkout")
    return path


def sandbox_env(sb: Sandbox, password: str) -> dict[str, str]:
    """The variables the notebooks' parameter cells read."""
    return {
        "GWS_URL": sb.url,
        "GWS_USER": sb.username,
        "GWS_PASSWORD": password,
        "GWS_CAMPAIGN": sb.campaign_name,
        "GWS_APPLICATION_ID": str(sb.application_id),
        "GWS_RECORD_HANDLE": str(sb.record_handles[0]),
        "GWS_VERIFY_TLS": "1",
    }


def execute_notebook(book: Any, *, env: dict[str, str], path: Path, timeout: float) -> Any:
    """Execute ``book`` (an nbformat notebook) top to bottom in a fresh kernel whose environment is this
    process's plus ``env`` (this process's own environment is left alone), working directory ``path``."""
    from nbclient import NotebookClient

    NotebookClient(book, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path)}}).execute(env={**os.environ, **env})
    return book


def _summary_from(outputs: list[Any]) -> dict[str, Any]:
    for output in outputs:
        text = output.get("text", "") if output.get("output_type") == "stream" else ""
        for line in text.splitlines():
            if line.startswith(_SUMMARY_MARK):
                return dict(json.loads(line[len(_SUMMARY_MARK):]))
    raise RuntimeError("the summary cell printed nothing")


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def run(out_dir: Path, chains: int = 500, timeout: float = 120.0) -> dict[str, Any]:
    """Execute the quickstart against a fresh sandbox, write the report, return the summary.

    :raises nbclient.exceptions.CellExecutionError: a cell of the notebook failed.
    :raises RuntimeError: the report would contain the sandbox password.
    """
    import nbformat
    from nbconvert import HTMLExporter

    source = notebooks_dir() / f"{NOTEBOOK}.ipynb"
    book = nbformat.read(source, as_version=4)
    password = secrets.token_urlsafe(12)
    out_dir.mkdir(parents=True, exist_ok=True)
    with Sandbox(chains=chains, seed=1, password=password) as sb:
        started = time.perf_counter()
        book.cells.append(nbformat.v4.new_code_cell(_SUMMARY_CELL))
        execute_notebook(book, env=sandbox_env(sb, password), path=source.parent, timeout=timeout)
        elapsed = time.perf_counter() - started
        summary = _summary_from(book.cells.pop().outputs)
        summary.update(url=sb.url, chains=chains, seconds=elapsed)
    body, _ = HTMLExporter().from_notebook_node(book)
    if password in body or password in json.dumps(book):
        raise RuntimeError("refusing to write a report that contains the sandbox password")
    html_path = out_dir / f"{NOTEBOOK}.html"
    html_path.write_text(body, encoding="utf-8")
    nbformat.write(book, out_dir / f"{NOTEBOOK}.ipynb")
    summary["report"] = str(html_path)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gwsnb._cli.demo_report", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo"), help="output directory")
    parser.add_argument("--chains", type=int, default=500, help="chains in the sandbox's calling list")
    args = parser.parse_args(argv)
    summary = run(args.out, chains=args.chains)
    print(f"gwsnb demo: executed notebooks/{NOTEBOOK}.ipynb in {summary['seconds']:.1f} s against the sandbox "
          f"({summary['chains']} chains, {summary['url']})")
    print(f"GetChainedRecord handle {summary['handle']}: {len(summary['records'])} record(s), "
          f"{summary['events']} event(s); HTTP {_ms(summary['http_ms'])}, first event "
          f"{_ms(summary['first_event_ms'])}, ChainedRecordsDataEnd {_ms(summary['total_ms'])}")
    for row in summary["records"]:
        print(f"  chain_n {row['chain_n']:>3}  {row['contact_info']:<16} {row['record_status']:<16}"
              f" {row['call_result']}")
    server = sorted(summary["server_ms"])
    if server:
        print(f"server processing per event: median {server[len(server) // 2]:.1f} ms, max {server[-1]:.1f} ms")
    print(f"form: {summary['form_calls']} call(s), {summary['form_records']} record(s), "
          f"{summary['form_errors']} error(s)")
    print(f"report: {summary['report']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
