"""One benchmark run: rounds that alternate between the registries, each round on a freshly started server.

A round starts the registry over an empty directory, pushes the image (timed), pushes the small blob, pulls
the image (timed; the blobs are in the page cache, just written), loads three small GETs with wrk, and stops
the server. Each repetition first measures the client's ceilings, then runs one round per registry: in the
listed order, then in the reverse order, and so on, so that no registry always goes first. A sample disturbed
by other processes is taken again (see samples.py); a push is retried on a new, empty server.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.cpu import pids_of, watch_cpu
from bench.fileserver import FileServer
from bench.image import OCI_MANIFEST, BlobFile, Image
from bench.metrics import BLOB_GET, CLIENT_HASH, CLIENT_SENDFILE, MANIFEST_BY_DIGEST, MANIFEST_BY_TAG, PULL, PUSH
from bench.samples import Disturbance, Sample, Samples
from bench.targets import Server, Target
from bench.transfers import connect, fetch_verified, hash_files, pull_image, push_blob, push_image
from bench.wrk import run_wrk

REPOSITORY = "bench/image"
TAG = "v1"


@dataclass(frozen=True, slots=True)
class WrkSettings:
    seconds: int
    connections: int
    threads: int


@dataclass
class Run:
    image: Image
    small_blob: BlobFile
    targets: Sequence[Target]
    repeats: int
    wrk: WrkSettings
    disturbance: Disturbance
    work_dir: Path
    samples: Samples = field(default_factory=dict)

    def execute(self) -> Samples:
        ceiling_server = FileServer(self.image.config.path.parent).start()
        try:
            for repetition in range(self.repeats):
                self._measure_ceilings(ceiling_server)
                order = self.targets if repetition % 2 == 0 else list(reversed(self.targets))
                for target in order:
                    self._measure_round(target, repetition)
        finally:
            ceiling_server.stop()
        return self.samples

    def _measure_ceilings(self, file_server: FileServer) -> None:
        blobs = self.image.blobs
        urls = [(f"{file_server.url}/{blob.path.name}", blob) for blob in blobs]

        async def pull_from_file_server() -> None:
            async with connect(file_server.url) as client:
                await asyncio.gather(*(fetch_verified(client, url, blob) for url, blob in urls))

        over_http = self._record(
            CLIENT_SENDFILE, PULL, lambda: _throughput(self.image.blob_bytes, pull_from_file_server, [file_server])
        )
        hashed = self._record(
            CLIENT_HASH, PULL, lambda: _throughput(self.image.blob_bytes, lambda: hash_files(blobs), [])
        )
        _progress(
            f"client ceiling: pull from a sendfile server {over_http.value:.0f} MB/s, hash {hashed.value:.0f} MB/s"
        )

    def _measure_round(self, target: Target, repetition: int) -> None:
        with _fresh_servers(target, self.work_dir / f"{target.name}-{repetition}") as fresh_server:
            servers: list[Server] = []

            def push_to_fresh_server() -> Sample:
                servers.append(fresh_server())
                return _throughput(self.image.blob_bytes, _pusher(servers[-1].url, self.image), servers[-1:])

            pushed = self._record(target.name, PUSH, push_to_fresh_server)
            server = servers[-1]
            pulled = self._record(
                target.name, PULL, lambda: _throughput(self.image.blob_bytes, _puller(server.url, self.image), [server])
            )
            asyncio.run(_push_and_check_small_blob(server.url, self.small_blob))
            rates = []
            for metric, (url, headers) in _small_requests(server.url, self.image, self.small_blob).items():
                sample = self._record(target.name, metric, functools.partial(self._load, url, headers, server))
                rates.append(f"{metric} {sample.value:,.0f}/s")
        retried = sum(s[-1].attempts - 1 for s in self.samples[target.name].values())
        _progress(
            f"{target.name}: push {pushed.value:.0f} MB/s, pull {pulled.value:.0f} MB/s, {', '.join(rates)}"
            + (f" ({retried} retried)" if retried else "")
        )

    def _load(self, url: str, headers: dict[str, str], server: Server) -> Sample:
        """Requests a second wrk gets from `url`, and the server's CPU microseconds per request."""
        with watch_cpu(pids_of([server])) as cpu:
            result = run_wrk(
                url,
                seconds=self.wrk.seconds,
                connections=self.wrk.connections,
                threads=self.wrk.threads,
                headers=headers,
            )
        return Sample(
            result.requests_per_second,
            cpu.server_seconds / result.requests * 1e6,
            cpu.foreign_share,
            {**asdict(result), "server_cpu_seconds": cpu.server_seconds},
        )

    def _record(self, target: str, metric: str, measure: Callable[[], Sample]) -> Sample:
        sample = self.disturbance.undisturbed(measure)
        self.samples.setdefault(target, {}).setdefault(metric, []).append(sample)
        return sample


@contextmanager
def _fresh_servers(target: Target, directory: Path) -> Iterator[Callable[[], Server]]:
    """A function that starts `target` over an empty `directory`, stopping and wiping the previous one first."""
    running: list[Server] = []

    def stop_and_wipe() -> None:
        while running:
            running.pop().stop()
        shutil.rmtree(directory, ignore_errors=True)

    def fresh() -> Server:
        stop_and_wipe()
        directory.mkdir(parents=True)
        running.append(target.start(directory))
        return running[-1]

    try:
        yield fresh
    finally:
        stop_and_wipe()


def _small_requests(url: str, image: Image, small_blob: BlobFile) -> dict[str, tuple[str, dict[str, str]]]:
    """What wrk loads: metric -> (URL, request headers)."""
    manifest_headers = {"Accept": OCI_MANIFEST}
    return {
        BLOB_GET: (f"{url}/v2/{REPOSITORY}/blobs/{small_blob.digest}", {}),
        MANIFEST_BY_TAG: (f"{url}/v2/{REPOSITORY}/manifests/{TAG}", manifest_headers),
        MANIFEST_BY_DIGEST: (f"{url}/v2/{REPOSITORY}/manifests/{image.manifest_digest}", manifest_headers),
    }


def _pusher(url: str, image: Image) -> Callable[[], Awaitable[None]]:
    async def push() -> None:
        async with connect(url) as client:
            await push_image(client, REPOSITORY, TAG, image)

    return push


def _puller(url: str, image: Image) -> Callable[[], Awaitable[None]]:
    async def pull() -> None:
        async with connect(url) as client:
            await pull_image(client, REPOSITORY, TAG, image)

    return pull


async def _push_and_check_small_blob(url: str, blob: BlobFile) -> None:
    async with connect(url) as client:
        await push_blob(client, REPOSITORY, blob)
        await fetch_verified(client, f"{url}/v2/{REPOSITORY}/blobs/{blob.digest}", blob)


def _throughput(size: int, transfer: Callable[[], Awaitable[None]], servers: Sequence[Server | FileServer]) -> Sample:
    """MB/s (10^6 bytes a second) of one run of `transfer`, which moves `size` bytes, and what it cost the servers."""

    async def timed() -> float:
        started = time.perf_counter()
        await transfer()
        return time.perf_counter() - started

    with watch_cpu(pids_of(servers)) as cpu:
        elapsed = asyncio.run(timed())
    return Sample(
        size / elapsed / 1e6,
        cpu.server_seconds / (size / 1e9),
        cpu.foreign_share,
        {"seconds": elapsed, "bytes": float(size), "server_cpu_seconds": cpu.server_seconds},
    )


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
