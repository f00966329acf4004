"""UpstreamClient's bounds and circuit breaker against real sockets: a HangingUpstream that takes requests in and
never answers (or stalls a blob's body), a FaultyUpstream that throttles or answers 404, both in front of a real
CNCF Distribution.

Each test holds the client to a few seconds; before the bounds, a hung upstream held a request for 241 s (a read
timeout of 60 s, four attempts), so every test is also cut by CUT_OFF to fail quickly rather than hang.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterator
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.pullthrough.errors import UpstreamNotFound, UpstreamUnavailable
from pullcache.pullthrough.ports import UpstreamEndpoint
from pullcache.pullthrough.upstream import UpstreamClient
from testkit.hashing import Sha256Tap
from tests.upstreams import MANIFEST_PATTERN, FaultyUpstream, HangingUpstream
from tests.upstreams.seeded import SeededRegistry, seeded_registry

REPOSITORY: Final = "library/app"
CUT_OFF: Final = 20.0  # seconds any one call may take here, whatever the client does
LAYER_BYTES: Final = 2 << 20


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededRegistry]:
    with seeded_registry(
        tmp_path_factory.mktemp("upstream-bounds"), REPOSITORY, "v1", (1024, LAYER_BYTES), 3
    ) as seeded:
        yield seeded


@pytest.fixture
def hanging(seeded: SeededRegistry) -> Iterator[HangingUpstream]:
    with HangingUpstream(seeded.registry.url) as server:
        yield server


async def timed_failure(call: Awaitable[object]) -> tuple[Exception, float]:
    """The error `call` raised, and the seconds it took; fails when it raised none within CUT_OFF."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(CUT_OFF):
            await call
    except TimeoutError:
        raise AssertionError(f"no answer within {CUT_OFF} s") from None
    except Exception as error:
        return error, time.monotonic() - started
    raise AssertionError("the call succeeded")


async def read_blob(client: UpstreamClient, endpoint: UpstreamEndpoint, digest: Digest) -> str:
    tap = Sha256Tap()
    async with asyncio.timeout(CUT_OFF), client.open_blob(endpoint, REPOSITORY, digest) as blob:
        async for chunk in blob.chunks():
            tap.update(chunk)
    return tap.digest


async def test_an_upstream_that_never_answers_is_unavailable_at_the_end_of_the_request_budget(
    hanging: HangingUpstream,
) -> None:
    hanging.hang("silent")
    async with UpstreamClient(first_byte_timeout=10, request_timeout=1.5) as client:
        error, took = await timed_failure(client.get_manifest(UpstreamEndpoint(hanging.url), REPOSITORY, "v1"))

    assert isinstance(error, UpstreamUnavailable), error
    assert "did not answer GET" in str(error)
    assert "within 1.5 s" in str(error)
    assert took < 10


async def test_a_response_that_does_not_start_is_cut_at_the_first_byte_bound(hanging: HangingUpstream) -> None:
    hanging.hang("silent")
    async with UpstreamClient(first_byte_timeout=0.5, request_timeout=60, retries=1, backoff_base=0.01) as client:
        error, took = await timed_failure(client.get_manifest(UpstreamEndpoint(hanging.url), REPOSITORY, "v1"))

    assert isinstance(error, UpstreamUnavailable), error
    assert "(timed out) after 2 attempts" in str(error)
    assert took < 10
    assert hanging.requests() == 2


async def test_a_blob_body_that_stalls_is_cut_at_the_idle_bound(
    seeded: SeededRegistry, hanging: HangingUpstream
) -> None:
    hanging.hang("stall_blobs", stall_after=1000)
    async with UpstreamClient(idle_timeout=0.5, first_byte_timeout=30, request_timeout=60) as client:
        error, took = await timed_failure(read_blob(client, UpstreamEndpoint(hanging.url), seeded.layer))

    assert isinstance(error, UpstreamUnavailable), error
    assert "broke off after 1000 of" in str(error)
    assert str(error).endswith("bytes (timed out)")
    assert took < 10


