"""The pull-through comparison: caches in front of one upstream, rounds alternating between them.

The upstream (plain Distribution, seeded once) sits behind a counting proxy (counting_proxy.py), and every cache
is pointed at the proxy, so that the bytes each cache asked of the upstream are counted per blob. A round of one
cache starts it three times over an empty directory, because every cold figure needs an empty cache:

    1st start   TTFB of the cold probe blob; A cold, A warm; B cold, B warm; the index cold; then the manifest
                loads (GET and HEAD, by tag and by digest), with the server's RSS before and after
    2nd start   N concurrent cold pullers of A, each with its own connections
    3rd start   the big image cold, then warm, the server's peak RSS sampled meanwhile

Each repetition first measures the references: the upstream's own TTFB (directly and through the counter) and
the client pulling A (alone and N at once) from a plain sendfile file server. Cold samples cannot be taken
again on the same server, so no sample is retaken; each records the share of the CPUs other processes took.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import psutil

from bench import proxy_metrics as m
from bench.counting_proxy import CountingProxy, UpstreamCounts
from bench.cpu import Started, pids_of, watch_cpu
from bench.fileserver import FileServer
from bench.headload import run_head_load
from bench.image import BlobFile, Image
from bench.proxy_images import BIG, LARGE, MULTI, PROBE, SMALL, TAG, ImageIndex, UpstreamContent
from bench.proxy_targets import CacheTarget, RunningCache
from bench.samples import Sample, Samples
from bench.transfers import connect, fetch_verified, pull_image, pull_index
from bench.wrk import WrkResult, run_wrk
from testkit.rss import RssSampler, tree_rss

RSS_SAMPLE_SECONDS = 0.02  # how often the server's memory is sampled while it streams the big blob
MB = 1e6
SETTLE_POLL_SECONDS = 0.1
SETTLE_QUIET_POLLS = 3  # the upstream's counts unchanged this many polls running: the cache asks no more
SETTLE_LIMIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class LoadSettings:
    seconds: int
    connections: int
    threads: int


@dataclass
class ProxyRun:
    content: UpstreamContent
    counter: CountingProxy
    upstream_url: str  # the upstream itself, for its TTFB without the counter
    files: FileServer  # the content's files, for the client's ceilings
    targets: Sequence[CacheTarget]
    repeats: int
    pullers: int
    load: LoadSettings
    work_dir: Path
    helper_pids: Sequence[int] = ()  # the upstream's and the counter's: the benchmark's CPU, not other processes'
    samples: Samples = field(default_factory=dict)

    def execute(self) -> Samples:
        for repetition in range(self.repeats):
            self._measure_references()
            order = self.targets if repetition % 2 == 0 else list(reversed(self.targets))
            for target in order:
                self._measure_round(target, repetition)
        return self.samples

    # -- references ---------------------------------------------------------------------------------------------

    def _measure_references(self) -> None:
        probe = self.content.probe_blob
        for name, base in ((m.UPSTREAM_DIRECT, self.upstream_url), (m.UPSTREAM_COUNTED, self.counter.url)):
            url = f"{base}/v2/{PROBE}/blobs/{probe.digest}"
            self._timed(name, m.TTFB_MS, [], functools.partial(_first_byte, url, probe, {}), scale=1000)
        blobs = self.content.large.blobs
        urls = [(f"{self.files.url}/{blob.path.name}", blob) for blob in blobs]

        async def pull_files() -> None:
            async with connect(self.files.url) as client:
                await asyncio.gather(*(fetch_verified(client, url, blob) for url, blob in urls))

        async def pull_files_at_once() -> None:
            await asyncio.gather(*(pull_files() for _ in range(self.pullers)))

        alone = self._timed(m.CEILING, m.COLD_LARGE_MB_S, [self.files], pull_files, per=self.content.large.blob_bytes)
        together = self._timed(m.CEILING, m.PULLERS_SECONDS, [self.files], pull_files_at_once)
        _progress(
            f"references: upstream TTFB {self.samples[m.UPSTREAM_DIRECT][m.TTFB_MS][-1].value:.1f} ms, "
            f"client from a sendfile server {alone.value:.0f} MB/s, {self.pullers} at once {together.value:.2f} s"
        )

    # -- a round ------------------------------------------------------------------------------------------------

    def _measure_round(self, target: CacheTarget, repetition: int) -> None:
        content, name = self.content, target.name
        with self._fresh_caches(target, self.work_dir / f"proxy-{name}-{repetition}") as fresh:
            cache = fresh()
            servers = [cache.server]
            asyncio.run(_pull(cache, PROBE, content.probe))  # the repository is known, its extra blob is not
            self._wait_for_upstream_quiet()
            probe_url = f"{cache.url}/v2/{cache.repository(PROBE)}/blobs/{content.probe_blob.digest}"
            self._timed(
                name, m.TTFB_MS, servers, lambda: _first_byte(probe_url, content.probe_blob, cache.headers), scale=1000
            )
            self._cold(name, cache, LARGE, content.large, m.COLD_LARGE_SECONDS, m.COLD_LARGE_UPSTREAM)
            cold = self.samples[name][m.COLD_LARGE_SECONDS][-1]
            self._record(name, m.COLD_LARGE_MB_S, replace(cold, value=content.large.blob_bytes / cold.value / MB))
            self._timed(
                name,
                m.WARM_LARGE_MB_S,
                servers,
                lambda: _pull(cache, LARGE, content.large),
                per=content.large.blob_bytes,
            )
            self._cold(name, cache, SMALL, content.small, m.COLD_SMALL_SECONDS, m.COLD_SMALL_UPSTREAM)
            self._timed(name, m.WARM_SMALL_SECONDS, servers, lambda: _pull(cache, SMALL, content.small))
            self._cold(name, cache, MULTI, None, m.COLD_INDEX_SECONDS, m.COLD_INDEX_UPSTREAM)
            self._measure_loads(name, cache)

            cache = fresh()
            self.counter.reset()
            pullers = self.pullers
            self._timed(name, m.PULLERS_SECONDS, [cache.server], lambda: _all(cache, LARGE, content.large, pullers))
            self._record_upstream(name, m.PULLERS_UPSTREAM, content.large.blobs)

            cache = fresh()
            for speed, peak in ((m.COLD_BIG_MB_S, m.COLD_BIG_RSS_MB), (m.WARM_BIG_MB_S, m.WARM_BIG_RSS_MB)):
                assert cache.server.process is not None
                with RssSampler(cache.server.process.pid, interval=RSS_SAMPLE_SECONDS) as rss:
                    sample = self._timed(
                        name, speed, [cache.server], lambda: _pull(cache, BIG, content.big), per=content.big.blob_bytes
                    )
                self._record(name, peak, replace(sample, value=rss.peak / MB))
        found = {metric: samples[-1].value for metric, samples in self.samples[name].items()}
        _progress(
            f"{name}: A cold {found[m.COLD_LARGE_MB_S]:.0f} MB/s ({found[m.COLD_LARGE_UPSTREAM]:.2f}x upstream), "
            f"warm {found[m.WARM_LARGE_MB_S]:.0f} MB/s, TTFB {found[m.TTFB_MS]:.1f} ms, "
            f"{self.pullers} pullers {found[m.PULLERS_SECONDS]:.2f} s ({found[m.PULLERS_UPSTREAM]:.2f}x), "
            f"B cold {found[m.COLD_SMALL_SECONDS]:.2f} s, manifests GET/HEAD tag {found[m.GET_TAG_RPS]:.0f}/"
            f"{found[m.HEAD_TAG_RPS]:.0f}, digest {found[m.GET_DIGEST_RPS]:.0f}/{found[m.HEAD_DIGEST_RPS]:.0f} req/s, "
            f"big RSS {found[m.COLD_BIG_RSS_MB]:.0f}/{found[m.WARM_BIG_RSS_MB]:.0f} MB"
        )

    def _cold(
        self, name: str, cache: RunningCache, repository: str, image: Image | None, seconds: str, upstream: str
    ) -> None:
        """A cold pull of `image` (None: the index) timed, and the bytes the upstream served for it."""
        self.counter.reset()
        index = self.content.multi
        if image is None:
            self._timed(name, seconds, [cache.server], lambda: _pull_index(cache, index))
            self._record_upstream(name, upstream, index.blobs)
        else:
            self._timed(name, seconds, [cache.server], lambda: _pull(cache, repository, image))
            self._record_upstream(name, upstream, image.blobs)

    def _measure_loads(self, name: str, cache: RunningCache) -> None:
        large = cache.repository(LARGE)
        by_tag = f"{cache.url}/v2/{large}/manifests/{TAG}"
        by_digest = f"{cache.url}/v2/{large}/manifests/{self.content.large.manifest_digest}"
        headers = {"Accept": self.content.large.media_type, **cache.headers}
        assert cache.server.process is not None
        server = psutil.Process(cache.server.process.pid)
        loads = (
            (m.GET_TAG_RPS, by_tag),
            (m.HEAD_TAG_RPS, by_tag),
            (m.GET_DIGEST_RPS, by_digest),
            (m.HEAD_DIGEST_RPS, by_digest),
        )
        requests = 0
        baseline = 0
        for index, (metric, url) in enumerate(loads):
            sample = self._load(metric, url, headers, cache)
            self._record(name, metric, sample)
            if index == 0:
                baseline = tree_rss(server)  # after the first load: what warming up takes is not growth
            else:
                requests += int(sample.detail["requests"])
        growth = (tree_rss(server) - baseline) / MB
        self._record(name, m.RSS_GROWTH_MB, Sample(growth, 0.0, 0.0, {"requests": float(requests)}))

    def _load(self, metric: str, url: str, headers: dict[str, str], cache: RunningCache) -> Sample:
        with watch_cpu(pids_of([cache.server]), self.helper_pids) as cpu:
            result: WrkResult
            if metric in (m.HEAD_TAG_RPS, m.HEAD_DIGEST_RPS):
                result = run_head_load(
                    url, seconds=self.load.seconds, connections=self.load.connections, headers=headers
                )
            else:
                result = run_wrk(
                    url,
                    seconds=self.load.seconds,
                    connections=self.load.connections,
                    threads=self.load.threads,
                    headers=headers,
                )
        return Sample(
            result.requests_per_second,
            cpu.server_seconds / max(result.requests, 1) * 1e6,
            cpu.foreign_share,
            {**asdict(result), "server_cpu_seconds": cpu.server_seconds},
        )

    # -- recording ----------------------------------------------------------------------------------------------

    def _timed(
        self,
        target: str,
        metric: str,
        servers: Sequence[Started],
        transfer: Callable[[], Awaitable[object]],
        *,
        per: int | None = None,
        scale: float = 1.0,
    ) -> Sample:
        """Time one run of `transfer`: seconds (x `scale`), or MB/s if it moves `per` bytes. A transfer that returns
        a float reports its own time (a time to first byte)."""

        async def timed() -> float:
            started = time.perf_counter()
            own = await transfer()
            return own if isinstance(own, float) else time.perf_counter() - started

        with watch_cpu(pids_of(servers), self.helper_pids) as cpu:
            seconds = asyncio.run(timed())
        value = per / seconds / MB if per is not None else seconds * scale
        sample = Sample(value, cpu.server_seconds, cpu.foreign_share, {"seconds": seconds})
        return self._record(target, metric, sample)

    def _record_upstream(self, target: str, metric: str, blobs: Sequence[BlobFile]) -> None:
        """The bytes the upstream served of `blobs` since the counter's reset, as a multiple of their size."""
        served = self._wait_for_upstream_quiet().served([blob.digest for blob in blobs])
        size = sum(blob.size for blob in blobs)
        self._record(target, metric, Sample(served / size, 0.0, 0.0, {"bytes": float(served), "image": float(size)}))

    def _wait_for_upstream_quiet(self) -> UpstreamCounts:
        """The counts once a cache has stopped fetching (a fill may finish after the client has its bytes)."""
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        last, quiet = self.counter.counts(), 0
        while quiet < SETTLE_QUIET_POLLS and time.monotonic() < deadline:
            time.sleep(SETTLE_POLL_SECONDS)
            now = self.counter.counts()
            quiet = quiet + 1 if now == last else 0
            last = now
        return last

    def _record(self, target: str, metric: str, sample: Sample) -> Sample:
        self.samples.setdefault(target, {}).setdefault(metric, []).append(sample)
        return sample

    @contextmanager
    def _fresh_caches(self, target: CacheTarget, directory: Path) -> Iterator[Callable[[], RunningCache]]:
        """A function that starts `target` over an empty `directory`, stopping and wiping the previous one first."""
        running: list[RunningCache] = []

        def stop_and_wipe() -> None:
            while running:
                running.pop().stop()
            shutil.rmtree(directory, ignore_errors=True)

        def fresh() -> RunningCache:
            stop_and_wipe()
            directory.mkdir(parents=True)
            running.append(target.start(directory, self.counter.url))
            return running[-1]

        try:
            yield fresh
        finally:
            stop_and_wipe()


async def _pull(cache: RunningCache, repository: str, image: Image) -> None:
    async with connect(cache.url, headers=cache.headers) as client:
        await pull_image(client, cache.repository(repository), TAG, image)


async def _pull_index(cache: RunningCache, index: ImageIndex) -> None:
    async with connect(cache.url, headers=cache.headers) as client:
        await pull_index(client, cache.repository(MULTI), TAG, (index.manifest, index.media_type), index.images)


async def _all(cache: RunningCache, repository: str, image: Image, pullers: int) -> None:
    """`pullers` clients pulling `image` at once, each over connections of its own."""
    await asyncio.gather(*(_pull(cache, repository, image) for _ in range(pullers)))


async def _first_byte(url: str, blob: BlobFile, headers: dict[str, str]) -> float:
    async with connect(url, headers=headers) as client:
        return await fetch_verified(client, url, blob)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
