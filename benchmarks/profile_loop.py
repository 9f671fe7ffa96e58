"""cProfile of the client's event-loop thread during one bulk run against ``gwsnb sandbox`` in its own process.

Where a GetChainedRecord's CPU goes, function by function (cProfile's own overhead inflates code made of
many small calls; read shares, not absolute times).  Prints the top functions by own time and the gwsnb
functions by cumulative time.

Run: ``.venv/bin/python -m benchmarks.profile_loop [--concurrency 16] [--handles 4000]``
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import gwsnb

from .bench_bulk import APPLICATION_ID, CAMPAIGN, PASSWORD, USER, subprocess_sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--handles", type=int, default=4000)
    args = parser.parse_args()
    with subprocess_sandbox(args.handles // 2 + 50, 0.0) as server:
        handles = server.handles[:args.handles]
        with gwsnb.connect(server.url, USER, PASSWORD) as client:
            client.get_chained_records(handles[:300], campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                       progress=False)  # warm-up
            assert client._loop is not None
            profile = cProfile.Profile()
            client._loop.call(profile.enable)  # profiles the loop's own thread
            batch = client.get_chained_records(handles, campaign_name=CAMPAIGN, application_id=APPLICATION_ID,
                                               progress=False, concurrency=args.concurrency, retries=0)
            client._loop.call(profile.disable)
            if not batch.ok:
                raise SystemExit(batch.summary())
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumtime").print_stats("gwsnb", 30)


if __name__ == "__main__":
    main()
