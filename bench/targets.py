"""The registries the benchmark compares, each started fresh on loopback over an empty directory."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from testkit.servers import DistributionServer, PullcacheServer

PULLCACHE = "pullcache"
PULLCACHE_TWO_WORKERS = "pullcache-w2"
DISTRIBUTION = "distribution"
PULLCACHE_LAUNCHED = "pullcache-launcher"
DEFAULT_TARGETS = (PULLCACHE, PULLCACHE_TWO_WORKERS, DISTRIBUTION)
# pullcache's default log level, at which it writes an access log line a request, as Distribution does by default.
ACCESS_LOGGED = "info"


class Server(Protocol):
    process: subprocess.Popen[bytes] | None

    @property
    def url(self) -> str: ...

    def stop(self) -> object: ...


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    description: str
    start: Callable[[Path], Server]  # an empty directory it may use -> a server answering on loopback


def available_targets(launcher: Path | None) -> dict[str, Target]:
    targets = {
        PULLCACHE: _pullcache(PULLCACHE, "pullcache serve, 1 worker"),
        PULLCACHE_TWO_WORKERS: _pullcache(PULLCACHE_TWO_WORKERS, "pullcache serve --workers 2", workers=2),
        DISTRIBUTION: Target(DISTRIBUTION, "CNCF Distribution 2.8 (docker-registry)", _start_distribution),
    }
    if launcher is not None:
        targets[PULLCACHE_LAUNCHED] = _pullcache(
            PULLCACHE_LAUNCHED, f"pullcache serve, 1 worker, run by {launcher.name}", launcher=(str(launcher),)
        )
    return targets


def _pullcache(
    name: str, description: str, *, workers: int = 1, launcher: Sequence[str] = ("-m", "pullcache")
) -> Target:
    def start(directory: Path) -> Server:
        server = PullcacheServer(
            directory / "data",
            workers=workers,
            launcher=launcher,
            log_level=ACCESS_LOGGED,
            anonymous_registry=True,  # Distribution runs without authentication too
            create_on_push=True,  # and creates a repository on its first push: a ROOT CREATE_ON_PUSH template
        )
        return server.start()

    return Target(name, description, start)


def _start_distribution(directory: Path) -> Server:
    return DistributionServer(directory / "distribution").start()
