"""PullThroughSource: the registry's ContentSource for repositories under a pull-through cache rule.

    a manifest the repository lacks    imported from upstream now (the caller must be allowed
                                       ecr:BatchImportUpstreamImage, and ecr:CreateRepository for a new
                                       repository); then the image's blobs are fetched in the background
    a cached tag                       served; asked of the upstream again (a HEAD) once its check is older than
                                       the rule's TTL; an upstream that fails then is answered by the cached copy
    a cached digest                    served, never asked again: content under a digest does not change
    a blob the repository lacks        streamed from the single fill of that blob (fills.py)

Everything the cache writes, it writes as the service-linked role AWSServiceRoleForECRPullThroughCache: each
write is authorized by the policy engine against the role's policy, and while an import runs the role is in use
(it cannot be deleted). Without the role, nothing is imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pullcache.caching.memo import TtlMemo
from pullcache.caching.single_flight import SingleFlight
from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.iam.model import Role
from pullcache.policy import RequestPrincipal
from pullcache.pullthrough.errors import UpstreamDenied, UpstreamError, UpstreamNotFound
from pullcache.pullthrough.fills import BlobFills, Filling, finish_or_cancel
from pullcache.pullthrough.imports import ImportsInFlight
from pullcache.pullthrough.ports import (
    PullThroughRuleStore,
    ServiceLinkedRoles,
    UpstreamBlob,
    UpstreamCredentials,
    UpstreamEndpoint,
    UpstreamManifest,
    UpstreamManifestHead,
    UpstreamRegistry,
)
from pullcache.pullthrough.rules import PullThroughRule, match_rule
from pullcache.registry.errors import Denied, ManifestInvalid, Unavailable
from pullcache.registry.manifests import parse_manifest
from pullcache.registry.ports import BlobStore, LocalBlob, ManifestRecord, MetadataStore, PullRequester

log = logging.getLogger(__name__)

SESSION_NAME = "pullthroughcache"
# The role's writes, as ECR's pull-through cache makes them (the role's policy allows exactly these).
AUTHORIZE = ("ecr:GetAuthorizationToken",)
PUT_IMAGE = ("ecr:PutImage",)
PUT_LAYER = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
)
RULES_TTL = 1.0  # seconds a worker keeps a scope's rules before reading them again
ROLE_TTL = 1.0  # seconds a worker trusts what it found of an account's service-linked role
BACKGROUND_FILLS = 4  # blobs of one image fetched at once in the background
BACKGROUND_DELAY = 1.0  # seconds the background fill of an image waits for its puller's own requests
LINKS_REMEMBERED = 4096
ROLE_USE_RESOLUTION = timedelta(minutes=1)
CLOSE_GRACE = 5.0  # seconds background fills get to finish when the server stops


class RuleCredentials(Protocol):
    async def find_credentials(self, rule: PullThroughRule) -> UpstreamCredentials | None:
        """The username and access token of the rule's secret; None when the rule has none (or it is gone)."""
        ...


class ServiceAuthorizer(Protocol):
    async def authorize_service(
        self, principal: RequestPrincipal, scope: RegistryScope, repository: str | None, actions: Sequence[str]
    ) -> None:
        """Raise Denied unless `principal` may perform every action on the repository (None: the registry)."""
        ...


class CachedRepositories(Protocol):
    async def create_cached_repository(self, scope: RegistryScope, repository: str) -> None:
        """Create the repository as the repository creation templates for the pull-through cache say;
        nothing happens when it exists."""
        ...


