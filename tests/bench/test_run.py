"""A whole benchmark run, scaled down: every registry measured, the client's ceilings, a JSON record, and
nothing left running. It checks the figures exist, never what they are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from bench.metrics import CLIENT_HASH, CLIENT_SENDFILE, PULL, REGISTRY_METRICS
from bench.targets import DISTRIBUTION, PULLCACHE, PULLCACHE_LAUNCHED
from bench.wrk import wrk_available
from testkit.servers import distribution_binary

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not wrk_available(), reason="needs wrk (apt-get install -y wrk)"),
    pytest.mark.skipif(distribution_binary() is None, reason="needs docker-registry"),
]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 180
LAUNCHER = """\
import sys
from pathlib import Path

Path({marker!r}).write_text("launched")

from pullcache.cli import main

main(sys.argv[1:])
"""


def test_a_scaled_down_run_records_every_figure_and_stops_every_server(tmp_path: Path) -> None:
    marker = tmp_path / "launched"
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER.format(marker=str(marker)))
    results = tmp_path / "results"
    targets = [PULLCACHE, PULLCACHE_LAUNCHED, DISTRIBUTION]

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--suites",
            "core",
            "--targets",
            ",".join(targets),
            "--pullcache-launcher",
            str(launcher),
            "--repeats",
            "1",
            "--attempts",
            "1",
            "--layers",
            "2",
            "--layer-mib",
            "1",
            "--wrk-seconds",
            "1",
            "--work-dir",
            str(tmp_path),
            "--results-dir",
            str(results),
        ],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    (path,) = results.glob("bench-*.json")
    record = json.loads(path.read_text())
    for target in targets:
        assert set(record["medians"][target]) == set(REGISTRY_METRICS)
        assert all(value > 0 for value in record["medians"][target].values())
    assert record["medians"][CLIENT_SENDFILE][PULL] > 0
    assert record["medians"][CLIENT_HASH][PULL] > 0
    assert set(record["ratios"]) == {f"{PULLCACHE}/{DISTRIBUTION}", f"{PULLCACHE_LAUNCHED}/{DISTRIBUTION}"}
    assert marker.read_text() == "launched"
    assert "GET manifest by digest, req/s" in completed.stdout
    assert "GET manifest by digest, CPU us per request" in completed.stdout
    assert list(tmp_path.glob("pullcache-bench-*")) == []
    assert processes_mentioning(tmp_path) == []


def processes_mentioning(path: Path) -> list[str]:
    """Command lines that name something under `path`: what the run started there and left running."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if str(path) in command:
            found.append(command)
    return found
