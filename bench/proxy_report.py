"""The pull-through comparison's table and JSON: medians by cache, pullcache / Distribution-proxy, issue 5's
targets and whether they are met."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from bench import proxy_metrics as m
from bench.report import (
    OTHER_CPU,
    Medians,
    foreign_at_median,
    grid,
    medians,
    ratio_cell,
    ratios,
    ratios_record,
    samples_record,
    share_cell,
)
from bench.samples import Samples

if TYPE_CHECKING:
    from bench.proxy_suite import ProxySettings


def render_proxy_table(samples: Samples, targets: Sequence[str], baseline: str) -> str:
    """One row a figure: each cache's median, the ratio of the others to `baseline`, the target and whether the
    first target (pullcache) meets it; then the references."""
    found = medians(samples)
    relative = ratios(found, baseline)
    met = verdicts(found, targets, baseline)
    compared = [t for t in targets if t != baseline]
    header = ["median of rounds", *targets, *(f"{t} / {baseline}" for t in compared), "target", "met", OTHER_CPU]
    rows = [header]
    for metric in m.CACHE_METRICS:
        cells = [_value(found.get(t, {}).get(metric)) for t in targets]
        ratio_cells = [ratio_cell(relative.get(t, {}).get(metric)) for t in compared]
        goal = m.TARGETS.get(metric)
        verdict = "-" if (meets := met.get(metric)) is None else ("yes" if meets else "NO")
        foreign = foreign_at_median(samples, targets, metric)
        rows.append(
            [
                m.LABELS[metric],
                *cells,
                *ratio_cells,
                goal.describe() if goal else "",
                verdict,
                share_cell(foreign),
            ]
        )
    references = [["reference", "median", OTHER_CPU]]
    for (target, metric), label in m.REFERENCE_LABELS.items():
        if metric in found.get(target, {}):
            foreign = foreign_at_median(samples, [target], metric)
            references.append([label, _value(found[target][metric]), share_cell(foreign)])
    return grid(rows) + "\n\n" + grid(references)


def verdicts(found: Medians, targets: Sequence[str], baseline: str) -> dict[str, bool | None]:
    """metric -> whether the first target meets issue 5's number for it (None where it cannot be told)."""
    relative = ratios(found, baseline)
    upstream_ttfb = found.get(m.UPSTREAM_DIRECT, {}).get(m.TTFB_MS)
    first = found.get(targets[0], {})
    return {
        metric: goal.met(first[metric], relative.get(targets[0], {}).get(metric), upstream_ttfb)
        for metric, goal in m.TARGETS.items()
        if metric in first
    }


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def proxy_record(samples: Samples, settings: ProxySettings, targets: Sequence[str], baseline: str) -> dict[str, object]:
    """The comparison for the JSON file: settings, every sample, the medians, ratios and targets met."""
    found = medians(samples)
    return {
        "settings": {
            "sizes": asdict(settings.sizes),
            "repeats": settings.repeats,
            "pullers": settings.pullers,
            "load": asdict(settings.load),
        },
        "targets": {target.name: target.description for target in settings.targets},
        "medians": found,
        "ratios": ratios_record(found, baseline),
        "issue_targets": {metric: goal.describe() for metric, goal in m.TARGETS.items()},
        "met": verdicts(found, targets, baseline),
        "samples": samples_record(samples),
    }
