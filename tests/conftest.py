"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.servers import DistributionServer, PullcacheServer


@pytest.fixture
def pullcache(tmp_path: Path) -> Iterator[PullcacheServer]:
    """A fresh pullcache on loopback with an empty data dir, its /v2/ open to callers without credentials, and a
    ROOT repository creation template for CREATE_ON_PUSH: tests push to fresh repositories freely."""
    server = PullcacheServer(tmp_path / "data", anonymous_registry=True, create_on_push=True).start()
    yield server
    server.stop()


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[DistributionServer]:
    """A fresh CNCF Distribution on loopback."""
    server = DistributionServer(tmp_path / "distribution").start()
    yield server
    server.stop()
