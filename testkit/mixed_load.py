"""A mixed load on a running pullcache: pushes, pulls, pull-through imports and ECR API calls, measured over time.

The soak (bench/soak.py, and its short version in tests/reliability/test_soak.py) drives a server with this:
`clients` tasks, each drawing its next operation from its own seeded random source with the plan's weights:

    push     an image of a bounded pool (config and layers; the upload style turns with each push) under its tag,
             so the data a long run stores stays bounded and memory that grows is memory that leaks
    pull     an image pushed earlier, by tag: the manifest and every blob, each checked against its digest
    import   a new image pushed to the upstream, then pulled whole through the cache's rule (a manifest import
             and blob fills), every byte checked
    ecr      one ECR API call (DescribeRepositories, DescribeImages, BatchCheckLayerAvailability, ListImages)

Every HTTP request to the server is timed (from sending it to its answer's headers; an ECR call whole), every
operation that fails (an unexpected status, a byte that does not match, a connection error) is an error, and the
server's resident memory (its processes together) is sampled every `rss_interval`. The report cuts the run into
windows of `window_seconds`: requests, errors, p99 latency and RSS in each.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Final

import aiohttp
import psutil
from botocore.exceptions import ClientError

from testkit.aws_clients import client as aws_client
from testkit.registry_client import REQUEST_TIMEOUT, RegistryClient, UploadStyle
from testkit.rss import tree_rss
from testkit.servers import PullcacheServer
from testkit.small_images import pull_image, push_image, small_image

PUSH: Final = "push"
PULL: Final = "pull"
IMPORT: Final = "import"
ECR: Final = "ecr"
KIB: Final = 1024
MIB: Final = 1 << 20
RULE_PREFIX: Final = "soak-up"
UPSTREAM_REPOSITORIES: Final = 4  # the imports' images are spread over this many upstream repositories
PUSHED_REPOSITORIES: Final = 4
IMPORT_SEEDS: Final = 1_000_000  # an import's image seed: apart from every pushed image's
KEPT_ERROR_MESSAGES: Final = 20


@dataclass(frozen=True, slots=True)
class LoadPlan:
    seconds: float
    warmup_seconds: float  # RSS after warm-up is the window that ends here
    window_seconds: float
    clients: int = 6
    seed: int = 0
    weights: Mapping[str, int] = field(default_factory=lambda: {PUSH: 2, PULL: 5, IMPORT: 1, ECR: 2})
    layer_sizes: Sequence[int] = (16 * KIB, 96 * KIB)
    pushed_images: int = 24  # the pool pushes turn through
    rss_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class Window:
    start: float  # seconds since the load began
    requests: int
    errors: int
    p99_ms: float
    rss_bytes: int  # the median sample of the window (0: none taken)


@dataclass(slots=True)
class LoadReport:
    plan: LoadPlan
    windows: list[Window]
    operations: dict[str, int]
    error_messages: list[str]
    rss_after_warmup: int  # the median sample of the last window of warm-up
    rss_at_end: int  # the median sample of the last window

    @property
    def requests(self) -> int:
        return sum(window.requests for window in self.windows)

    @property
    def errors(self) -> int:
        return sum(window.errors for window in self.windows)

    @property
    def rss_growth(self) -> int:
        return self.rss_at_end - self.rss_after_warmup

    def growth_within(self, fraction: float, slack_bytes: int) -> bool:
        """RSS at the end is at most `fraction` (plus `slack_bytes`) above RSS after warm-up."""
        return self.rss_at_end <= self.rss_after_warmup * (1 + fraction) + slack_bytes


def render_windows(report: LoadReport) -> str:
    """The report as a table, a line a window."""
    lines = [f"{'from s':>7} {'requests':>9} {'errors':>7} {'p99 ms':>8} {'RSS MiB':>8}"]
    for window in report.windows:
        lines.append(
            f"{window.start:7.0f} {window.requests:9d} {window.errors:7d} {window.p99_ms:8.1f} "
            f"{window.rss_bytes / MIB:8.1f}"
        )
    return "\n".join(lines)


@dataclass(slots=True)
class _Events:
    """What the load saw, each stamped with seconds since it began."""

    started: float = field(default_factory=time.monotonic)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds)
    errors: list[float] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    operations: dict[str, int] = field(default_factory=dict)

    def now(self) -> float:
        return time.monotonic() - self.started

    def request(self, seconds: float) -> None:
        self.latencies.append((self.now(), seconds))

    def failure(self, operation: str, error: BaseException) -> None:
        self.errors.append(self.now())
        if len(self.error_messages) < KEPT_ERROR_MESSAGES:
            self.error_messages.append(f"{operation}: {type(error).__name__}: {error}"[:500])


class _Load:
    def __init__(self, server: PullcacheServer, upstream: RegistryClient, plan: LoadPlan, events: _Events) -> None:
        self._server = server
        self._upstream = upstream
        self._plan = plan
        self._events = events
        self._pushes = itertools.count()
        self._imports = itertools.count()
        self._pool = [small_image(seed, plan.layer_sizes) for seed in range(plan.pushed_images)]
        self._pushed: list[tuple[str, str]] = []  # (repository, tag) acknowledged, each once
        self._acknowledged: set[tuple[str, str]] = set()

    async def run_client(self, registry: RegistryClient, number: int, deadline: float) -> None:
        draw = random.Random(f"{self._plan.seed}/{number}")
        kinds, weights = zip(*self._plan.weights.items(), strict=True)
        ecr = aws_client(self._server, "ecr")
        while time.monotonic() < deadline:
            operation = draw.choices(kinds, weights)[0]
            if operation == PULL and not self._pushed:
                operation = PUSH
            self._events.operations[operation] = self._events.operations.get(operation, 0) + 1
            try:
                await self._run(operation, registry, ecr, draw)
            except (AssertionError, aiohttp.ClientError, TimeoutError, ClientError, OSError) as error:
                self._events.failure(operation, error)

    async def _run(self, operation: str, registry: RegistryClient, ecr: Any, draw: random.Random) -> None:
        if operation == PUSH:
            count = next(self._pushes)
            index = count % len(self._pool)
            repository, tag = f"soak/push-{index % PUSHED_REPOSITORIES}", f"p{index}"
            style = list(UploadStyle)[count % len(UploadStyle)]
            await push_image(registry, repository, self._pool[index], tag, style)
            if (repository, tag) not in self._acknowledged:
                self._acknowledged.add((repository, tag))
                self._pushed.append((repository, tag))
        elif operation == PULL:
            repository, tag = draw.choice(self._pushed)
            await pull_image(registry, repository, tag)
        elif operation == IMPORT:
            count = next(self._imports)
            image = small_image(IMPORT_SEEDS + count, self._plan.layer_sizes)
            upstream_repository, tag = f"lib/img-{count % UPSTREAM_REPOSITORIES}", f"i{self._plan.seed}-{count}"
            # CNCF Distribution 2.8 takes no monolithic POST: POST, then PUT.
            await push_image(self._upstream, upstream_repository, image, tag, UploadStyle.POST_PUT)
            digest, _ = await pull_image(registry, f"{RULE_PREFIX}/{upstream_repository}", tag)
            assert digest == image.digest, f"imported {digest}, upstream holds {image.digest}"
        else:
            await self._ecr_call(ecr, draw)

    async def _ecr_call(self, ecr: Any, draw: random.Random) -> None:
        repository = draw.choice(self._pushed)[0] if self._pushed else None
        calls: list[Callable[[], Any]] = [lambda: ecr.describe_repositories(maxResults=100)]
        if repository is not None:
            digests = list(self._pool[0].blob_digests)
            calls += [
                lambda: ecr.describe_images(repositoryName=repository, maxResults=100),
                lambda: ecr.batch_check_layer_availability(repositoryName=repository, layerDigests=digests),
                lambda: ecr.list_images(repositoryName=repository, maxResults=100),
            ]
        call = draw.choice(calls)
        started = time.monotonic()
        await asyncio.to_thread(call)
        self._events.request(time.monotonic() - started)


def _timing(events: _Events) -> aiohttp.TraceConfig:
    """Every request's time from sending to its answer's headers, into `events`."""
    trace = aiohttp.TraceConfig()

    async def start(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: object) -> None:
        context.started = time.monotonic()

    async def end(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: object) -> None:
        events.request(time.monotonic() - context.started)

    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(end)
    return trace


async def _sample_rss(pid: int, events: _Events, interval: float, stop: asyncio.Event) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        events.rss.append((events.now(), tree_rss(process)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def ensure_rule(server: PullcacheServer, upstream_url: str) -> None:
    """The pull-through cache rule the imports go through (RULE_PREFIX -> the upstream), created if missing."""
    ecr = aws_client(server, "ecr")
    with contextlib.suppress(ecr.exceptions.PullThroughCacheRuleAlreadyExistsException):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=RULE_PREFIX, upstreamRegistryUrl=upstream_url)


async def run_mixed_load(server: PullcacheServer, upstream_url: str, plan: LoadPlan) -> LoadReport:
    """Drive `server` (its /v2/ open to callers without credentials) for `plan.seconds`, importing from the
    registry at `upstream_url` (which takes pushes without credentials), and report what happened."""
    assert server.process is not None, "the server is not running"
    await asyncio.to_thread(ensure_rule, server, upstream_url)
    events = _Events()
    stop = asyncio.Event()
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=plan.clients * 2),
        timeout=REQUEST_TIMEOUT,
        auto_decompress=False,
        trace_configs=[_timing(events)],
    )
    async with session, RegistryClient.connect(upstream_url) as upstream:
        load = _Load(server, upstream, plan, events)
        sampler = asyncio.create_task(_sample_rss(server.process.pid, events, plan.rss_interval, stop))
        deadline = time.monotonic() + plan.seconds
        registry = RegistryClient(server.url, session)
        try:
            await asyncio.gather(*(load.run_client(registry, n, deadline) for n in range(plan.clients)))
        finally:
            stop.set()
            await sampler
    return _report(plan, events)


def _report(plan: LoadPlan, events: _Events) -> LoadReport:
    count = max(1, round(plan.seconds / plan.window_seconds))
    windows = []
    for index in range(count):
        start, end = index * plan.window_seconds, (index + 1) * plan.window_seconds
        if index == count - 1:
            end = float("inf")
        latencies = sorted(seconds for at, seconds in events.latencies if start <= at < end)
        samples = [rss for at, rss in events.rss if start <= at < end]
        windows.append(
            Window(
                start,
                len(latencies),
                sum(1 for at in events.errors if start <= at < end),
                _p99(latencies) * 1000,
                int(statistics.median(samples)) if samples else 0,
            )
        )
    warm = [w for w in windows if w.start < plan.warmup_seconds and w.rss_bytes] or windows[:1]
    return LoadReport(
        plan, windows, dict(events.operations), list(events.error_messages), warm[-1].rss_bytes, windows[-1].rss_bytes
    )


def _p99(sorted_values: Sequence[float]) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * 0.99))]
