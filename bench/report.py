"""Medians, ratios to the baseline registry, the printed table and the JSON record of a run."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.metrics import CEILING_LABELS, COST_LABELS, LABELS, PULL, REGISTRY_METRICS
from bench.samples import Samples

Medians = dict[str, dict[str, float]]
REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# The share of the CPUs other processes took while the median samples were measured: near 0 means the
# figure is the benchmark's alone.
OTHER_CPU = "other CPU"


def medians(samples: Samples) -> Medians:
    return {
        target: {metric: statistics.median(s.value for s in values) for metric, values in metrics.items()}
        for target, metrics in samples.items()
    }


def ratios(found: Medians, baseline: str) -> Medians:
    """For every other target, its median over the baseline's, metric by metric."""
    base = found.get(baseline, {})
    return {
        target: {metric: value / base[metric] for metric, value in metrics.items() if base.get(metric)}
        for target, metrics in found.items()
        if target != baseline and target not in CEILING_LABELS
    }


def render_table(samples: Samples, targets: Sequence[str], baseline: str) -> str:
    """Medians by registry, ratios to `baseline`, and the client's ceilings, as plain text."""
    found = medians(samples)
    relative = ratios(found, baseline)
    compared = [t for t in targets if t in relative]
    figures = [["median of rounds", *targets, OTHER_CPU]]
    for metric in REGISTRY_METRICS:
        cells = [_number(found.get(t, {}).get(metric)) for t in targets]
        figures.append([LABELS[metric], *cells, share_cell(foreign_at_median(samples, targets, metric))])
    costs = [["server CPU, median of rounds", *targets]]
    for metric in REGISTRY_METRICS:
        costs.append([COST_LABELS[metric], *(_cost(samples, t, metric) for t in targets)])
    sections = [grid(figures), grid(costs)]
    if compared:
        ratio_rows = [[f"ratio to {baseline}", *compared]]
        for metric in REGISTRY_METRICS:
            ratio_rows.append([LABELS[metric], *(ratio_cell(relative[t].get(metric)) for t in compared)])
        sections.append(grid(ratio_rows))
    ceilings = [["client ceiling", "median", OTHER_CPU]]
    for ceiling, label in CEILING_LABELS.items():
        if ceiling in found:
            foreign = foreign_at_median(samples, [ceiling], PULL)
            ceilings.append([label, _number(found[ceiling][PULL]), share_cell(foreign)])
    if len(ceilings) > 1:
        sections.append(grid(ceilings))
    return "\n\n".join(sections)


def grid(rows: Sequence[Sequence[str]]) -> str:
    """The first column left-aligned, the others right-aligned, a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def record(
    samples: Samples,
    *,
    descriptions: Mapping[str, str],
    baseline: str,
    settings: Mapping[str, object],
    started: datetime,
    elapsed: float,
    busy_before: float,
) -> dict[str, object]:
    """Everything about a run, for the JSON file: when, where, how, every sample and the medians."""
    found = medians(samples)
    return {
        "started": started.isoformat(timespec="seconds"),
        "elapsed_seconds": round(elapsed, 1),
        "machine": machine(),
        "cpu_busy_before_start": round(busy_before, 3),
        "settings": dict(settings),
        "targets": dict(descriptions),
        "medians": found,
        "ratios": ratios_record(found, baseline),
        "samples": samples_record(samples),
    }


def ratios_record(found: Medians, baseline: str) -> dict[str, dict[str, float]]:
    """The ratios to `baseline`, for the JSON file."""
    return {f"{target}/{baseline}": values for target, values in ratios(found, baseline).items()}


def samples_record(samples: Samples) -> dict[str, dict[str, list[dict[str, object]]]]:
    """Every sample, for the JSON file."""
    return {
        target: {metric: [asdict(sample) for sample in values] for metric, values in metrics.items()}
        for target, metrics in samples.items()
    }


def write_record(directory: Path, content: Mapping[str, object], started: datetime) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(content, indent=2) + "\n")
    return path


def machine() -> dict[str, object]:
    return {
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "repository_commit": _first_line(["git", "-C", str(REPOSITORY_ROOT), "rev-parse", "--short", "HEAD"]),
        # The servers import pullcache as this interpreter does: from the work tree, or from PYTHONPATH.
        "pullcache_imported_from": _first_line([sys.executable, "-c", "import pullcache; print(pullcache.__file__)"]),
        "distribution": _first_line(["docker-registry", "--version"]),
        "wrk": _first_line(["wrk", "--version"]),
    }


def now() -> datetime:
    return datetime.now(UTC)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _first_line(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "not installed"
    lines = (completed.stdout or completed.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def foreign_at_median(samples: Samples, targets: Sequence[str], metric: str) -> float | None:
    """The largest share of the CPUs other processes took while any of the medians was measured."""
    shares = []
    for target in targets:
        ordered = sorted(samples.get(target, {}).get(metric, []), key=lambda sample: sample.value)
        middle = ordered[(len(ordered) - 1) // 2 : len(ordered) // 2 + 1]
        shares += [sample.foreign_cpu for sample in middle]
    return max(shares) if shares else None


def _cost(samples: Samples, target: str, metric: str) -> str:
    costs = [s.server_cost for s in samples.get(target, {}).get(metric, [])]
    if not costs:
        return "-"
    cost = statistics.median(costs)
    return f"{cost:.2f}" if cost < 10 else f"{cost:,.0f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def ratio_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def share_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
