"""ImageReferrers: ListImageReferrers, the artifacts that refer to an image (OCI 1.1 `subject`), over the registry's
referrers: the same manifests /v2/'s referrers API lists.

Every image here is ACTIVE (nothing is ever archived), so the filter's artifactStatus ACTIVE or ANY lists them all
and ARCHIVED or ACTIVATING none. A page is REFERRERS_PAGE referrers unless maxResults says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pullcache.core.digests import Digest, InvalidDigest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter
from pullcache.ecr.pagination import page_after
from pullcache.ecr.service import EcrService
from pullcache.registry.ports import ManifestRecord
from pullcache.registry.service import RegistryService

REFERRERS_PAGE = 20  # the model: "If this parameter is not used, then ListImageReferrers returns up to 20 results"
ACTIVE = "ACTIVE"
LISTED_STATUSES = frozenset({ACTIVE, "ANY"})  # the filter's artifactStatus values that list active artifacts
# Reasoned: the model declares no pattern for subjectId.imageDigest; ECR's wording for a digest it cannot read.
INVALID_SUBJECT = "Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: 'Invalid digest'"


@dataclass(frozen=True, slots=True)
class Referrer:
    manifest: ManifestRecord
    status: str = ACTIVE

    @property
    def size(self) -> int:
        """The size of the artifact's manifest, as the referrers API's descriptor states it."""
        return len(self.manifest.content)


class ImageReferrers:
    def __init__(self, repositories: EcrService, registry: RegistryService) -> None:
        self._repositories = repositories
        self._registry = registry

    async def list_referrers(
        self,
        scope: RegistryScope,
        name: str,
        subject: str,
        artifact_types: Sequence[str],
        status: str,
        token: str | None,
        limit: int | None,
    ) -> tuple[list[Referrer], str | None]:
        """A page of the artifacts whose subject is `subject`, in the order they were pushed; raises
        RepositoryNotFound, InvalidParameter."""
        await self._repositories.get_repository(scope, name)
        try:
            digest = Digest.parse(subject)
        except InvalidDigest:
            raise InvalidParameter(INVALID_SUBJECT) from None
        if status not in LISTED_STATUSES:
            return [], None
        found = await self._registry.list_referrers(scope, name, str(digest), None)
        wanted = set(artifact_types)
        referrers = [Referrer(m) for m in found if not wanted or m.artifact_type in wanted]
        return page_after(referrers, lambda r: str(r.manifest.digest), token, limit or REFERRERS_PAGE)
