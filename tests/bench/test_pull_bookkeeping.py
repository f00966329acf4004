"""The cost-of-recording-pulls suite, scaled down: every variant measured, the pulls of the recording variants
found in the database the server left, the comparison printed and recorded. It checks the figures exist, never
what they are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.metrics import BLOB_GET, MANIFEST_BY_DIGEST, MANIFEST_BY_TAG
from bench.pull_bookkeeping import FREQUENT_FLUSHES, RECORDING_OFF, RECORDING_ON
from bench.wrk import wrk_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not wrk_available(), reason="needs wrk (apt-get install -y wrk)")]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 300
MAX_CONNECTIONS = 4  # wrk's concurrency here: requests it cut off at its end were served but not counted


def test_a_scaled_down_run_compares_recording_off_and_on_and_finds_the_pulls_recorded(tmp_path: Path) -> None:
    results = tmp_path / "results"

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--suites",
            "pulls",
            "--repeats",
            "1",
            "--attempts",
            "1",
            "--wrk-seconds",
            "1",
            "--wrk-connections",
            str(MAX_CONNECTIONS),
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
    record = json.loads(path.read_text())["pull_bookkeeping"]
    for variant in (RECORDING_OFF, RECORDING_ON, FREQUENT_FLUSHES):
        assert set(record["medians"][variant]) == {MANIFEST_BY_TAG, MANIFEST_BY_DIGEST, BLOB_GET}
        assert all(value > 0 for value in record["medians"][variant].values())
    for variant in (RECORDING_ON, FREQUENT_FLUSHES):
        [(recorded, counted)] = record["pulls_recorded"][variant]
        assert counted <= recorded <= counted + 2 * MAX_CONNECTIONS
    assert RECORDING_OFF not in record["pulls_recorded"]
    assert record["record_call_us"] > 0
    assert "PullRecords.record, us a call" in completed.stdout
    assert "against recording off" in completed.stdout
    assert list(tmp_path.iterdir()) == [results]  # the servers' data removed