class PullThroughSource:
    def __init__(
        self,
        rules: PullThroughRuleStore,
        upstream: UpstreamRegistry,
        credentials: RuleCredentials,
        roles: ServiceLinkedRoles,
        authorizer: ServiceAuthorizer,
        repositories: CachedRepositories,
        blobs: BlobStore,
        metadata: MetadataStore,
        fills: BlobFills,
        *,
        prefetch_platforms: bool = False,
        background_delay: float = BACKGROUND_DELAY,
    ) -> None:
        self._rules = rules
        self._upstream = upstream
        self._credentials = credentials
        self._roles = roles
        self._authorizer = authorizer
        self._repositories = repositories
        self._blobs = blobs
        self._metadata = metadata
        self._fills = fills
        self._prefetch_platforms = prefetch_platforms
        self._background_delay = background_delay
        self._linked: OrderedDict[tuple[RegistryScope, str, Digest], None] = OrderedDict()
        self._rule_memo: TtlMemo[RegistryScope, Sequence[PullThroughRule]] = TtlMemo(RULES_TTL)
        self._role_used: dict[str, datetime] = {}
        self._role_memo: TtlMemo[str, Role | None] = TtlMemo(ROLE_TTL)
        self._in_flight = ImportsInFlight(rules)
        self._tasks: set[asyncio.Task[None]] = set()
        self._imports: SingleFlight[tuple[RegistryScope, str, str], ManifestRecord | None] = SingleFlight()
        self._checks: SingleFlight[tuple[RegistryScope, str, str], UpstreamManifestHead] = SingleFlight()
        self._background = asyncio.Semaphore(BACKGROUND_FILLS)

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Give the background work `grace` seconds to finish, then cancel what is left (its fills start over
        at the next pull): work cut short mid-write leaves nothing behind, but finishing is kinder."""
        await finish_or_cancel(self._tasks, grace)
        await self._fills.close(grace)
        await self._in_flight.close()

    # -- manifests ------------------------------------------------------------------------------------------

    async def find_manifest(
        self,
        scope: RegistryScope,
        repository: str,
        reference: Digest | str,
        cached: ManifestRecord | None,
        requester: PullRequester,
    ) -> ManifestRecord | None:
        rule = await self.find_rule(scope, repository, fresh=cached is None)
        if rule is None:
            return cached
        if cached is not None:
            if isinstance(reference, Digest) or _fresh(cached.tag_checked_at, rule.tag_ttl):
                return cached
            return await self._refresh_tag(rule, scope, repository, reference, cached, requester)
        exists = await self._metadata.repository_exists(scope, repository)
        await requester.authorize_import(repository, exists)
        # Pullers of the same missing image at once share one upstream fetch and one import.
        return await self._imports.run(
            (scope, repository, str(reference)), lambda: self._import(rule, scope, repository, reference, exists)
        )

    async def _import(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, reference: Digest | str, exists: bool
    ) -> ManifestRecord | None:
        try:
            fetched = await self._upstream.get_manifest(
                await self._endpoint(rule), rule.upstream_repository(repository), str(reference)
            )
        except UpstreamNotFound:
            return None
        except UpstreamError as error:
            raise _registry_error(rule, error) from None
        tag = reference if isinstance(reference, str) else None
        return await self._import_manifest(rule, scope, repository, tag, fetched, exists)

    async def _refresh_tag(
        self,
        rule: PullThroughRule,
        scope: RegistryScope,
        repository: str,
        tag: str,
        cached: ManifestRecord,
        requester: PullRequester,
    ) -> ManifestRecord:
        endpoint = await self._endpoint(rule)
        upstream_name = rule.upstream_repository(repository)
        try:
            head = await self._checks.run(
                (scope, repository, tag), lambda: self._upstream.head_manifest(endpoint, upstream_name, tag)
            )
            if head.digest == cached.digest:
                await self._metadata.mark_tag_checked(scope, repository, tag, _now())
                return cached
            await requester.authorize_import(repository, True)
            fetched = await self._upstream.get_manifest(endpoint, upstream_name, str(head.digest))
            return await self._import_manifest(rule, scope, repository, tag, fetched, True)
        except (UpstreamError, Denied, Unavailable) as error:
            # Stale-if-error: the cached image is the best answer there is.
            log.warning(
                "serving the cached %s:%s: checking the upstream failed: %s",
                repository,
                tag,
                error,
                extra={"fields": {"rule": rule.prefix, "upstream": rule.upstream_url}},
            )
            return cached

    async def _import_manifest(
        self,
        rule: PullThroughRule,
        scope: RegistryScope,
        repository: str,
        tag: str | None,
        fetched: UpstreamManifest,
        exists: bool,
    ) -> ManifestRecord:
        try:
            parsed = parse_manifest(fetched.content, fetched.media_type)
        except ManifestInvalid as error:
            raise Unavailable(f"the upstream {rule.upstream_url} sent a manifest that is not valid: {error}") from None
        record = ManifestRecord(
            fetched.digest,
            parsed.media_type,
            fetched.content,
            parsed.subject.digest if parsed.subject else None,
            parsed.artifact_type,
            parsed.annotations or None,
        )
        async with self._as_role(scope, repository, recorded=True) as role:
            await self._authorizer.authorize_service(role, scope, None, AUTHORIZE)
            if not exists:
                await self._repositories.create_cached_repository(scope, repository)
            await self._authorizer.authorize_service(role, scope, repository, PUT_IMAGE)
            immutable = False
            if tag is not None:
                mutability = await self._metadata.find_tag_mutability(scope, repository)
                immutable = mutability is not None and mutability.is_immutable(tag)
            previous = await self._metadata.put_manifest(scope, repository, record, tag, keep_tag=immutable)
            if tag is not None:
                await self._metadata.mark_tag_checked(scope, repository, tag, _now())
        if tag is not None and immutable and previous is not None and previous != record.digest:
            kept = await self._metadata.find_manifest(scope, repository, tag)
            if kept is not None:
                return kept
        log.info(
            "imported %s@%s from %s",
            repository,
            record.digest,
            rule.upstream_url,
            extra={"fields": {"rule": rule.prefix, "tag": tag}},
        )
        for blob in parsed.blobs:
            if not blob.external:
                self._spawn(self._fill_in_background(rule, scope, repository, blob.digest))
        if self._prefetch_platforms:
            for child in parsed.children:
                self._spawn(self._prefetch_child(rule, scope, repository, child.digest))
        return record

    async def _prefetch_child(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest
    ) -> None:
        if await self._metadata.find_manifest(scope, repository, digest) is not None:
            return
        fetched = await self._upstream.get_manifest(
            await self._endpoint(rule), rule.upstream_repository(repository), str(digest)
        )
        await self._import_manifest(rule, scope, repository, None, fetched, True)

    # -- blobs ----------------------------------------------------------------------------------------------

    async def find_blob(
        self, scope: RegistryScope, repository: str, digest: Digest, requester: PullRequester
    ) -> LocalBlob | Filling | None:
        rule = await self.find_rule(scope, repository, fresh=True)
        if rule is None or not await self._metadata.repository_exists(scope, repository):
            return None
        await requester.authorize_import(repository, True)
        try:
            blob = await self._open_blob(rule, scope, repository, digest)
        except UpstreamNotFound:
            return None
        except UpstreamError as error:
            raise _registry_error(rule, error) from None
        if isinstance(blob, Filling):
            self._spawn(self._link_after_fill(rule, scope, repository, digest))
        return blob

    async def _open_blob(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest, *, recorded: bool = False
    ) -> LocalBlob | Filling:
        """`recorded`: the import is on record before the role writes (a client's request does not wait for it)."""
        async with self._as_role(scope, repository, recorded=recorded) as role:
            await self._authorizer.authorize_service(role, scope, repository, PUT_LAYER)

        committed = await self._blobs.open_blob(digest)
        if committed is not None:
            await self._link(scope, repository, digest, committed.size, again=True)
            return committed
        return await self._fills.open(
            digest,
            lambda: self._upstream_blob(rule, scope, repository, digest),
            lambda size: self._link(scope, repository, digest, size, again=True),
        )

    async def _fill_in_background(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest
    ) -> None:
        """Fetch a blob of an imported image (or join its fill) and link it into the repository. It waits a
        moment first: a client pulling the image asks for its blobs at once, and those requests go first."""
        await asyncio.sleep(self._background_delay)
        async with self._background:
            if (scope, repository, digest) in self._linked:
                return
            if await self._metadata.find_blob_size(scope, repository, digest) is not None:
                return
            blob = await self._open_blob(rule, scope, repository, digest, recorded=True)
            if isinstance(blob, Filling):
                await blob.verdict()
                await self._link_committed(scope, repository, digest)

    async def _link_after_fill(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest
    ) -> None:
        """Link a blob a request is being served from once its fill ends (whichever process fills it)."""
        await self._fills.wait(
            digest,
            lambda: self._upstream_blob(rule, scope, repository, digest),
            lambda size: self._link(scope, repository, digest, size),
        )
        await self._link_committed(scope, repository, digest)

    async def _link_committed(self, scope: RegistryScope, repository: str, digest: Digest) -> None:
        committed = await self._blobs.open_blob(digest)
        if committed is not None:
            await self._link(scope, repository, digest, committed.size)

    async def _link(
        self, scope: RegistryScope, repository: str, digest: Digest, size: int, *, again: bool = False
    ) -> None:
        """Link a blob into the repository. This process remembers the links it made lately and skips them,
        unless `again`: a request that found the link missing (it may have been deleted since) makes it anew."""
        key = (scope, repository, digest)
        if key in self._linked and not again:
            return
        await self._metadata.link_blob(scope, repository, digest, size)
        self._linked[key] = None
        if len(self._linked) > LINKS_REMEMBERED:
            self._linked.popitem(last=False)

    @contextlib.asynccontextmanager
    async def _upstream_blob(
        self, rule: PullThroughRule, scope: RegistryScope, repository: str, digest: Digest
    ) -> AsyncIterator[UpstreamBlob]:
        async with self._in_flight.importing(scope, repository):
            endpoint = await self._endpoint(rule)
            async with self._upstream.open_blob(endpoint, rule.upstream_repository(repository), digest) as blob:
                yield blob

    # -- rules, credentials, the role -----------------------------------------------------------------------

    async def find_rule(self, scope: RegistryScope, repository: str, *, fresh: bool = False) -> PullThroughRule | None:
        """The rule covering `repository`. Rules are re-read every RULES_TTL seconds, and (`fresh`) for a miss
        no cached rule covers: a rule created a moment ago, in any worker, applies to the very next pull (a pull
        that comes while the rules are being read shares that read)."""
        rules = await self._rule_memo.get(
            scope,
            lambda: self._list_rules(scope),
            reuse=None if not fresh else lambda kept: match_rule(kept, repository) is not None,
        )
        return match_rule(rules, repository)

    async def _list_rules(self, scope: RegistryScope) -> Sequence[PullThroughRule]:
        return tuple(await self._rules.list_rules(scope))

    def forget_rules(self, scope: RegistryScope) -> None:
        """Read the scope's rules again at the next pull (they changed in this process)."""
        self._rule_memo.forget(scope)

    async def _endpoint(self, rule: PullThroughRule) -> UpstreamEndpoint:
        return UpstreamEndpoint(rule.base_url, await self._credentials.find_credentials(rule))

    @contextlib.asynccontextmanager
    async def _as_role(
        self, scope: RegistryScope, repository: str, *, recorded: bool = False
    ) -> AsyncIterator[RequestPrincipal]:
        """A session of the service-linked role for one piece of work, recorded as an import while it runs
        (`recorded`: before it starts)."""
        role = await self._role_session(scope)
        async with self._in_flight.importing(scope, repository, recorded=recorded):
            yield role

    async def _role_session(self, scope: RegistryScope) -> RequestPrincipal:
        """The service's session of the account's service-linked role (looked up at most every ROLE_TTL seconds).

        Raises Denied when the role does not exist: without it, nothing is imported."""
        role = await self._role_memo.get(scope.account_id, lambda: self._roles.find_role(scope.account_id))
        if role is None:
            raise Denied(
                "The pull through cache cannot import images: the service-linked role "
                "AWSServiceRoleForECRPullThroughCache does not exist in this account"
            )
        await self._record_use(role, scope)
        return role_session(role)

    async def _record_use(self, role: Role, scope: RegistryScope) -> None:
        now = _now()
        last = self._role_used.get(role.arn)
        if last is None or now - last >= ROLE_USE_RESOLUTION:
            self._role_used[role.arn] = now
            await self._roles.record_use(role, now, scope.region)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(_logged(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def role_session(role: Role) -> RequestPrincipal:
    """The principal of the service's session of `role`: `assumed-role/<role name>/<session>`."""
    partition = role.arn.split(":", 2)[1]
    session_arn = f"arn:{partition}:sts::{role.account}:assumed-role/{role.name}/{SESSION_NAME}"
    return RequestPrincipal.role_session(session_arn, role.arn, role.role_id)


def _registry_error(rule: PullThroughRule, error: UpstreamError) -> Denied | Unavailable:
    log.warning("upstream %s failed: %s", rule.upstream_url, error, extra={"fields": {"rule": rule.prefix}})
    if isinstance(error, UpstreamDenied):
        return Denied(f"the upstream registry {rule.upstream_url} refused the pull through cache rule's credentials")
    return Unavailable(f"the upstream registry {rule.upstream_url} cannot serve this now: {error}")


def _fresh(checked_at: datetime | None, ttl: timedelta) -> bool:
    return checked_at is not None and _now() - checked_at < ttl


async def _logged(work: Awaitable[None]) -> None:
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception as error:
        log.warning("background pull-through work failed: %s", error)


def _now() -> datetime:
    return datetime.now(UTC)