async def test_a_blob_that_keeps_flowing_is_not_cut_by_the_request_budget(seeded: SeededRegistry) -> None:
    """The body takes about four times the request budget; no gap in it comes near the idle bound."""
    with FaultyUpstream(seeded.registry.url) as faulty:
        faulty.throttle(LAYER_BYTES // 2)  # bytes a second: about 2 s for the layer
        async with UpstreamClient(request_timeout=0.5, idle_timeout=5) as client:
            digest = await read_blob(client, UpstreamEndpoint(faulty.url), seeded.layer)

    assert digest == str(seeded.layer)


async def test_a_tag_check_has_a_budget_of_its_own(hanging: HangingUpstream) -> None:
    hanging.hang("silent")
    async with UpstreamClient(first_byte_timeout=30, request_timeout=60) as client:
        error, took = await timed_failure(
            client.head_manifest(UpstreamEndpoint(hanging.url), REPOSITORY, "v1", budget=0.5)
        )

    assert isinstance(error, UpstreamUnavailable), error
    assert "did not answer HEAD" in str(error)
    assert took < 10


async def test_a_failing_upstream_is_left_alone_for_its_cool_down_then_probed(
    seeded: SeededRegistry, hanging: HangingUpstream
) -> None:
    endpoint = UpstreamEndpoint(hanging.url)
    hanging.hang("silent")
    async with UpstreamClient(
        first_byte_timeout=0.3, request_timeout=5, retries=0, failures_to_open=2, cool_down=1.5
    ) as client:
        for _ in range(2):
            error, _took = await timed_failure(client.get_manifest(endpoint, REPOSITORY, "v1"))
            assert "timed out" in str(error)
        seen = hanging.connections()

        fast, _took = await timed_failure(client.get_manifest(endpoint, REPOSITORY, "v1"))
        quick_check, _took = await timed_failure(client.head_manifest(endpoint, REPOSITORY, "v1", budget=1))

        assert isinstance(fast, UpstreamUnavailable)
        assert isinstance(quick_check, UpstreamUnavailable)
        assert f"upstream {hanging.url} is failing (2 failures in a row" in str(fast)
        assert hanging.connections() == seen  # nothing went out
        hanging.recover()
        await asyncio.sleep(1.6)
        probed = await client.get_manifest(endpoint, REPOSITORY, "v1")
        again = await client.get_manifest(endpoint, REPOSITORY, "v1")

    assert str(probed.digest) == str(again.digest) == seeded.image.digest


async def test_a_failed_probe_opens_the_circuit_for_another_cool_down(hanging: HangingUpstream) -> None:
    endpoint = UpstreamEndpoint(hanging.url)
    hanging.hang("silent")
    async with UpstreamClient(first_byte_timeout=0.3, retries=0, failures_to_open=1, cool_down=1) as client:
        await timed_failure(client.get_manifest(endpoint, REPOSITORY, "v1"))
        await asyncio.sleep(1.1)
        probe, _took = await timed_failure(client.get_manifest(endpoint, REPOSITORY, "v1"))
        requests = hanging.requests()
        refused, _took = await timed_failure(client.get_manifest(endpoint, REPOSITORY, "v1"))

    assert "timed out" in str(probe)
    assert "is failing (2 failures in a row" in str(refused)
    assert hanging.requests() == requests == 2


async def test_answers_that_refuse_do_not_open_the_circuit(seeded: SeededRegistry) -> None:
    with FaultyUpstream(seeded.registry.url) as faulty:
        faulty.fail(MANIFEST_PATTERN, 404, times=None)
        async with UpstreamClient(failures_to_open=1, cool_down=60) as client:
            for _ in range(3):
                with pytest.raises(UpstreamNotFound):
                    await client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1")
        assert faulty.requests("GET") == 3


async def test_a_retry_whose_wait_ends_past_the_budget_is_not_tried(seeded: SeededRegistry) -> None:
    with FaultyUpstream(seeded.registry.url) as faulty:
        faulty.fail(MANIFEST_PATTERN, 503, times=None, retry_after=5)
        async with UpstreamClient(request_timeout=2) as client:
            error, took = await timed_failure(client.get_manifest(UpstreamEndpoint(faulty.url), REPOSITORY, "v1"))
        assert faulty.requests("GET") == 1

    assert isinstance(error, UpstreamUnavailable)
    assert "failed 503" in str(error)
    assert "after 1 attempt" in str(error)
    assert took < 1.5
