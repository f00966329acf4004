"""What recording pulls costs (issue 12): warm manifest GETs and small-blob GETs a second against pullcache with
pull recording off and on, in the same run, the rounds alternating between them as the core suite's do.

Each round starts each variant fresh over an empty directory (one worker, the access log on, as in the core
suite), pushes a one-layer image and a small blob, loads the manifest by tag, the manifest by digest and the blob
with wrk, and stops the server. The variants:

    recording off           --no-pull-records: no pull is recorded at all
    recording on            the defaults: pulls counted in memory, written every --pull-flush-interval seconds
    flushing every 0.1 s    --pull-flush-interval 0.1: fifty times the default's writes

A GET of a manifest is a pull; a GET of a blob is not, and shows whether anything leaked onto the other path. After
each round of a recording variant, the pull count the server wrote (flushed as it stopped) is read back with the
admin listing and set against the manifest GETs wrk counted: the figure is only worth something if the pulls were
recorded.

The difference of each recording variant's median to recording off is set against the noise: the spread of the
rounds of each of the two (largest minus smallest, over the median). A difference smaller than the larger spread
is within noise. On a shared machine that noise can be tens of percent, so the suite also times, in its own
process and free of the network, what a pull adds to the request path: one `PullRecords.record` call.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.cpu import pids_of, watch_cpu
from bench.image import BlobFile, Image, write_image, write_random_blob
from bench.metrics import BLOB_GET, LABELS, MANIFEST_BY_DIGEST, MANIFEST_BY_TAG
from bench.report import OTHER_CPU, foreign_at_median, grid, samples_record, share_cell
from bench.samples import Disturbance, Sample, Samples
from bench.targets import ACCESS_LOGGED
from bench.transfers import connect, fetch_verified, push_blob, push_image
from bench.wrk import run_wrk
from pullcache import admin
from pullcache.config import DEFAULT_ACCOUNT_ID, Settings
from pullcache.core.digests import Digest
from pullcache.core.mediatypes import OCI_MANIFEST
from pullcache.core.scopes import RegistryScope
from pullcache.registry.ports import ManifestRecord
from pullcache.registry.pull_records import ImagePulls, PullRecords
from testkit.servers import PullcacheServer

RECORDING_OFF = "recording-off"
RECORDING_ON = "recording-on"
FREQUENT_FLUSHES = "flush-0.1s"
VARIANTS = {
    RECORDING_OFF: ("--no-pull-records",),
    RECORDING_ON: (),
    FREQUENT_FLUSHES: ("--pull-flush-interval", "0.1"),
}
DESCRIPTIONS = {
    RECORDING_OFF: "pullcache serve --no-pull-records",
    RECORDING_ON: f"pullcache serve (pulls flushed every {Settings().pull_flush_interval:g} s)",
    FREQUENT_FLUSHES: "pullcache serve --pull-flush-interval 0.1",
}
METRICS = (MANIFEST_BY_TAG, MANIFEST_BY_DIGEST, BLOB_GET)
PULLS = (MANIFEST_BY_TAG, MANIFEST_BY_DIGEST)  # the loads whose requests are pulls
REPOSITORY = "bench/pulls"
TAG = "v1"
LAYER_BYTES = 4096
RECORD_CALLS = 100_000
RECORD_ROUNDS = 5


@dataclass(frozen=True, slots=True)
class BookkeepingSettings:
    repeats: int
    wrk_seconds: int
    wrk_connections: int
    wrk_threads: int
    small_blob_bytes: int


@dataclass
class BookkeepingRun:
    settings: BookkeepingSettings
    disturbance: Disturbance
    work_dir: Path
    samples: Samples = field(default_factory=dict)
    # variant -> one (pulls the server recorded, manifest GETs wrk counted) per round
    recorded: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    record_call_us: float = 0.0  # what one PullRecords.record costs, in microseconds (best of RECORD_ROUNDS)

    def execute(self) -> Samples:
        self.record_call_us = record_call_cost()
        _say(f"PullRecords.record: {self.record_call_us:.2f} us a call")
        content = self.work_dir / "content"
        image = write_image(content, 1, LAYER_BYTES)
        blob = write_random_blob(content, self.settings.small_blob_bytes)
        variants = list(VARIANTS)
        for repetition in range(self.settings.repeats):
            order = variants if repetition % 2 == 0 else list(reversed(variants))
            for variant in order:
                self._measure_round(variant, repetition, image, blob)
        return self.samples

    def _measure_round(self, variant: str, repetition: int, image: Image, blob: BlobFile) -> None:
        data_dir = self.work_dir / f"{variant}-{repetition}" / "data"
        data_dir.parent.mkdir(parents=True)
        server = PullcacheServer(
            data_dir, log_level=ACCESS_LOGGED, anonymous_registry=True, extra_args=VARIANTS[variant]
        ).start()
        requests: dict[str, list[int]] = {}  # metric -> the requests of every attempt (a retaken sample pulled too)
        try:
            asyncio.run(_push(server.url, image, blob))
            for metric, (path, headers) in _loads(image, blob).items():
                made = requests.setdefault(metric, [])
                measure = functools.partial(self._load, f"{server.url}{path}", headers, server, made)
                sample = self.disturbance.undisturbed(measure)
                self.samples.setdefault(variant, {}).setdefault(metric, []).append(sample)
        finally:
            server.stop()
        rates = ", ".join(f"{metric} {self.samples[variant][metric][-1].value:,.0f}/s" for metric in METRICS)
        note = ""
        if variant != RECORDING_OFF:
            pulled = _pull_count(data_dir)
            gets = sum(sum(requests[metric]) for metric in PULLS)
            self.recorded.setdefault(variant, []).append((pulled, gets))
            note = f"; {pulled:,} pulls recorded for {gets:,} manifest GETs wrk counted"
        _say(f"{variant} round {repetition + 1}: {rates}{note}")

    def _load(self, url: str, headers: dict[str, str], server: PullcacheServer, made: list[int]) -> Sample:
        """Requests a second wrk gets from `url` and the server's CPU microseconds per request; the number of
        requests wrk counted is added to `made`."""
        with watch_cpu(pids_of([server])) as cpu:
            result = run_wrk(
                url,
                seconds=self.settings.wrk_seconds,
                connections=self.settings.wrk_connections,
                threads=self.settings.wrk_threads,
                headers=headers,
            )
        made.append(result.requests)
        return Sample(
            result.requests_per_second,
            cpu.server_seconds / result.requests * 1e6,
            cpu.foreign_share,
            {**asdict(result), "server_cpu_seconds": cpu.server_seconds},
        )


def record_call_cost() -> float:
    """Microseconds one `PullRecords.record` takes on the request path: the best of RECORD_ROUNDS rounds of
    RECORD_CALLS calls, over pulls of a few images in a few repositories, as a warm registry sees them (nothing is
    flushed: a flush runs in its own task, off the request path)."""
    pulls = PullRecords(_DiscardedPulls())
    scope = RegistryScope(DEFAULT_ACCOUNT_ID, Settings().region)
    images = [
        (f"bench/repository-{index % 4}", ManifestRecord(Digest.of(str(index).encode()), OCI_MANIFEST, b"{}"))
        for index in range(16)
    ]
    best = float("inf")
    for _ in range(RECORD_ROUNDS):
        started = time.perf_counter()
        for call in range(RECORD_CALLS):
            repository, manifest = images[call % len(images)]
            pulls.record(scope, repository, manifest)
        best = min(best, time.perf_counter() - started)
    return best / RECORD_CALLS * 1e6


class _DiscardedPulls:
    """A PullRecordStore that keeps nothing: the timing never flushes."""

    async def record_pulls(self, pulls: Sequence[ImagePulls]) -> None:
        return None


def run_pull_bookkeeping(settings: BookkeepingSettings, disturbance: Disturbance, work_dir: Path) -> BookkeepingRun:
    """Every round; `work_dir` (empty, and the caller's to remove) holds the content and the servers' data."""
    run = BookkeepingRun(settings, disturbance, work_dir)
    run.execute()
    return run


def render_bookkeeping_table(run: BookkeepingRun) -> str:
    """Medians by variant, the server's CPU per request, and each recording variant against recording off."""
    variants = list(VARIANTS)
    samples = run.samples
    figures = [["median of rounds", *variants, OTHER_CPU]]
    for metric in METRICS:
        values = [_median(samples, variant, metric) for variant in variants]
        foreign = foreign_at_median(samples, variants, metric)
        figures.append([LABELS[metric], *(f"{value:,.0f}" for value in values), share_cell(foreign)])
    costs = [["server CPU, us per request", *variants]]
    for metric in METRICS:
        costs.append(
            [
                LABELS[metric].removesuffix(", req/s"),
                *(f"{statistics.median(s.server_cost for s in samples[v][metric]):,.0f}" for v in variants),
            ]
        )
    compared = [variant for variant in variants if variant != RECORDING_OFF]
    differences = [["against recording off", *compared]]
    for metric in METRICS:
        differences.append([LABELS[metric], *(_difference_cell(samples, variant, metric) for variant in compared)])
    manifest_cpu = statistics.median(s.server_cost for s in samples[RECORDING_OFF][MANIFEST_BY_TAG])
    differences.append(
        [
            "PullRecords.record, us a call",
            *(f"{run.record_call_us:.2f} ({run.record_call_us / manifest_cpu:.2%} of a GET)" for _ in compared),
        ]
    )
    recorded = [["pulls recorded / manifest GETs wrk counted", *compared]]
    rounds = max(len(run.recorded.get(variant, [])) for variant in compared)
    for index in range(rounds):
        recorded.append(
            [f"round {index + 1}", *(_recorded_cell(run.recorded.get(variant, []), index) for variant in compared)]
        )
    return "\n\n".join(grid(section) for section in (figures, costs, differences, recorded))


def bookkeeping_record(run: BookkeepingRun) -> dict[str, object]:
    """The suite's part of the JSON file."""
    return {
        "settings": asdict(run.settings),
        "variants": dict(DESCRIPTIONS),
        "medians": {
            variant: {metric: _median(run.samples, variant, metric) for metric in METRICS} for variant in run.samples
        },
        "spreads": {
            variant: {metric: spread(run.samples, variant, metric) for metric in METRICS} for variant in run.samples
        },
        "pulls_recorded": {variant: [list(pair) for pair in pairs] for variant, pairs in run.recorded.items()},
        "record_call_us": run.record_call_us,
        "samples": samples_record(run.samples),
    }


def spread(samples: Samples, variant: str, metric: str) -> float:
    """How far the rounds of one figure lie apart: (largest - smallest) / median."""
    values = [sample.value for sample in samples[variant][metric]]
    return (max(values) - min(values)) / statistics.median(values)


def _median(samples: Samples, variant: str, metric: str) -> float:
    return statistics.median(sample.value for sample in samples[variant][metric])


def _difference_cell(samples: Samples, variant: str, metric: str) -> str:
    difference = _median(samples, variant, metric) / _median(samples, RECORDING_OFF, metric) - 1
    noise = max(spread(samples, variant, metric), spread(samples, RECORDING_OFF, metric))
    verdict = "within noise" if abs(difference) <= noise else "beyond noise"
    return f"{difference:+.1%} (spread {noise:.1%}: {verdict})"


def _recorded_cell(pairs: Sequence[tuple[int, int]], index: int) -> str:
    if index >= len(pairs):
        return "-"
    pulled, gets = pairs[index]
    return f"{pulled:,} / {gets:,}"


def _loads(image: Image, blob: BlobFile) -> dict[str, tuple[str, dict[str, str]]]:
    """What wrk loads: metric -> (path, request headers)."""
    manifest_headers = {"Accept": image.media_type}
    return {
        MANIFEST_BY_TAG: (f"/v2/{REPOSITORY}/manifests/{TAG}", manifest_headers),
        MANIFEST_BY_DIGEST: (f"/v2/{REPOSITORY}/manifests/{image.manifest_digest}", manifest_headers),
        BLOB_GET: (f"/v2/{REPOSITORY}/blobs/{blob.digest}", {}),
    }


async def _push(url: str, image: Image, blob: BlobFile) -> None:
    async with connect(url) as client:
        await push_image(client, REPOSITORY, TAG, image)
        await push_blob(client, REPOSITORY, blob)
        await fetch_verified(client, f"{url}/v2/{REPOSITORY}/blobs/{blob.digest}", blob)


def _pull_count(data_dir: Path) -> int:
    """The pulls the stopped server wrote for the bench's repository, as `pullcache repositories` reads them."""
    scope = RegistryScope(DEFAULT_ACCOUNT_ID, Settings().region)
    [usage] = [found for found in admin.list_repositories(data_dir, scope) if found.name == REPOSITORY]
    return usage.pulls


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
