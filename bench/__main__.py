"""Run the benchmark: `python -m bench` from the repository root (see bench/README.md)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from bench.cpu import machine_busy_share
from bench.image import write_image, write_random_blob
from bench.proxy_images import ContentSizes
from bench.proxy_report import proxy_record, render_proxy_table
from bench.proxy_run import LoadSettings
from bench.proxy_suite import ProxySettings, run_proxy_suite
from bench.proxy_targets import DEFAULT_CACHE_TARGETS, DISTRIBUTION_PROXY, CacheTarget, cache_targets
from bench.pull_bookkeeping import (
    BookkeepingRun,
    BookkeepingSettings,
    bookkeeping_record,
    render_bookkeeping_table,
    run_pull_bookkeeping,
)
from bench.report import now, record, render_table, write_record
from bench.runner import Run, WrkSettings
from bench.samples import Disturbance, Samples
from bench.targets import DEFAULT_TARGETS, DISTRIBUTION, PULLCACHE_LAUNCHED, Target, available_targets
from bench.wrk import wrk_available
from testkit.servers import distribution_binary

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1 << 20
QUIET_CHECK_SECONDS = 2.0
CORE = "core"
PROXY = "proxy"
PULLS = "pulls"
SUITES = (CORE, PROXY, PULLS)
QUIET_ENOUGH = 0.15  # busier than this before the start, and something else is running


def main(argv: Sequence[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    suites = set(arguments.suites)
    if not suites or suites - set(SUITES):
        sys.exit(f"--suites takes a comma-separated list of {', '.join(SUITES)}")
    targets = _targets(arguments) if CORE in suites else []
    names = [target.name for target in targets]
    baseline = arguments.baseline or (DISTRIBUTION if DISTRIBUTION in names else names[0] if names else "")
    if targets and baseline not in names:
        sys.exit(f"the baseline {baseline} is not among the targets")
    caches = _cache_targets(arguments) if PROXY in suites else []
    if not wrk_available():
        sys.exit("wrk is not installed: apt-get install -y wrk")
    if (DISTRIBUTION in names or PROXY in suites) and distribution_binary() is None:
        sys.exit("CNCF Distribution is not installed: apt-get install -y docker-registry")

    busy = machine_busy_share(QUIET_CHECK_SECONDS)
    if busy > QUIET_ENOUGH:
        _say(f"warning: the CPUs are {busy:.0%} busy before the run starts; figures will be low and noisy")
    started, clock = now(), time.monotonic()
    wrk = WrkSettings(arguments.wrk_seconds, arguments.wrk_connections, arguments.wrk_threads)
    samples = _measure(arguments, targets, wrk) if targets else {}
    proxy_settings = _proxy_settings(arguments, caches)
    proxy_samples = _measure_proxy(arguments, proxy_settings) if caches else {}
    bookkeeping = _measure_bookkeeping(arguments) if PULLS in suites else None
    elapsed = time.monotonic() - clock

    settings = {
        "layers": arguments.layers,
        "layer_bytes": arguments.layer_mib * MIB,
        "small_blob_bytes": arguments.small_blob_bytes,
        "repeats": arguments.repeats,
        "wrk": asdict(wrk),
        "max_other_cpu": arguments.max_other_cpu,
        "attempts": arguments.attempts,
        "retry_budget_seconds": arguments.retry_budget,
    }
    descriptions = {target.name: target.description for target in targets}
    content = record(
        samples,
        descriptions=descriptions,
        baseline=baseline,
        settings=settings,
        started=started,
        elapsed=elapsed,
        busy_before=busy,
    )
    if not targets:  # the pull-through comparison alone: no plain-registry figures to record
        for key in ("settings", "targets", "medians", "ratios", "samples"):
            del content[key]
    cache_names = [cache.name for cache in caches]
    if caches:
        content["proxy"] = proxy_record(proxy_samples, proxy_settings, cache_names, DISTRIBUTION_PROXY)
    if bookkeeping is not None:
        content["pull_bookkeeping"] = bookkeeping_record(bookkeeping)
    path = write_record(arguments.results_dir, content, started)
    if targets:
        print(
            f"plain registries: {arguments.layers} x {arguments.layer_mib} MiB image, "
            f"{arguments.small_blob_bytes}-byte "
            f"blob, wrk -c{wrk.connections} -t{wrk.threads} -d{wrk.seconds}s, {arguments.repeats} rounds per target\n"
        )
        print(render_table(samples, names, baseline) + "\n")
    if caches:
        sizes = proxy_settings.sizes
        print(
            f"pull-through caches of one upstream: A {sizes.large_layers} x {sizes.large_layer_bytes >> 20} MiB, "
            f"B {sizes.small_layers} x {sizes.small_layer_bytes >> 10} KiB, big {sizes.big_bytes >> 20} MiB, "
            f"{proxy_settings.pullers} pullers, manifest loads -c{proxy_settings.load.connections} "
            f"-d{proxy_settings.load.seconds}s, {arguments.repeats} rounds per cache\n"
        )
        print(render_proxy_table(proxy_samples, cache_names, DISTRIBUTION_PROXY))
    if bookkeeping is not None:
        print(
            f"\nthe cost of recording pulls: pullcache, 1 worker, {arguments.small_blob_bytes}-byte blob, "
            f"wrk -c{wrk.connections} -t{wrk.threads} -d{wrk.seconds}s, {arguments.repeats} rounds per variant\n"
        )
        print(render_bookkeeping_table(bookkeeping))
    _say(f"\nran {', '.join(sorted(suites))} in {elapsed:.0f} s; wrote {path}")


def _targets(arguments: argparse.Namespace) -> list[Target]:
    launcher: Path | None = arguments.pullcache_launcher
    known = available_targets(launcher.resolve() if launcher else None)
    names = arguments.targets or [*DEFAULT_TARGETS, *([PULLCACHE_LAUNCHED] if launcher else [])]
    unknown = [name for name in names if name not in known]
    if unknown:
        sys.exit(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]


def _cache_targets(arguments: argparse.Namespace) -> list[CacheTarget]:
    known = cache_targets()
    names = arguments.cache_targets or list(DEFAULT_CACHE_TARGETS)
    unknown = [name for name in names if name not in known]
    if unknown or DISTRIBUTION_PROXY not in names:
        sys.exit(f"--cache-targets must name {DISTRIBUTION_PROXY} and only known caches: {', '.join(known)}")
    return [known[name] for name in names]


def _proxy_settings(arguments: argparse.Namespace, caches: list[CacheTarget]) -> ProxySettings:
    sizes = ContentSizes(
        large_layers=arguments.large_layers,
        large_layer_bytes=arguments.large_layer_mib * MIB,
        small_layers=arguments.small_layers,
        small_layer_bytes=arguments.small_layer_kib << 10,
        platform_layer_bytes=arguments.platform_layer_mib * MIB,
        big_bytes=arguments.big_mib * MIB,
    )
    load = LoadSettings(arguments.load_seconds, arguments.wrk_connections, arguments.wrk_threads)
    return ProxySettings(sizes, caches, arguments.repeats, arguments.pullers, load)


def _measure_proxy(arguments: argparse.Namespace, settings: ProxySettings) -> Samples:
    work_dir = Path(tempfile.mkdtemp(prefix="pullcache-bench-proxy-", dir=arguments.work_dir))
    try:
        return run_proxy_suite(settings, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _measure_bookkeeping(arguments: argparse.Namespace) -> BookkeepingRun:
    """pullcache with pull recording off and on (bench/pull_bookkeeping.py), in a work directory of its own."""
    work_dir = Path(tempfile.mkdtemp(prefix="pullcache-bench-pulls-", dir=arguments.work_dir))
    settings = BookkeepingSettings(
        arguments.repeats,
        arguments.wrk_seconds,
        arguments.wrk_connections,
        arguments.wrk_threads,
        arguments.small_blob_bytes,
    )
    disturbance = Disturbance(arguments.max_other_cpu, arguments.attempts, arguments.retry_budget)
    try:
        return run_pull_bookkeeping(settings, disturbance, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _measure(arguments: argparse.Namespace, targets: list[Target], wrk: WrkSettings) -> Samples:
    """Write the image to a new work directory, run every round, and remove the directory again."""
    work_dir = Path(tempfile.mkdtemp(prefix="pullcache-bench-", dir=arguments.work_dir))
    try:
        _say(f"writing a {arguments.layers} x {arguments.layer_mib} MiB image to {work_dir} ...")
        image = write_image(work_dir / "image", arguments.layers, arguments.layer_mib * MIB)
        small_blob = write_random_blob(work_dir / "image", arguments.small_blob_bytes)
        disturbance = Disturbance(arguments.max_other_cpu, arguments.attempts, arguments.retry_budget)
        return Run(image, small_blob, targets, arguments.repeats, wrk, disturbance, work_dir).execute()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--suites",
        type=lambda text: text.split(","),
        default=list(SUITES),
        help=f"what to run: {CORE} (plain registries), {PROXY} (pull-through caches), {PULLS} (what recording "
        "pulls costs); default all",
    )
    parser.add_argument(
        "--cache-targets",
        type=lambda text: text.split(","),
        help=f"the pull-through caches compared, of {', '.join(DEFAULT_CACHE_TARGETS)} (default both)",
    )
    sizes = ContentSizes()  # the images
    parser.add_argument(
        "--large-layers", type=int, default=sizes.large_layers, help="layers of image A (default %(default)s)"
    )
    parser.add_argument(
        "--large-layer-mib",
        type=int,
        default=sizes.large_layer_bytes // MIB,
        help="MiB per layer of A (default %(default)s)",
    )
    parser.add_argument(
        "--small-layers", type=int, default=sizes.small_layers, help="layers of image B (default %(default)s)"
    )
    parser.add_argument(
        "--small-layer-kib",
        type=int,
        default=sizes.small_layer_bytes >> 10,
        help="KiB per layer of B (default %(default)s)",
    )
    parser.add_argument(
        "--platform-layer-mib",
        type=int,
        default=sizes.platform_layer_bytes // MIB,
        help="MiB per layer of the index's images (default %(default)s)",
    )
    parser.add_argument(
        "--big-mib",
        type=int,
        default=sizes.big_bytes // MIB,
        help="MiB of the memory test's blob (default %(default)s)",
    )
    parser.add_argument("--pullers", type=int, default=20, help="concurrent cold pullers of A (default %(default)s)")
    parser.add_argument(
        "--load-seconds", type=int, default=10, help="length of each manifest load of a cache (default %(default)s)"
    )
    parser.add_argument(
        "--targets",
        type=lambda text: text.split(","),
        help=f"comma-separated, of {', '.join(DEFAULT_TARGETS)}, {PULLCACHE_LAUNCHED}",
    )
    parser.add_argument(
        "--pullcache-launcher",
        type=Path,
        help="also run pullcache through this script (as pullcache-launcher): it must call pullcache.cli.main()",
    )
    parser.add_argument(
        "--baseline", help="the target others are divided by (default: distribution, else the first target)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds per target; figures are medians (default %(default)s)"
    )
    # The plain registries push and pull image A of the pull-through comparison: 5 layers of 40 MiB.
    parser.add_argument("--layers", type=int, default=5, help="layers in the image (default %(default)s)")
    parser.add_argument("--layer-mib", type=int, default=40, help="MiB per layer (default %(default)s)")
    parser.add_argument(
        "--small-blob-bytes", type=int, default=1024, help="size of the blob wrk GETs (default %(default)s)"
    )
    parser.add_argument("--wrk-seconds", type=int, default=8, help="length of each wrk run (default %(default)s)")
    parser.add_argument("--wrk-connections", type=int, default=16, help="wrk concurrency (default %(default)s)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default %(default)s)")
    parser.add_argument(
        "--max-other-cpu",
        type=float,
        default=0.10,
        help="share of the CPUs other processes may take during a sample before it is retaken (default %(default)s)",
    )
    parser.add_argument(
        "--attempts", type=int, default=3, help="most tries per sample when others disturb it (default %(default)s)"
    )
    parser.add_argument(
        "--retry-budget",
        type=float,
        default=60,
        help="seconds the whole run may spend retaking disturbed samples (default %(default)s)",
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the image and the registries' data go (default: a temporary directory)"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS, help="where the JSON record goes (default bench/results)"
    )
    return parser


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
