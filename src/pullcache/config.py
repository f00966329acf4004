"""Typed, frozen settings, validated at start-up. Every flag of `pullcache serve` has an environment twin."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pullcache.registry.service import DEFAULT_MAX_MANIFEST_BYTES


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
        if self.workers > 1 and self.port == 0:
            raise ConfigError("several workers need a fixed port to share")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'metadata.db'}"
