"""Typed, frozen settings, validated at start-up. Every flag of `pullcache serve` has an environment twin."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pullcache.audit.writer import DEFAULT_KEEP as DEFAULT_AUDIT_KEEP
from pullcache.audit.writer import DEFAULT_MAX_BYTES as DEFAULT_AUDIT_MAX_BYTES
from pullcache.core.certificate_names import check_name as check_certificate_name
from pullcache.core.public_hosts import PublicHosts
from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.destinations import DestinationPolicy, InvalidDestination
from pullcache.pullthrough.manifest_imports import DEFAULT_TAG_CHECK_TIMEOUT
from pullcache.pullthrough.upstream import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_COOL_DOWN,
    DEFAULT_FAILURES_TO_OPEN,
    DEFAULT_FIRST_BYTE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT,
)
from pullcache.registry.manifest_writes import DEFAULT_MAX_MANIFEST_BYTES

DEFAULT_ACCOUNT_ID = "000000000000"
TLS_OFF = "off"
TLS_SELF_SIGNED = "self-signed"  # a local CA in <data-dir>/tls issues the server's certificate (tls/certificates.py)
DATABASE_FILE = "metadata.db"  # the embedded database, in the data dir, when no database URL is given
MAX_UPSTREAM_WAIT = 3600.0  # seconds: a bound longer than an hour is a typo, not a bound
DEFAULT_PULL_FLUSH_INTERVAL = 5.0  # seconds
MAX_PULL_FLUSH_INTERVAL = 3600.0  # seconds: pulls an hour old are what a crash would lose
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")
_RULE_PREFIX = re.compile(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*")  # a pull-through cache rule's ecrRepositoryPrefix
# A host name or address with an optional port, as a Host header carries it (no scheme, no path).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?")


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
    # Client connections (http_server.py, connection_budget.py): seconds a request's headers may take to arrive
    # (from connecting, or from the first byte of a later request), seconds a connection may wait for its next
    # request, seconds a request body may fall silent, and how many a worker holds (0: half of what its open-file
    # limit leaves room for).
    header_timeout: float = 15.0
    idle_timeout: float = 60.0
    body_timeout: float = 60.0
    max_connections: int = 0
    upload_expiry: float = 7 * 24 * 3600.0  # seconds after which an unfinished upload is discarded
    # Garbage collection (registry/collection.py): seconds between runs, in one worker at a time (0: only
    # `pullcache gc`), and how long a blob linked into a repository but named by no manifest is kept (a push
    # uploads its blobs first).
    gc_interval: float = 3600.0
    gc_grace: float = 3600.0
    # The pull-through cache's size cap, and the free space to keep on the data dir's disk: past either, the least
    # recently pulled cached images are evicted, checked every eviction_interval seconds (pullthrough/eviction.py).
    # 0: no cap.
    cache_max_bytes: int = 0
    cache_min_free_bytes: int = 0
    eviction_interval: float = 10.0
    # Seconds between applications of the repositories' lifecycle policies, in one worker at a time (0: never).
    # ECR expires what a policy selects "within 24 hours" (ecr/lifecycle_expiry.py).
    lifecycle_interval: float = 3600.0
    # Pulls are counted in memory and written every this many seconds, and at a stop (registry/pull_records.py):
    # each flush is a write, which makes every worker's read cache start over, and a crash loses at most one
    # interval of pulls. ECR itself refreshes lastRecordedPullTime only "at least once every 24 hours".
    pull_flush_interval: float = DEFAULT_PULL_FLUSH_INTERVAL
    # Record no pulls at all (no lastRecordedPullTime, no pull counts): what the benchmark compares against.
    record_pulls: bool = True
    # The audit trail (audit/): <data-dir>/audit/audit.log, rotated past audit_max_bytes, audit_keep rotated files
    # kept; with audit_pulls, pulls (BatchGetImage, GetDownloadUrlForLayer, /v2/ GETs) are written too.
    audit_max_bytes: int = DEFAULT_AUDIT_MAX_BYTES
    audit_keep: int = DEFAULT_AUDIT_KEEP
    audit_pulls: bool = False
    account_id: str = DEFAULT_ACCOUNT_ID  # the account created on first start
    region: str = "us-east-1"  # the default region of the AWS APIs and of /v2/
    # Where clients reach the registry, as the URIs and URLs the server hands out name it (core/public_hosts.py):
    # a `host[:port]` for the default registry, and a domain under which every registry has its ECR-form host
    # `<account>.dkr.ecr.<region>.<domain>`. Neither: the host an API call arrived at.
    public_host: str | None = None
    registry_domain: str | None = None
    # The root access key to create on first start instead of a random one (PULLCACHE_ROOT_* variables).
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = field(default=None, repr=False)
    # /v2/ requests without credentials act as the root user of their account: for labs and tests of the OCI
    # protocol alone, never for a registry others can reach.
    anonymous_registry: bool = False
    # Docker's daemon using this server as its Docker Hub mirror (`registry-mirrors`): the port it is given, where
    # every name is Docker Hub's and is served from the pull-through cache rule of prefix `docker_hub_mirror`, and
    # `/v2/` answers callers without credentials, as Docker's daemon needs (registry/api/mirror.py).
    docker_hub_mirror: str | None = None
    docker_hub_mirror_port: int | None = None
    # Seconds a new pull-through cache rule serves a cached tag before asking its upstream again (0: every pull).
    tag_ttl: float = 24 * 3600.0
    # Fetch every platform of a multi-platform image pulled through the cache, not only those clients ask for.
    prefetch_platforms: bool = False
    # Seconds each wait on an upstream may take (pullthrough/upstream/client.py): a new connection, the first byte
    # of an answer, each silence within a body, a whole request with its retries (a blob's body aside: it is
    # bounded by the idle bound alone), and a cached tag's check (then the cached copy is served).
    upstream_connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    upstream_first_byte_timeout: float = DEFAULT_FIRST_BYTE_TIMEOUT
    upstream_idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    upstream_request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    upstream_tag_check_timeout: float = DEFAULT_TAG_CHECK_TIMEOUT
    # An upstream that failed this many times in a row is not asked for this many seconds, then probed once
    # (pullthrough/upstream/breaker.py).
    upstream_breaker_failures: int = DEFAULT_FAILURES_TO_OPEN
    upstream_breaker_cooldown: float = DEFAULT_COOL_DOWN
    # Where pull-through cache upstreams may be: CIDRs, addresses and host names (pullthrough/destinations.py).
    # Link-local addresses are refused unless allowed; an allow list, when given, is all that is allowed.
    upstream_allow: tuple[str, ...] = ()
    upstream_deny: tuple[str, ...] = ()
    # Prometheus metrics at /metrics (observability/): on the API's port, or only on `metrics_port` (every worker
    # listens on it); with `metrics_token`, only for scrapes that present it as a Bearer token.
    metrics_port: int | None = None
    metrics_token: str | None = field(default=None, repr=False)
    # HTTPS on the API's port (tls/): a certificate file (PEM, its chain after it) and its key file, or `tls`
    # self-signed: a local CA in <data-dir>/tls issues one for `tls_names` (empty: tls.default_names). SIGHUP
    # reloads the files. The metrics port stays plain HTTP.
    tls: str = TLS_OFF
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_names: tuple[str, ...] = ()

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
        if self.header_timeout <= 0 or self.idle_timeout <= 0 or self.body_timeout <= 0:
            raise ConfigError("the header, idle and body timeouts must be positive")
        if self.max_connections < 0:
            raise ConfigError("max connections must be at least 1, or 0 for the default")
        if self.upload_expiry <= 0:
            raise ConfigError("upload expiry must be positive")
        if self.gc_interval < 0 or self.gc_grace < 0:
            raise ConfigError("the garbage collection interval and grace period must not be negative")
        if self.cache_max_bytes < 0 or self.cache_min_free_bytes < 0:
            raise ConfigError("the cache's size cap and free space must not be negative (0: none)")
        if self.eviction_interval <= 0:
            raise ConfigError("the eviction interval must be positive")
        if self.lifecycle_interval < 0:
            raise ConfigError("the lifecycle interval must not be negative (0: never)")
        if not 0 < self.pull_flush_interval <= MAX_PULL_FLUSH_INTERVAL:
            raise ConfigError(f"the pull flush interval must be above 0 and at most {MAX_PULL_FLUSH_INTERVAL:g} s")
        if self.tag_ttl < 0:
            raise ConfigError("the tag TTL must not be negative")
        if self.audit_max_bytes < 1024 or self.audit_keep < 0:
            raise ConfigError("the audit file's size must be at least 1024 bytes, the files kept at least 0")
        if self.workers > 1 and self.port == 0:
            raise ConfigError("several workers need a fixed port to share")
        if not (len(self.account_id) == 12 and self.account_id.isdigit()):
            raise ConfigError(f"an account id is 12 digits, not {self.account_id!r}")
        if _REGION.fullmatch(self.region) is None:
            raise ConfigError(f"{self.region!r} is not a region name like us-east-1")
        for setting, host in (("public host", self.public_host), ("registry domain", self.registry_domain)):
            if host is not None and _HOST.fullmatch(host) is None:
                raise ConfigError(f"the {setting} is a host with an optional port (no scheme, no path), not {host!r}")
        mirror = self.docker_hub_mirror
        if mirror is not None and not (2 <= len(mirror) <= 30 and _RULE_PREFIX.fullmatch(mirror)):
            raise ConfigError(
                f"the Docker Hub mirror is a pull-through cache rule's prefix, like docker-hub, not {mirror!r}"
            )
        if (mirror is None) != (self.docker_hub_mirror_port is None):
            raise ConfigError("give the Docker Hub mirror's rule prefix and its port together, or neither")
        if self.docker_hub_mirror_port is not None and (
            not 1 <= self.docker_hub_mirror_port <= 65535
            or self.docker_hub_mirror_port in {self.port, self.metrics_port}
        ):
            raise ConfigError(
                f"the Docker Hub mirror port must be 1-65535 and a port of its own, not {self.docker_hub_mirror_port}"
            )
        if (self.root_access_key_id is None) != (self.root_secret_access_key is None):
            raise ConfigError("give both the root access key id and its secret, or neither")
        for bound, seconds in (
            ("connect", self.upstream_connect_timeout),
            ("first byte", self.upstream_first_byte_timeout),
            ("idle", self.upstream_idle_timeout),
            ("request", self.upstream_request_timeout),
            ("tag check", self.upstream_tag_check_timeout),
        ):
            if not 0 < seconds <= MAX_UPSTREAM_WAIT:
                raise ConfigError(f"the upstream {bound} timeout must be above 0 and at most {MAX_UPSTREAM_WAIT:g} s")
        if self.upstream_breaker_failures < 1:
            raise ConfigError("the upstream breaker opens after at least 1 failure")
        if not 0 <= self.upstream_breaker_cooldown <= MAX_UPSTREAM_WAIT:
            raise ConfigError(f"the upstream breaker's cool-down must be 0-{MAX_UPSTREAM_WAIT:g} s")
        if self.metrics_port is not None and not (0 < self.metrics_port <= 65535 and self.metrics_port != self.port):
            raise ConfigError(f"the metrics port must be 1-65535 and not the API's port, not {self.metrics_port}")
        if self.metrics_token is not None and not self.metrics_token.strip():
            raise ConfigError("the metrics token must not be empty")
        for kind, entries in (("allow", self.upstream_allow), ("deny", self.upstream_deny)):
            try:
                DestinationPolicy(allow=entries)
            except InvalidDestination as error:
                raise ConfigError(f"upstream {kind} list: {error}") from None
        self._check_tls()

    def _check_tls(self) -> None:
        if self.tls not in (TLS_OFF, TLS_SELF_SIGNED):
            raise ConfigError(f"--tls is {TLS_OFF} or {TLS_SELF_SIGNED}, not {self.tls!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("give both the TLS certificate file and its key file, or neither")
        if self.tls == TLS_SELF_SIGNED and self.tls_cert is not None:
            raise ConfigError("give either a TLS certificate and key or --tls self-signed, not both")
        if self.tls_names and self.tls != TLS_SELF_SIGNED:
            raise ConfigError("TLS names are those of a self-signed certificate: give them with --tls self-signed")
        for name in self.tls_names:
            try:
                check_certificate_name(name)
            except ValueError as error:
                raise ConfigError(f"TLS names: {error}") from None

    @property
    def tls_enabled(self) -> bool:
        return self.tls == TLS_SELF_SIGNED or self.tls_cert is not None

    @property
    def scheme(self) -> str:
        """How clients reach the API's port: https with TLS, else http."""
        return "https" if self.tls_enabled else "http"

    @property
    def upstream_destinations(self) -> DestinationPolicy:
        return DestinationPolicy(allow=self.upstream_allow, deny=self.upstream_deny)

    @property
    def public_hosts(self) -> PublicHosts:
        """The hosts the server hands out for its registries."""
        return PublicHosts(
            RegistryScope(self.account_id, self.region), self.public_host, self.registry_domain, self.scheme
        )

    @property
    def endpoint_url(self) -> str:
        """Where AWS tools reach this server (the files written on first start): the public host when one is set,
        else the address it listens on."""
        if self.public_host is not None:
            return f"{self.scheme}://{self.public_host}"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / DATABASE_FILE}"
