"""The Grafana dashboard (deploy/grafana/pullcache.json) queries only series a running server exports.

Every PromQL expression of the dashboard is searched for `pullcache_*` names; each must be a series the server's
/metrics declares, as its `# TYPE` lines give them: a counter `X_total`, a gauge `X`, a histogram `X` queried as
`X_bucket`, `X_sum` or `X_count`. A suffix counts only on the type it belongs to (`X_bucket` of a counter is no
series).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from testkit.metrics import scrape
from testkit.servers import PullcacheServer
from tests.integration.cached_images import get

DASHBOARD: Final = Path(__file__).parents[2] / "deploy" / "grafana" / "pullcache.json"
NAME: Final = re.compile(r"pullcache_[a-z0-9_]+")  # digits too: pullcache_sigv4_failures_total
SERIES_OF_TYPE: Final = {
    "counter": ("",),  # the TYPE line names it with its _total
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
}


def exported_series(text: str) -> set[str]:
    """The series names a scrape's `# TYPE` lines declare, histograms expanded into their three series."""
    series: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            series.update(name + suffix for suffix in SERIES_OF_TYPE.get(kind, ("",)))
    return series


def expressions(node: Any) -> Iterator[str]:
    """Every `expr` of the dashboard, in panels, rows and templating alike."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def queried_names() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {name for expr in expressions(dashboard) for name in NAME.findall(expr)}


def test_the_suffix_rules_tell_a_histograms_series_from_a_counters() -> None:
    text = (
        "# TYPE pullcache_gc_runs_total counter\n"
        "# TYPE pullcache_gc_duration_seconds histogram\n"
        "# TYPE pullcache_cache_bytes gauge\n"
    )
    series = exported_series(text)
    assert {"pullcache_gc_runs_total", "pullcache_gc_duration_seconds_bucket", "pullcache_cache_bytes"} <= series
    assert not {"pullcache_gc_runs_bucket", "pullcache_gc_runs", "pullcache_gc_duration_seconds_total"} & series
    assert "pullcache_cache_bytes_total" not in series


def test_every_series_the_dashboard_queries_is_exported_by_a_running_server(pullcache: PullcacheServer) -> None:
    assert get(f"{pullcache.url}/v2/")[0] == 200  # a little traffic
    assert get(f"{pullcache.url}/healthz")[0] == 200
    scraped = scrape(f"{pullcache.url}/metrics")
    assert scraped.status == 200

    queried = queried_names()

    assert len(queried) >= 20  # the dashboard covers requests, the cache, storage, housekeeping and refusals
    assert queried - exported_series(scraped.text) == set()
