"""A streamed run in its own process, for the kill-and-resume test: ``python -m tests.runs._child URL USER
CAMPAIGN APP_ID OUT HANDLES``, the password in ``GWS_PASSWORD``; small parts so the kill lands mid-run."""

from __future__ import annotations

import sys

import gwsnb
import gwsnb.runs


def main() -> None:
    url, user, campaign, app, out, handles = sys.argv[1:7]
    gwsnb.runs.PART_HANDLES = 40
    gwsnb.runs.PART_SECONDS = 0.3
    with gwsnb.connect(url, user, timeout=10.0) as client:
        client.get_chained_records(handles, campaign_name=campaign, application_id=int(app), out=out,
                                   progress=False, concurrency=8)


if __name__ == "__main__":
    main()
