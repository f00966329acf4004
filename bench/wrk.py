"""Small-request throughput with `wrk` (Debian package `wrk`): many GETs of one URL over keep-alive connections."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

_REQUESTS_PER_SECOND = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE)
_PERCENTILE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m)$", re.MULTILINE)
_SECONDS_PER_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


class WrkError(RuntimeError):
    """wrk is missing, failed, or saw failed requests: the run measures nothing."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_second: float
    requests: int
    latency_p50_ms: float
    latency_p99_ms: float


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    threads: int,
    headers: Mapping[str, str] | None = None,
) -> WrkResult:
    """Load `url` for `seconds`; raises WrkError unless every request succeeded."""
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkError("wrk is not installed (apt-get install -y wrk)")
    command = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    completed = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    if completed.returncode != 0:
        raise WrkError(f"wrk exited with {completed.returncode}: {(completed.stderr or completed.stdout).strip()}")
    return parse_wrk_output(completed.stdout)


def parse_wrk_output(text: str) -> WrkResult:
    """The figures of one wrk run (with --latency); raises WrkError on failed requests or unknown output."""
    failures = _NON_2XX.search(text)
    if failures is not None and int(failures.group(1)) > 0:
        raise WrkError(f"{failures.group(1)} responses were not 2xx or 3xx:\n{text}")
    errors = _SOCKET_ERRORS.search(text)
    if errors is not None and any(int(count) > 0 for count in errors.groups()):
        raise WrkError(f"socket errors during the run:\n{text}")
    rate = _REQUESTS_PER_SECOND.search(text)
    total = _TOTAL.search(text)
    percentiles = {
        match.group(1): _milliseconds(match.group(2), match.group(3)) for match in _PERCENTILE.finditer(text)
    }
    if rate is None or total is None or set(percentiles) != {"50", "99"}:
        raise WrkError(f"unexpected wrk output:\n{text}")
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        requests=int(total.group(1)),
        latency_p50_ms=percentiles["50"],
        latency_p99_ms=percentiles["99"],
    )


def _milliseconds(value: str, unit: str) -> float:
    return float(value) * _SECONDS_PER_UNIT[unit] * 1000
