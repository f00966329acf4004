"""The reliability suite: what the server must survive, each probe recording the row it earns in the README.

A probe calls `record(probe, load, outcome)` once it has held; the rows go, one JSON object a line, to the file
RELIABILITY_RESULTS names (default `build/reliability.jsonl`), which `scripts/reliability` renders as the table
of the README's reliability section. A probe that fails records nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

RESULTS_VARIABLE = "RELIABILITY_RESULTS"
DEFAULT_RESULTS = Path(__file__).resolve().parents[2] / "build" / "reliability.jsonl"

Record = Callable[[str, str, str], None]


@pytest.fixture
def record() -> Record:
    """record(probe, load, outcome): e.g. ("idle sockets under a low file limit", "1,100 idle connections, ulimit
    -n 512", "every normal request answered; 0 errors")."""
    path = Path(os.environ.get(RESULTS_VARIABLE, DEFAULT_RESULTS))

    def write(probe: str, load: str, outcome: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as results:
            results.write(json.dumps({"probe": probe, "load": load, "outcome": outcome}) + "\n")

    return write
