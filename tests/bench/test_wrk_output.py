"""Reading wrk's report: the figures it states, and refusing a run in which any request failed."""

from __future__ import annotations

import pytest

from bench.wrk import WrkError, parse_wrk_output

REPORT = """Running 10s test @ http://127.0.0.1:5000/v2/bench/image/manifests/v1
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.41ms  812.13us  18.20ms   88.01%
    Req/Sec     6.68k   401.17     7.13k    91.00%
  Latency Distribution
     50%  {p50}
     75%    2.55ms
     90%    3.02ms
     99%    {p99}
  66480 requests in 10.00s, 61.52MB read
{extra}Requests/sec:   6646.52
Transfer/sec:      6.15MB
"""


def report(p50: str = "2.23ms", p99: str = "5.77ms", extra: str = "") -> str:
    return REPORT.format(p50=p50, p99=p99, extra=extra)


def test_rate_count_and_latency_percentiles_are_read_from_the_report() -> None:
    result = parse_wrk_output(report())

    assert result.requests_per_second == pytest.approx(6646.52)
    assert result.requests == 66480
    assert result.latency_p50_ms == pytest.approx(2.23)
    assert result.latency_p99_ms == pytest.approx(5.77)


@pytest.mark.parametrize(
    ("p50", "p99", "p50_ms", "p99_ms"),
    [("812.13us", "1.20s", 0.81213, 1200.0), ("2.00m", "3.00m", 120_000.0, 180_000.0)],
)
def test_latencies_in_any_unit_are_converted_to_milliseconds(p50: str, p99: str, p50_ms: float, p99_ms: float) -> None:
    result = parse_wrk_output(report(p50, p99))

    assert result.latency_p50_ms == pytest.approx(p50_ms)
    assert result.latency_p99_ms == pytest.approx(p99_ms)


def test_a_run_with_non_2xx_responses_is_refused() -> None:
    with pytest.raises(WrkError, match="3 responses were not 2xx"):
        parse_wrk_output(report(extra="  Non-2xx or 3xx responses: 3\n"))


def test_a_run_with_socket_errors_is_refused() -> None:
    with pytest.raises(WrkError, match="socket errors"):
        parse_wrk_output(report(extra="  Socket errors: connect 0, read 2, write 0, timeout 0\n"))


def test_a_run_whose_socket_error_counts_are_all_zero_is_accepted() -> None:
    result = parse_wrk_output(report(extra="  Socket errors: connect 0, read 0, write 0, timeout 0\n"))

    assert result.requests == 66480


def test_output_without_the_figures_is_refused() -> None:
    with pytest.raises(WrkError, match="unexpected wrk output"):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")
