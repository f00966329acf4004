"""The short soak: a mixed load (testkit/mixed_load.py) on two workers for under a minute, with no error and no
memory growth. `python -m bench.soak --minutes 10` runs the same load for as long as asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.mixed_load import MIB, LoadPlan, render_windows, run_mixed_load
from testkit.servers import DistributionServer, PullcacheServer
from tests.reliability.conftest import Record

pytestmark = pytest.mark.slow

PLAN = LoadPlan(seconds=50, warmup_seconds=15, window_seconds=5, seed=1)
RSS_GROWTH_FRACTION = 0.10
RSS_GROWTH_SLACK = 16 * MIB


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path / "upstream").start()
    yield server
    server.stop()


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[PullcacheServer]:
    server = PullcacheServer(tmp_path / "data", workers=2).start()
    yield server
    server.stop()


async def test_a_mixed_load_on_two_workers_answers_every_request_and_memory_stays_flat(
    two_workers: PullcacheServer, upstream: DistributionServer, record: Record
) -> None:
    report = await run_mixed_load(two_workers, upstream.url, PLAN)

    table = render_windows(report)
    assert report.errors == 0, f"{report.error_messages}\n{table}"
    assert all(count > 0 for count in report.operations.values()), report.operations
    assert report.growth_within(RSS_GROWTH_FRACTION, RSS_GROWTH_SLACK), (
        f"RSS grew from {report.rss_after_warmup / MIB:.1f} MiB to {report.rss_at_end / MIB:.1f} MiB\n{table}"
    )
    p99 = max(window.p99_ms for window in report.windows)
    record(
        "soak: mixed push/pull/import/ECR load, 2 workers",
        f"{PLAN.clients} clients for {PLAN.seconds:.0f} s: {report.requests} requests "
        f"({', '.join(f'{n} {kind}' for kind, n in sorted(report.operations.items()))})",
        f"0 errors; worst window p99 {p99:.0f} ms; RSS {report.rss_after_warmup / MIB:.0f} MiB after warm-up, "
        f"{report.rss_at_end / MIB:.0f} MiB at the end",
    )
