"""What the pull-through comparison measures, as its table and JSON name it, and the numbers issue 5 asks for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

COLD_LARGE_SECONDS: Final = "cold_large_s"
COLD_LARGE_MB_S: Final = "cold_large_mb_s"
COLD_LARGE_UPSTREAM: Final = "cold_large_upstream_x"
WARM_LARGE_MB_S: Final = "warm_large_mb_s"
TTFB_MS: Final = "cold_blob_ttfb_ms"
PULLERS_SECONDS: Final = "pullers_cold_large_s"
PULLERS_UPSTREAM: Final = "pullers_cold_large_upstream_x"
COLD_SMALL_SECONDS: Final = "cold_small_s"
COLD_SMALL_UPSTREAM: Final = "cold_small_upstream_x"
WARM_SMALL_SECONDS: Final = "warm_small_s"
COLD_INDEX_SECONDS: Final = "cold_index_s"
COLD_INDEX_UPSTREAM: Final = "cold_index_upstream_x"
GET_TAG_RPS: Final = "manifest_get_tag_rps"
HEAD_TAG_RPS: Final = "manifest_head_tag_rps"
GET_DIGEST_RPS: Final = "manifest_get_digest_rps"
HEAD_DIGEST_RPS: Final = "manifest_head_digest_rps"
RSS_GROWTH_MB: Final = "rss_growth_over_loads_mb"
COLD_BIG_MB_S: Final = "cold_big_mb_s"
COLD_BIG_RSS_MB: Final = "cold_big_peak_rss_mb"
WARM_BIG_MB_S: Final = "warm_big_mb_s"
WARM_BIG_RSS_MB: Final = "warm_big_peak_rss_mb"

LABELS: Final = {
    COLD_LARGE_SECONDS: "A cold pull, s",
    COLD_LARGE_MB_S: "A cold pull, MB/s",
    COLD_LARGE_UPSTREAM: "A cold pull, upstream served, x image",
    WARM_LARGE_MB_S: "A warm pull, MB/s",
    TTFB_MS: "cold large blob, time to first byte, ms",
    PULLERS_SECONDS: "concurrent cold pullers of A, wall s",
    PULLERS_UPSTREAM: "concurrent cold pullers of A, upstream served, x",
    COLD_SMALL_SECONDS: "B cold pull, s",
    COLD_SMALL_UPSTREAM: "B cold pull, upstream served, x image",
    WARM_SMALL_SECONDS: "B warm pull, s",
    COLD_INDEX_SECONDS: "two-platform index cold pull, s",
    COLD_INDEX_UPSTREAM: "two-platform index cold, upstream served, x",
    GET_TAG_RPS: "manifest GET by tag, req/s",
    HEAD_TAG_RPS: "manifest HEAD by tag, req/s",
    GET_DIGEST_RPS: "manifest GET by digest, req/s",
    HEAD_DIGEST_RPS: "manifest HEAD by digest, req/s",
    RSS_GROWTH_MB: "RSS growth over the manifest loads, MB",
    COLD_BIG_MB_S: "big blob cold pull, MB/s",
    COLD_BIG_RSS_MB: "big blob cold, server peak RSS, MB",
    WARM_BIG_MB_S: "big blob warm pull, MB/s",
    WARM_BIG_RSS_MB: "big blob warm, server peak RSS, MB",
}
CACHE_METRICS: Final = tuple(LABELS)

# The upstream measured alone, recorded as targets of their own with the TTFB_MS metric; and the client's
# ceilings, pulling from a plain sendfile file server.
UPSTREAM_DIRECT: Final = "upstream"
UPSTREAM_COUNTED: Final = "upstream-via-counter"
CEILING: Final = "client-ceiling-sendfile"
REFERENCE_LABELS: Final = {
    (UPSTREAM_DIRECT, TTFB_MS): "upstream directly: large blob, time to first byte, ms",
    (UPSTREAM_COUNTED, TTFB_MS): "upstream through the counter: time to first byte, ms",
    (CEILING, COLD_LARGE_MB_S): "client pulling A from a plain sendfile server, MB/s",
    (CEILING, PULLERS_SECONDS): "concurrent clients pulling A from a plain sendfile server, wall s",
}

UPSTREAM_TTFB_SLACK_MS: Final = 10.0
RSS_LIMIT_MB: Final = 200.0
# "No growth" read as: less than this over the loads, which make many thousands of requests.
RSS_GROWTH_LIMIT_MB: Final = 2.0


class Goal(Enum):
    RATIO_AT_LEAST = "ratio >="
    RATIO_AT_MOST = "ratio <="
    EXACTLY = "value ="
    BELOW = "value <"
    NEAR_UPSTREAM = "within ms of the upstream's"


@dataclass(frozen=True, slots=True)
class Target:
    goal: Goal
    number: float

    def describe(self) -> str:
        if self.goal is Goal.RATIO_AT_LEAST:
            return f">= {self.number:g}x"
        if self.goal is Goal.RATIO_AT_MOST:
            return f"<= {self.number:g}x"
        if self.goal is Goal.EXACTLY:
            return f"= {self.number:g}"
        if self.goal is Goal.BELOW:
            return f"< {self.number:g}"
        return f"upstream + {self.number:g} ms"

    def met(self, value: float, ratio: float | None, upstream_ttfb_ms: float | None) -> bool | None:
        """Whether pullcache's median `value` (and its `ratio` to Distribution) meets it; None if unknown."""
        if self.goal is Goal.RATIO_AT_LEAST:
            return None if ratio is None else ratio >= self.number
        if self.goal is Goal.RATIO_AT_MOST:
            return None if ratio is None else ratio <= self.number
        if self.goal is Goal.EXACTLY:
            return abs(value - self.number) < 1e-9
        if self.goal is Goal.BELOW:
            return value < self.number
        return None if upstream_ttfb_ms is None else value <= upstream_ttfb_ms + self.number


# Issue 5's numbers for pullcache, against Distribution 2.8 in proxy mode.
TARGETS: Final = {
    COLD_LARGE_MB_S: Target(Goal.RATIO_AT_LEAST, 1.0),
    COLD_LARGE_UPSTREAM: Target(Goal.EXACTLY, 1.0),
    WARM_LARGE_MB_S: Target(Goal.RATIO_AT_LEAST, 1.0),
    TTFB_MS: Target(Goal.NEAR_UPSTREAM, UPSTREAM_TTFB_SLACK_MS),
    PULLERS_SECONDS: Target(Goal.RATIO_AT_MOST, 0.5),
    PULLERS_UPSTREAM: Target(Goal.EXACTLY, 1.0),
    COLD_SMALL_SECONDS: Target(Goal.RATIO_AT_MOST, 0.5),
    GET_TAG_RPS: Target(Goal.RATIO_AT_LEAST, 10.0),
    HEAD_TAG_RPS: Target(Goal.RATIO_AT_LEAST, 10.0),
    GET_DIGEST_RPS: Target(Goal.RATIO_AT_LEAST, 2.0),
    HEAD_DIGEST_RPS: Target(Goal.RATIO_AT_LEAST, 2.0),
    RSS_GROWTH_MB: Target(Goal.BELOW, RSS_GROWTH_LIMIT_MB),
    COLD_BIG_RSS_MB: Target(Goal.BELOW, RSS_LIMIT_MB),
    WARM_BIG_RSS_MB: Target(Goal.BELOW, RSS_LIMIT_MB),
}
