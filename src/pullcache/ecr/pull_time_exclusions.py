"""Pull time update exclusions (RegisterPullTimeUpdateExclusion, DeregisterPullTimeUpdateExclusion,
ListPullTimeUpdateExclusions): the IAM principals whose pulls do not move an image's last recorded pull time, per
registry scope.

They are stored and listed as ECR does, and the registry's record of pulls (registry/pull_records.py) applies them:
it reads every scope's exclusions at start and at each flush, and a pull by an excluded principal (matched by its
aws:PrincipalArn: an exclusion of a role covers its sessions) moves no pull time. It still counts in the repository's
pull count, which is of pulls served. A change here so takes effect within one flush interval. A registry holds at
most MAX_EXCLUSIONS (the model's largest list of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import ExclusionAlreadyExists, ExclusionNotFound
from pullcache.ecr.pagination import page_after
from pullcache.ecr.ports import PullTimeExclusion, RegistrySettingsStore

MAX_EXCLUSIONS = 100  # PullTimeUpdateExclusionList's max in ECR's model


class PullTimeExclusions:
    def __init__(self, store: RegistrySettingsStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._clock = clock

    async def register(self, scope: RegistryScope, principal_arn: str) -> PullTimeExclusion:
        """Raises ExclusionAlreadyExists, LimitExceeded."""
        added = await self._store.add_pull_time_exclusion(scope, principal_arn, self._clock(), MAX_EXCLUSIONS)
        if added is None:
            raise ExclusionAlreadyExists(principal_arn)
        return added

    async def deregister(self, scope: RegistryScope, principal_arn: str) -> None:
        """Raises ExclusionNotFound."""
        if not await self._store.remove_pull_time_exclusion(scope, principal_arn):
            raise ExclusionNotFound(principal_arn)

    async def list_exclusions(
        self, scope: RegistryScope, token: str | None, limit: int | None
    ) -> tuple[Sequence[str], str | None]:
        """A page of excluded principal ARNs. Raises InvalidParameter for a bad nextToken."""
        arns = [exclusion.principal_arn for exclusion in await self._store.list_pull_time_exclusions(scope)]
        return page_after(arns, lambda arn: arn, token, limit)
