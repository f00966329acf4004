"""The pull-through comparison, scaled down: both caches measured against one upstream, every figure recorded,
the upstream's bytes counted, a JSON record, and nothing left running. It checks the figures exist and what
the counting proves, never how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import proxy_metrics as m
from bench.proxy_targets import DISTRIBUTION_PROXY, PULLCACHE_RULE
from bench.wrk import wrk_available
from testkit.servers import distribution_binary
from tests.bench.test_run import processes_mentioning

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not wrk_available(), reason="needs wrk (apt-get install -y wrk)"),
    pytest.mark.skipif(distribution_binary() is None, reason="needs docker-registry"),
]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 120
SCALED_DOWN = [
    "--suites", "proxy", "--repeats", "1", "--large-layer-mib", "1", "--small-layers", "10",
    "--small-layer-kib", "4", "--platform-layer-mib", "1", "--big-mib", "8", "--pullers", "3",
    "--load-seconds", "1",
]  # fmt: skip


def test_a_scaled_down_proxy_run_records_every_figure_and_stops_everything(tmp_path: Path) -> None:
    results = tmp_path / "results"

    completed = subprocess.run(
        [sys.executable, "-m", "bench", *SCALED_DOWN, "--work-dir", str(tmp_path), "--results-dir", str(results)],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    (path,) = results.glob("bench-*.json")
    record = json.loads(path.read_text())
    assert "medians" not in record  # the plain-registry suite did not run
    proxy = record["proxy"]
    for target in (PULLCACHE_RULE, DISTRIBUTION_PROXY):
        assert set(proxy["medians"][target]) == set(m.CACHE_METRICS)
    # pullcache fetched every blob from the upstream exactly once, however many clients pulled it.
    for metric in (m.COLD_LARGE_UPSTREAM, m.PULLERS_UPSTREAM, m.COLD_SMALL_UPSTREAM, m.COLD_INDEX_UPSTREAM):
        assert proxy["medians"][PULLCACHE_RULE][metric] == 1.0
    # The counter sees what each cache asked of the upstream: every cache fetched every blob at least once.
    assert proxy["medians"][DISTRIBUTION_PROXY][m.COLD_LARGE_UPSTREAM] >= 1.0
    assert proxy["medians"][m.UPSTREAM_DIRECT][m.TTFB_MS] > 0
    assert proxy["medians"][m.CEILING][m.COLD_LARGE_MB_S] > 0
    assert set(proxy["met"]) == set(m.TARGETS)
    assert f"{PULLCACHE_RULE}/{DISTRIBUTION_PROXY}" in proxy["ratios"]
    assert "manifest HEAD by digest, req/s" in completed.stdout
    assert list(tmp_path.glob("pullcache-bench-*")) == []
    assert processes_mentioning(tmp_path) == []
