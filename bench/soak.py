"""The soak: `python -m bench.soak --minutes 10` (or scripts/soak) drives pullcache with two workers under a mixed
load of pushes, pulls, pull-through imports and ECR API calls (testkit/mixed_load.py) for as long as asked.

It starts its own servers on free loopback ports (pullcache, and CNCF Distribution as the upstream of the
imports) over a temporary directory, prints a line per window (requests, errors, p99 latency, the server's RSS)
and writes them to `bench/results/soak-<UTC time>.json`. It exits non-zero when any operation failed or when RSS
at the end stands more than the allowed margin above RSS after warm-up. tests/reliability/test_soak.py runs the
same load for under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from bench.report import now
from testkit.mixed_load import MIB, LoadPlan, LoadReport, render_windows, run_mixed_load
from testkit.servers import DistributionServer, PullcacheServer, distribution_binary

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: Sequence[str] | None = None) -> None:
    arguments = _parser().parse_args(argv)
    if distribution_binary() is None:
        sys.exit("CNCF Distribution is not installed: apt-get install -y docker-registry")
    seconds = arguments.minutes * 60
    plan = LoadPlan(
        seconds=seconds,
        warmup_seconds=min(arguments.warmup_seconds, seconds / 2),
        window_seconds=min(arguments.window_seconds, seconds),
        clients=arguments.clients,
        seed=arguments.seed,
    )
    started = now()
    with tempfile.TemporaryDirectory(prefix="pullcache-soak-", dir=arguments.work_dir) as work:
        upstream = DistributionServer(Path(work) / "upstream").start()
        # The mixed load pushes to fresh repositories: a ROOT CREATE_ON_PUSH template lets them be created.
        server = PullcacheServer(Path(work) / "data", workers=arguments.workers, create_on_push=True)
        try:
            server.start()
            print(
                f"soak: {plan.clients} clients for {seconds:.0f} s against pullcache --workers {arguments.workers}, "
                f"seed {plan.seed}",
                flush=True,
            )
            report = asyncio.run(run_mixed_load(server, upstream.url, plan))
        finally:
            if server.process is not None:
                server.stop()
            upstream.stop()
    print(render_windows(report))
    growth_ok = report.growth_within(arguments.max_growth, arguments.slack_mib * MIB)
    print(
        f"\n{report.requests} requests, {report.errors} errors ({_operations(report)}); RSS "
        f"{report.rss_after_warmup / MIB:.1f} MiB after warm-up, {report.rss_at_end / MIB:.1f} MiB at the end "
        f"({'within' if growth_ok else 'beyond'} {arguments.max_growth:.0%} + {arguments.slack_mib} MiB)"
    )
    for message in report.error_messages:
        print(f"  {message}")
    path = _write(arguments.results_dir, report, started, arguments.workers)
    print(f"wrote {path}")
    if report.errors or not growth_ok:
        sys.exit(1)


def _operations(report: LoadReport) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in sorted(report.operations.items()))


def _write(directory: Path, report: LoadReport, started: datetime, workers: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"soak-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    content = {
        "started": started.isoformat(),
        "workers": workers,
        "plan": {**asdict(report.plan), "weights": dict(report.plan.weights)},
        "requests": report.requests,
        "errors": report.errors,
        "error_messages": report.error_messages,
        "operations": report.operations,
        "rss_after_warmup": report.rss_after_warmup,
        "rss_at_end": report.rss_at_end,
        "windows": [asdict(window) for window in report.windows],
    }
    path.write_text(json.dumps(content, indent=2) + "\n")
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs (default %(default)s)")
    parser.add_argument("--clients", type=int, default=6, help="concurrent clients (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="pullcache worker processes (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="the load's random source (default %(default)s)")
    parser.add_argument(
        "--window-seconds", type=float, default=30.0, help="seconds per line of the report (default %(default)s)"
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=60.0, help="RSS is compared from the end of this (default %(default)s)"
    )
    parser.add_argument(
        "--max-growth", type=float, default=0.10, help="RSS growth allowed, a fraction (default %(default)s)"
    )
    parser.add_argument("--slack-mib", type=int, default=16, help="RSS growth allowed beyond it (default %(default)s)")
    parser.add_argument("--work-dir", type=Path, help="where the servers' data go (default: a temporary directory)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the JSON goes (default bench/results)")
    return parser


if __name__ == "__main__":
    main()
