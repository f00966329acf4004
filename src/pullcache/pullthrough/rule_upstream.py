"""RuleUpstream: the upstream registry of a rule, and what its failures mean to a puller.

Each request names the repository as the upstream does (`hub/team/app` under the rule `hub` is `team/app`) and
carries the rule's credentials as they are now: a rotated secret applies to the next request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pullcache.core.digests import Digest
from pullcache.pullthrough.errors import (
    UpstreamDenied,
    UpstreamError,
    UpstreamInvalid,
    UpstreamRateLimited,
    UpstreamTimedOut,
)
from pullcache.pullthrough.ports import (
    RuleCredentials,
    UpstreamBlob,
    UpstreamEndpoint,
    UpstreamManifest,
    UpstreamManifestHead,
    UpstreamRegistry,
)
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.registry.errors import Denied, SourceAnswerInvalid, SourceThrottled, SourceTimedOut, Unavailable

log = logging.getLogger(__name__)


class RuleUpstream:
    """Raises what UpstreamRegistry raises (pullthrough/errors.py); `registry_error` says what that means."""

    def __init__(self, upstream: UpstreamRegistry, credentials: RuleCredentials) -> None:
        self._upstream = upstream
        self._credentials = credentials

    async def head_manifest(
        self, rule: PullThroughRule, repository: str, tag: str, *, budget: float | None = None
    ) -> UpstreamManifestHead:
        """`budget`: seconds for the upstream's answer (None: the upstream client's request budget)."""
        endpoint = await self._endpoint(rule)
        return await self._upstream.head_manifest(endpoint, rule.upstream_repository(repository), tag, budget=budget)

    async def get_manifest(self, rule: PullThroughRule, repository: str, reference: str) -> UpstreamManifest:
        endpoint = await self._endpoint(rule)
        return await self._upstream.get_manifest(endpoint, rule.upstream_repository(repository), reference)

    async def has_blob(self, rule: PullThroughRule, repository: str, digest: Digest) -> None:
        endpoint = await self._endpoint(rule)
        await self._upstream.has_blob(endpoint, rule.upstream_repository(repository), digest)

    @asynccontextmanager
    async def open_blob(self, rule: PullThroughRule, repository: str, digest: Digest) -> AsyncIterator[UpstreamBlob]:
        endpoint = await self._endpoint(rule)
        async with self._upstream.open_blob(endpoint, rule.upstream_repository(repository), digest) as blob:
            yield blob

    async def _endpoint(self, rule: PullThroughRule) -> UpstreamEndpoint:
        return UpstreamEndpoint(rule.base_url, await self._credentials.find_credentials(rule))


def registry_error(rule: PullThroughRule, error: UpstreamError) -> Denied | Unavailable:
    """The registry's error for an upstream failure that leaves nothing to serve (logged, naming the rule), its
    message naming the upstream and the reason: refused credentials are Denied; throttling SourceThrottled (with
    the upstream's Retry-After); a timeout SourceTimedOut; an answer that is an error of the upstream's own (5xx)
    or breaks the protocol SourceAnswerInvalid; anything else (unreachable, a breaker open, a destination the
    server refuses) Unavailable. UpstreamNotFound is the caller's to handle."""
    log.warning("upstream %s failed: %s", rule.upstream_url, error, extra={"fields": {"rule": rule.prefix}})
    if isinstance(error, UpstreamDenied):
        return Denied(f"the upstream registry {rule.upstream_url} refused the pull through cache rule's credentials")
    if isinstance(error, UpstreamRateLimited):
        return SourceThrottled(
            f"the upstream registry {rule.upstream_url} limits its requests: {error}", error.retry_after
        )
    if isinstance(error, UpstreamTimedOut):
        return SourceTimedOut(f"the upstream registry {rule.upstream_url} did not answer in time: {error}")
    if isinstance(error, UpstreamInvalid) or (error.status is not None and error.status >= 500):
        return SourceAnswerInvalid(f"the upstream registry {rule.upstream_url} answered with an error: {error}")
    return Unavailable(f"the upstream registry {rule.upstream_url} cannot be reached now: {error}")
