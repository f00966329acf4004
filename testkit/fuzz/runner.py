"""Sending the cases: a few connections, each request bounded by a timeout, every answer judged and counted.

Cases are made lazily from (seed, index), so a run of any length holds only its failures; `FuzzReport` counts
requests and statuses per door and keeps the first failures whole, with their reproductions.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from testkit.fuzz.cases import Case, Door, Failure
from testkit.fuzz.oracle import verdict
from testkit.fuzz.raw_door import send_raw

REQUEST_TIMEOUT = 10.0  # seconds: an answer later than this is a hang
CONNECTIONS = 4
KEPT_FAILURES = 20  # failures kept whole; the rest are only counted
CHUNK_BYTES = 4096
# aiohttp adds these unless told not to; a case sends exactly the headers it names (and Host, Content-Length).
SKIPPED_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


@dataclass
class FuzzReport:
    seed: int
    requests: Counter[Door] = field(default_factory=Counter)
    statuses: dict[Door, Counter[int]] = field(default_factory=dict)
    failure_counts: Counter[Door] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def failed(self) -> int:
        return sum(self.failure_counts.values())

    def count(self, case: Case, status: int | None, failure: Failure | None) -> None:
        self.requests[case.door] += 1
        if status is not None:
            self.statuses.setdefault(case.door, Counter())[status] += 1
        if failure is not None:
            self.failure_counts[case.door] += 1
            if len(self.failures) < KEPT_FAILURES:
                self.failures.append(failure)

    def summary(self) -> str:
        lines = [f"seed {self.seed}: {self.total} requests in {self.seconds:.1f} s, {self.failed} failed"]
        for door, sent in sorted(self.requests.items(), key=lambda item: item[0].value):
            statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.get(door, Counter()).items()))
            lines.append(f"  {door.value}: {sent} requests, {self.failure_counts[door]} failed ({statuses})")
        return "\n".join(lines)

    def details(self) -> str:
        shown = "\n\n".join(failure.report() for failure in self.failures)
        return f"{self.summary()}\n\nfirst {len(self.failures)} failures:\n\n{shown}"


async def run_cases(
    base_url: str,
    cases: Iterable[int],
    make_case: Callable[[int], Case],
    report: FuzzReport,
    *,
    connections: int = CONNECTIONS,
    request_seconds: float = REQUEST_TIMEOUT,
) -> FuzzReport:
    """Send the case of each index (at most `connections` at a time), judging every answer into `report`."""
    started = time.monotonic()
    indices = iter(cases)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=request_seconds)
    async with aiohttp.ClientSession(
        connector=connector, timeout=client_timeout, auto_decompress=False, skip_auto_headers=SKIPPED_AUTO_HEADERS
    ) as session:

        async def worker() -> None:
            for index in indices:  # one shared iterator: each index is taken by one worker
                case = make_case(index)
                if case.raw is None:
                    status, failure = await send(session, base_url, case, request_seconds)
                else:
                    status, failure = await send_raw(URL(base_url).raw_authority, case, request_seconds)
                report.count(case, status, failure)

        await asyncio.gather(*(worker() for _ in range(connections)))
    report.seconds += time.monotonic() - started
    return report


async def send(
    session: aiohttp.ClientSession, base_url: str, case: Case, request_seconds: float
) -> tuple[int | None, Failure | None]:
    """Send one case; its status (None without an answer) and its failure, if it failed."""
    url = URL(base_url + case.target, encoded=True)
    # A BytesIO, not bytes: aiohttp warns of bytes past a mebibyte, and the tests treat warnings as errors.
    data = _chunks(case.body) if case.chunked else io.BytesIO(case.body) if case.body else None
    try:
        async with asyncio.timeout(request_seconds):
            async with session.request(
                case.method, url, headers=dict(case.headers), data=data, allow_redirects=False
            ) as response:
                body = await response.read()
    except TimeoutError:
        return None, Failure(case, f"no answer within {request_seconds} s (a hang)")
    except aiohttp.ClientError as error:
        return None, Failure(case, f"the connection failed: {error!r}")
    except ValueError as error:  # the client would not send it: the generator's fault, reported all the same
        return None, Failure(case, f"the client refused to send the case: {error!r}")
    problem = verdict(case, response.status, response.headers, body)
    return response.status, None if problem is None else Failure(case, problem, response.status, body)


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), CHUNK_BYTES):
        yield body[start : start + CHUNK_BYTES]
