"""PullThroughRoleUsage: what keeps AWSServiceRoleForECRPullThroughCache in use, for IAM's deletion of it.

The role is used by every pull through cache rule of the account, in every region (the role cannot be deleted
until they are), and by imports in flight: an import that started within `busy_window` keeps the service busy
with the role. Older imports count as ended: their process died without ending them.

IAM's model calls each of RoleUsageList's `Resources` "the name of the resource that is using the service-linked
role" (2048 characters at most, 20 at least: an ARN, not a bare name). A pull through cache rule has no ARN of its
own in ECR's model; what uses the role on its behalf is the repositories it caches into, written as the role
(service_role.py). So a rule is named by the ARN of those repositories, the one a policy names them by:
`arn:aws:ecr:<region>:<account>:repository/<prefix>/*` (`repository/*` for the ROOT prefix).
"""

from __future__ import annotations

from datetime import timedelta

from pullcache.iam.model import Clock, RegionUsage, RoleUsage, utc_now
from pullcache.pullthrough.ports import PullThroughRuleStore
from pullcache.pullthrough.rules import ROOT_PREFIX, PullThroughRule

DEFAULT_BUSY_WINDOW = timedelta(minutes=15)


class PullThroughRoleUsage:
    """The ServiceRoleUsage (iam/ports.py) of ECR's pull through cache."""

    def __init__(
        self, rules: PullThroughRuleStore, busy_window: timedelta = DEFAULT_BUSY_WINDOW, clock: Clock = utc_now
    ) -> None:
        self._rules = rules
        self._busy_window = busy_window
        self._clock = clock

    async def find_role_usage(self, account_id: str) -> RoleUsage:
        """One RegionUsage per region that has rules, naming their repositories' ARNs, in order of region then
        prefix."""
        by_region: dict[str, list[str]] = {}
        for rule in await self._rules.list_account_rules(account_id):
            by_region.setdefault(rule.scope.region, []).append(cached_repositories_arn(rule))
        regions = tuple(RegionUsage(region, tuple(prefixes)) for region, prefixes in sorted(by_region.items()))
        busy = await self._rules.count_imports_since(account_id, self._clock() - self._busy_window) > 0
        return RoleUsage(regions, busy)


def cached_repositories_arn(rule: PullThroughRule) -> str:
    """The ARN of every repository `rule` caches into."""
    return rule.scope.repository_arn("*" if rule.prefix == ROOT_PREFIX else f"{rule.prefix}/*")
