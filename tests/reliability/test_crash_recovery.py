"""kill -9 in the middle of pushes and of pull-through imports, of the server, of a worker and of the master,
then a restart on the same data dir: every acknowledged write is there and intact, nothing is half-there, every
interrupted upload can be finished, and the server starts cleanly (crash_rounds.py).

Seeded: RELIABILITY_SEED picks other kill moments, workers and content (the default is fixed, so a failure
reproduces); RELIABILITY_CRASH_ROUNDS runs more rounds of each scenario than a CI run does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from testkit.servers import DistributionServer
from tests.reliability.conftest import Record
from tests.reliability.crash_rounds import KillTarget, run_crash_rounds
from tests.reliability.crash_workloads import Imports, Pushes
from tests.upstreams import FaultyUpstream

pytestmark = pytest.mark.slow

SEED: Final = int(os.environ.get("RELIABILITY_SEED", "20261207"))
ROUNDS: Final = int(os.environ.get("RELIABILITY_CRASH_ROUNDS", "2"))


@pytest.fixture
def faulty_upstream(tmp_path: Path) -> Iterator[tuple[DistributionServer, FaultyUpstream]]:
    upstream = DistributionServer(tmp_path / "upstream").start()
    try:
        with FaultyUpstream(upstream.url) as faulty:
            yield upstream, faulty
    finally:
        upstream.stop()


@pytest.mark.parametrize("target", list(KillTarget), ids=lambda target: target.name.lower())
async def test_acknowledged_pushes_survive_kill_9_and_interrupted_uploads_finish(
    target: KillTarget, tmp_path: Path, record: Record
) -> None:
    workload = Pushes(SEED)

    report = await run_crash_rounds(workload, target, ROUNDS, SEED, tmp_path / "data")

    record(
        f"kill -9 of {target.value} during {workload.name}",
        f"{report.rounds} rounds, seed {SEED}, each killed 0.3-2.5 s in, restarted on the same data dir",
        f"clean restarts; {report.checked}; {report.blobs_hashed} stored blobs hashed, none corrupt",
    )


@pytest.mark.parametrize("target", list(KillTarget), ids=lambda target: target.name.lower())
async def test_acknowledged_imports_survive_kill_9_and_cut_short_imports_complete(
    target: KillTarget, faulty_upstream: tuple[DistributionServer, FaultyUpstream], tmp_path: Path, record: Record
) -> None:
    upstream, faulty = faulty_upstream
    workload = Imports(SEED, upstream, faulty)

    report = await run_crash_rounds(workload, target, ROUNDS, SEED, tmp_path / "data")

    record(
        f"kill -9 of {target.value} during {workload.name}",
        f"{report.rounds} rounds, seed {SEED}, each killed 0.3-2.5 s in, restarted on the same data dir",
        f"clean restarts; {report.checked}; {report.blobs_hashed} stored blobs hashed, none corrupt",
    )
