"""Fixtures of the integration tests beyond those every test may use (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.servers import DistributionServer


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[DistributionServer]:
    """A CNCF Distribution standing for the upstream registry of a pull-through cache rule."""
    server = DistributionServer(tmp_path / "upstream").start()
    yield server
    server.stop()
