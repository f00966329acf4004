"""The raw door of the fuzzer: requests written byte for byte to a socket (unknown methods, non-ASCII targets,
lines past the limit, broken framing), each answered within the timeout, never with a 5xx, in the shape of the
door its path names, and without a traceback in the log.

These are the requests aiohttp's HTTP parser refuses before any handler runs, so they have a server and a test
of their own: FUZZ_RAW_REQUESTS (default 300) sets the count, FUZZ_SEED and FUZZ_ONLY as in test_fuzzer.py.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from testkit.fuzz import FuzzReport, make_raw_case, run_cases
from testkit.fuzz.world import build_world
from testkit.servers import PullcacheServer
from tests.reliability.conftest import Record
from tests.reliability.test_fuzzer import DEFAULT_SEED, TRACEBACK

DEFAULT_RAW_REQUESTS = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("fuzz-raw") / "data", anonymous_registry=False).start()
    yield running
    running.stop()


def test_raw_requests_are_answered_in_their_doors_shape(server: PullcacheServer, record: Record) -> None:
    seed = int(os.environ.get("FUZZ_SEED") or DEFAULT_SEED)
    only = os.environ.get("FUZZ_ONLY")
    indices = [int(only)] if only else range(int(os.environ.get("FUZZ_RAW_REQUESTS") or DEFAULT_RAW_REQUESTS))
    world = asyncio.run(build_world(server))

    report = asyncio.run(
        run_cases(world.url, indices, lambda index: make_raw_case(world, seed, index), FuzzReport(seed))
    )

    print(report.summary())
    assert report.failed == 0, report.details()
    assert TRACEBACK not in server.log(), f"seed {seed}: the server logged a traceback:\n{server.log()[-5000:]}"
    if not only:
        record(
            "fuzzer, raw HTTP (methods, targets, line limits, framing)",
            f"{report.total:,} requests, seed {seed}",
            "0 5xx, 0 hangs, every error in its door's shape, no traceback logged",
        )
