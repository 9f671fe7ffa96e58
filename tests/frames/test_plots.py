"""The one-call plots, drawn headless (Agg): the right number of marks, labels that name their units, and the
small charts of the HTML summaries."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import pytest

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gwsnb import plots  # noqa: E402
from gwsnb.batch import ChainedRecordBatch, HandleFailure, percentiles  # noqa: E402
from gwsnb.errors import NotificationTimeout  # noqa: E402

from ._messages import record, result  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def a_batch() -> ChainedRecordBatch:
    results = [result(f"ref-{n}", handle=100 + 10 * n, length=1 + n % 3) for n in range(9)]
    for n, res in enumerate(results):
        res.timings.data_end = res.timings.sent + 0.010 + 0.004 * n  # 10..42 ms
        res.records[0]["userData"]["record_status"] = 1 + n % 2
    failure = HandleFailure(999, NotificationTimeout("no DataEnd", record_handle=999), 3)
    return ChainedRecordBatch(handles=[r.record_handle for r in results] + [999], results=results,
                              failures=[failure])


def marks(ax: Axes) -> int:
    return sum(len(collection.get_offsets()) for collection in ax.collections)


def test_timeline_one_mark_per_message_and_the_two_instants() -> None:
    res = result(length=3)
    ax = res.plot_timeline()
    assert isinstance(ax, Axes)
    assert marks(ax) == len(res.events) == 8
    lanes = {collection.get_label(): len(collection.get_offsets()) for collection in ax.collections}
    assert lanes == {"notification (4)": 4, "user event (4)": 4}  # user events drawn apart
    vertical = {line.get_label(): line.get_xdata()[0] for line in ax.lines}
    assert vertical == {"HTTP answer": pytest.approx(res.timings.http_ms),
                        "ChainedRecordsDataEnd": pytest.approx(res.timings.total_ms)}
    assert ax.get_xlabel() == "ms since the POST"
    offsets = ax.collections[0].get_offsets()[:, 0]
    assert offsets.min() == pytest.approx(10.0)  # the first notification, 10 ms after the POST
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels[0] == "ChainedRecord #1" and labels[-1] == "user event ChainedRecordsDataEnd"


def test_timeline_of_an_incomplete_call_on_a_given_axes() -> None:
    res = result(length=2, complete=False)
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.timeline(res, ax=ax) is ax
    assert marks(ax) == len(res.events) == 4
    assert [line.get_label() for line in ax.lines] == ["HTTP answer"]  # no DataEnd to mark
    assert "incomplete" in ax.get_title()


def test_latency_histograms_with_percentiles_in_ms() -> None:
    batch = a_batch()
    fig = batch.plot_latency()
    assert isinstance(fig, Figure)
    client, server, split = fig.axes
    totals = [r.timings.total_ms for r in batch.results]
    assert sum(patch.get_height() for patch in client.patches) == len(totals) == 9
    want = percentiles(totals)
    assert [line.get_label() for line in client.lines] == [f"p{p} {v:.1f} ms" for p, v in want.items()]
    events = sum(len(r.user_events) for r in batch.results)
    assert sum(patch.get_height() for patch in server.patches) == events
    assert client.get_xlabel() == "client: POST to DataEnd (ms)"
    assert server.get_xlabel() == "server processing per event (ms)"
    assert all(line.get_label().endswith(" ms") for line in server.lines) and len(server.lines) == 3


def test_latency_of_outcomes_from_gather() -> None:
    batch = a_batch()
    outcomes = [*batch.results, batch.failures[0].error]
    fig = plots.latency(iter(outcomes))  # a one-pass iterator is fine too
    assert sum(patch.get_height() for patch in fig.axes[0].patches) == 9


def test_breakdown_bars() -> None:
    batch = a_batch()
    fig = batch.plot_breakdown()
    lengths, status, call_result = fig.axes
    chains = {len(r.records) for r in batch.results}
    assert [tick.get_text() for tick in lengths.get_xticklabels()] == [str(n) for n in sorted(chains)]
    assert sum(patch.get_height() for patch in lengths.patches) == len(batch.results)
    assert {tick.get_text() for tick in status.get_yticklabels()} == {"Ready", "Retrieved"}
    assert sum(patch.get_width() for patch in status.patches) == batch.record_count
    assert [tick.get_text() for tick in call_result.get_yticklabels()] == ["Answer"]
    assert lengths.get_xlabel() == "records in the chain" and status.get_xlabel() == "records"


def test_breakdown_of_raw_messages_groups_by_chain() -> None:
    from ._messages import chained_message

    messages = [chained_message(record(h, 1 + h % 2, 1), reference_id=None) for h in range(1, 6)]
    fig = plots.breakdown(messages)
    assert sum(patch.get_height() for patch in fig.axes[0].patches) == 2  # chains 1 and 2


def test_summaries_carry_a_small_chart() -> None:
    res = result(length=2)
    page = res._repr_html_()
    assert page.count("<svg") == 1 and "ms since the POST" in page
    batch = a_batch()
    summary = batch._repr_html_()
    assert summary.count("<svg") == 1 and "POST to DataEnd (ms)" in summary
    empty = ChainedRecordBatch(handles=[1], skipped=[1], interrupted=True)
    assert "<svg" not in empty._repr_html_()
    assert plt.get_fignums() == []  # the summaries leave no pyplot figure behind
