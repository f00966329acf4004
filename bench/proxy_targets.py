"""The caches the pull-through comparison sets side by side, each started over an empty directory in front of
the same upstream:

    pullcache            `pullcache serve` (1 worker, access log on) with a pull-through cache rule for the
                         prefix RULE_PREFIX to the upstream, and /v2/ behind authentication: every request
                         carries `Authorization: Basic base64(AWS:<token>)`, the token of ecr:GetAuthorizationToken,
                         as a client logged in with `aws ecr get-login-password` sends it
    distribution-proxy   CNCF Distribution 2.8 (Debian's docker-registry) with `proxy: remoteurl: <upstream>`,
                         filesystem storage, no authentication (as it is usually run)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.targets import ACCESS_LOGGED, Server
from testkit.aws_clients import client, registry_authorization
from testkit.servers import DistributionServer, PullcacheServer

PULLCACHE_RULE = "pullcache"
DISTRIBUTION_PROXY = "distribution-proxy"
DEFAULT_CACHE_TARGETS = (PULLCACHE_RULE, DISTRIBUTION_PROXY)
RULE_PREFIX = "upstream"


@dataclass(frozen=True, slots=True)
class RunningCache:
    """A cache answering on loopback: where, with which headers, and under what name it keeps an upstream repository."""

    server: Server
    headers: dict[str, str]
    prefix: str  # put before an upstream repository's name: "" or "<rule prefix>/"

    @property
    def url(self) -> str:
        return self.server.url

    def repository(self, upstream_repository: str) -> str:
        return self.prefix + upstream_repository

    def stop(self) -> None:
        self.server.stop()


@dataclass(frozen=True, slots=True)
class CacheTarget:
    name: str
    description: str
    start: Callable[[Path, str], RunningCache]  # an empty directory it may use, the upstream's URL -> a cache


def cache_targets() -> dict[str, CacheTarget]:
    return {
        PULLCACHE_RULE: CacheTarget(
            PULLCACHE_RULE,
            f"pullcache serve, 1 worker, a pull-through cache rule '{RULE_PREFIX}', registry token auth",
            _start_pullcache,
        ),
        DISTRIBUTION_PROXY: CacheTarget(
            DISTRIBUTION_PROXY, "CNCF Distribution 2.8 (docker-registry), proxy.remoteurl", _start_distribution_proxy
        ),
    }


def _start_pullcache(directory: Path, upstream: str) -> RunningCache:
    server = PullcacheServer(directory / "data", log_level=ACCESS_LOGGED, anonymous_registry=False).start()
    try:
        # Signed with the account's root keys, which the server writes to its data directory on first start.
        client(server, "ecr").create_pull_through_cache_rule(
            ecrRepositoryPrefix=RULE_PREFIX, upstreamRegistryUrl=upstream
        )
        authorization = registry_authorization(server)
    except BaseException:
        server.stop()
        raise
    return RunningCache(server, {"Authorization": authorization}, f"{RULE_PREFIX}/")


def _start_distribution_proxy(directory: Path, upstream: str) -> RunningCache:
    return RunningCache(DistributionServer(directory / "distribution", proxy_of=upstream).start(), {}, "")
