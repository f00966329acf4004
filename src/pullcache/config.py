"""Typed, frozen settings, validated at start-up. Every flag of `pullcache serve` has an environment twin."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pullcache.registry.manifest_writes import DEFAULT_MAX_MANIFEST_BYTES

DEFAULT_ACCOUNT_ID = "000000000000"
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")


class ConfigError(ValueError):
    """A setting is out of range; start-up stops with this message."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path = Path("pullcache-data")
    workers: int = 1
    database_url: str | None = None  # default: SQLite in the data dir
    max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES
    log_level: str = "info"
    shutdown_timeout: float = 30.0  # seconds in-flight requests get to finish on SIGTERM
    upload_expiry: float = 7 * 24 * 3600.0  # seconds after which an unfinished upload is discarded
    account_id: str = DEFAULT_ACCOUNT_ID  # the account created on first start
    region: str = "us-east-1"  # the default region of the AWS APIs and of /v2/
    # The root access key to create on first start instead of a random one (PULLCACHE_ROOT_* variables).
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = field(default=None, repr=False)
    # /v2/ requests without credentials act as the root user of their account: for labs and tests of the OCI
    # protocol alone, never for a registry others can reach.
    anonymous_registry: bool = False
    # Seconds a new pull-through cache rule serves a cached tag before asking its upstream again (0: every pull).
    tag_ttl: float = 24 * 3600.0
    # Fetch every platform of a multi-platform image pulled through the cache, not only those clients ask for.
    prefetch_platforms: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0-65535, not {self.port}")
        if self.workers < 1:
            raise ConfigError(f"workers must be at least 1, not {self.workers}")
        if self.max_manifest_bytes < 1024:
            raise ConfigError("max manifest size must be at least 1024 bytes")
        if self.log_level.lower() not in {"debug", "info", "warning", "error"}:
            raise ConfigError(f"unknown log level {self.log_level!r}")
        if self.shutdown_timeout < 0:
            raise ConfigError("shutdown timeout must not be negative")
        if self.upload_expiry <= 0:
            raise ConfigError("upload expiry must be positive")
        if self.tag_ttl < 0:
            raise ConfigError("the tag TTL must not be negative")
        if self.workers > 1 and self.port == 0:
            raise ConfigError("several workers need a fixed port to share")
        if not (len(self.account_id) == 12 and self.account_id.isdigit()):
            raise ConfigError(f"an account id is 12 digits, not {self.account_id!r}")
        if _REGION.fullmatch(self.region) is None:
            raise ConfigError(f"{self.region!r} is not a region name like us-east-1")
        if (self.root_access_key_id is None) != (self.root_secret_access_key is None):
            raise ConfigError("give both the root access key id and its secret, or neither")

    @property
    def endpoint_url(self) -> str:
        """Where AWS tools reach this server."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'metadata.db'}"
