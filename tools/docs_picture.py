"""Draws the front page's picture, docs/assets/latency.png: ``make docs-picture``.

A local sandbox (the one ``gwsnb sandbox`` runs, 1,000 chains, seed 1), one bulk GetChainedRecord run over
its first 500 handles at concurrency 16, and ``batch.plot_latency()``: the client's POST-to-DataEnd times
and the server's per-event processing times with their p50/p90/p99. Timings differ from run to run and
machine to machine; the picture shows what the plot looks like, not a benchmark (see docs/performance.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import gwsnb  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "assets" / "latency.png"


def main() -> int:
    with gwsnb.Sandbox(chains=1000, seed=1) as sb, gwsnb.connect(sb.url, sb.username, password=sb.password) as client:
        batch = client.get_chained_records("1-500", campaign_name=sb.campaign_name,
                                           application_id=sb.application_id, progress=False)
        fig = batch.plot_latency()
        OUT.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(OUT, dpi=90, bbox_inches="tight")
    print(f"{OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}: "
          f"{len(batch.results)} calls, {len(batch.failures)} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
