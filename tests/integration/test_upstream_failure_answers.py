"""What a puller is told when a pull-through rule's upstream fails and nothing is cached: the status and OCI code of
registry/api/errors.py, a message naming the upstream and the reason, and that reason in what skopeo prints.

A real server with short upstream bounds (and a breaker that stays closed: each failure here must be the
upstream's own), a CNCF Distribution behind a FaultyUpstream or a HangingUpstream per case, skopeo pulling.
skopeo (containers/image) reads the body of a 4xx only and prints a 5xx as its status line: so the 5xx reason must
be in the status line's reason phrase.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from testkit.servers import DistributionServer, PullcacheServer
from tests.integration import skopeo
from tests.integration.cached_images import TAG, UPSTREAM_REPOSITORY, create_rule, get, seed
from tests.upstreams import MANIFEST_PATTERN, FaultyUpstream, HangingUpstream, ReverseProxy

REQUEST_BUDGET: Final = 3  # seconds: the upstream request budget of the server under test


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    make: Callable[[str], ReverseProxy]  # the upstream in front of the seeded registry, at its URL
    fault: Callable[[ReverseProxy], None]
    status: int
    code: str
    reason: str  # in the message, and in what skopeo prints
    retry_after: str | None = None


def _faulty(url: str) -> ReverseProxy:
    return FaultyUpstream(url)


def _hanging(url: str) -> ReverseProxy:
    return HangingUpstream(url)


def _throttle(upstream: ReverseProxy) -> None:
    assert isinstance(upstream, FaultyUpstream)
    # Retry-After: 1, passed on: skopeo waits as long (then 2, 4, 8 s) before each of its 4 tries again.
    upstream.fail(MANIFEST_PATTERN, 429, times=None, retry_after=1)


def _fail_500(upstream: ReverseProxy) -> None:
    assert isinstance(upstream, FaultyUpstream)
    upstream.fail(MANIFEST_PATTERN, 500, times=None)


def _go_down(upstream: ReverseProxy) -> None:
    assert isinstance(upstream, FaultyUpstream)
    upstream.go_down("refuse")


def _hang(upstream: ReverseProxy) -> None:
    assert isinstance(upstream, HangingUpstream)
    upstream.hang("silent")


CASES: Final = (
    Case("rate-limited", _faulty, _throttle, 429, "TOOMANYREQUESTS", "limits its requests", retry_after="1"),
    Case("answers 500", _faulty, _fail_500, 502, "UNSUPPORTED", "answered with an error"),
    Case("unreachable", _faulty, _go_down, 503, "UNSUPPORTED", "cannot be reached"),
    Case("silent", _hanging, _hang, 504, "UNSUPPORTED", "did not answer in time"),
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path_factory.mktemp("failures") / "upstream").start()
    seed(server, tmp_path_factory.mktemp("seed"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pullcache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    started = PullcacheServer(
        tmp_path_factory.mktemp("failures") / "data",
        extra_args=(
            "--upstream-request-timeout",
            str(REQUEST_BUDGET),
            "--upstream-first-byte-timeout",
            "1",
            "--upstream-breaker-failures",
            "1000",
        ),
    ).start()
    yield started
    started.stop()


def skopeo_error(reference: str) -> str:
    """What `skopeo inspect` prints when it fails; fails the test when it succeeds."""
    binary = shutil.which("skopeo")
    assert binary is not None, "skopeo is not installed"
    done = subprocess.run(
        [binary, "--insecure-policy", "inspect", "--tls-verify=false", reference],
        capture_output=True,
        timeout=skopeo.TIMEOUT,
        check=False,
    )
    assert done.returncode != 0, done.stdout
    return done.stderr.decode(errors="replace")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_an_upstream_failure_is_answered_with_its_status_code_and_reason(
    case: Case, registry: DistributionServer, pullcache: PullcacheServer, tmp_path: Path
) -> None:
    prefix = case.name.replace(" ", "-").replace("500", "five-hundred")
    with case.make(registry.url) as upstream:
        create_rule(pullcache, upstream.url, prefix=prefix)
        case.fault(upstream)
        repository = f"{prefix}/{UPSTREAM_REPOSITORY}"

        status, body, headers = get(
            f"{pullcache.url}/v2/{repository}/manifests/{TAG}", {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        )
        printed = skopeo_error(skopeo.docker_reference(pullcache.address, repository, TAG))
        if isinstance(upstream, HangingUpstream):
            upstream.recover()

    [error] = json.loads(body)["errors"]
    assert (status, error["code"]) == (case.status, case.code)
    assert case.reason in error["message"]
    assert upstream.address in error["message"]
    assert headers.get("Retry-After") == case.retry_after
    assert case.reason in printed, printed
