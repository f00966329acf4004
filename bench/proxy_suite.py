"""Set up and tear down the pull-through comparison: write the images, start the upstream (plain Distribution)
and seed it, start the counting proxy in front of it and the file server for the ceilings, run the rounds, and
stop everything again."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.counting_proxy import CountingProxy
from bench.fileserver import FileServer
from bench.proxy_images import ContentSizes, seed_upstream, write_content
from bench.proxy_run import LoadSettings, ProxyRun
from bench.proxy_targets import CacheTarget
from bench.samples import Samples
from testkit.servers import DistributionServer


@dataclass(frozen=True, slots=True)
class ProxySettings:
    sizes: ContentSizes
    targets: Sequence[CacheTarget]
    repeats: int
    pullers: int
    load: LoadSettings


def run_proxy_suite(settings: ProxySettings, work_dir: Path) -> Samples:
    """Every round of the comparison; `work_dir` (empty, and the caller's to remove) holds the images and data."""
    sizes = settings.sizes
    _say(
        f"writing the upstream's images to {work_dir} (A {sizes.large_layers} x {sizes.large_layer_bytes >> 20} MiB, "
        f"B {sizes.small_layers} x {sizes.small_layer_bytes >> 10} KiB, big {sizes.big_bytes >> 20} MiB) ..."
    )
    content = write_content(work_dir / "content", sizes)
    with ExitStack() as running:
        upstream = DistributionServer(work_dir / "upstream").start()
        running.callback(upstream.stop)
        _say(f"seeding the upstream with {content.total_bytes / 1e6:,.0f} MB ...")
        asyncio.run(seed_upstream(upstream.url, content))
        counter = CountingProxy(upstream.url).start()
        running.callback(counter.stop)
        files = FileServer(content.large.config.path.parent).start()
        running.callback(files.stop)
        run = ProxyRun(
            content,
            counter,
            upstream.url,
            files,
            settings.targets,
            settings.repeats,
            settings.pullers,
            settings.load,
            work_dir,
            helper_pids=[p.pid for p in (upstream.process, counter.process, files.process) if p is not None],
        )
        return run.execute()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
