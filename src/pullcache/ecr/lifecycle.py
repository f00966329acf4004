"""Lifecycle policies of repositories: the text kept as it was set, checked against the grammar ECR documents.

The check is the documented shape only ("Lifecycle policy properties" of the ECR user guide): a `rules` list of
at most 50 rules, each with a unique positive `rulePriority`, a `selection` (tagStatus tagged / untagged / any,
countType imageCountMoreThan / sinceImagePushed / sinceImagePulled with a positive countNumber, countUnit `days`
with the time-based count types only, a tagPrefixList or tagPatternList with tagged, at most four `*` in a
pattern) and an `action` of type `expire`. ECR's archive storage class is not offered here: `transition` actions,
`storageClass: archive` and `sinceImageTransitioned` are refused with a message that says so. Policies are
evaluated by lifecycle_evaluation.py, for the lifecycle policy preview and for lifecycle expiry
(lifecycle_expiry.py), which applies them in the background; when each was last applied is not recorded, so
GetLifecyclePolicy reports no lastEvaluatedAt.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter, LifecyclePolicyNotFound, RepositoryNotFound
from pullcache.ecr.ports import LifecyclePolicy, LifecyclePolicyStore, RepositoryLookup

MAX_RULES = 50  # ECR's quota "Rules per lifecycle policy"
TAG_STATUSES = frozenset({"tagged", "untagged", "any"})
COUNT_TYPES = frozenset({"imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"})
TIME_COUNT_TYPES = frozenset({"sinceImagePushed", "sinceImagePulled"})
MAX_WILDCARDS = 4  # per tagPatternList entry, as "Lifecycle policy properties" documents
NO_ARCHIVE = "archival (the archive storage class) is not supported by this registry"


class EcrLifecyclePolicies:
    def __init__(
        self,
        repositories: RepositoryLookup,
        store: LifecyclePolicyStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repositories = repositories
        self._store = store
        self._clock = clock

    async def put_lifecycle_policy(self, scope: RegistryScope, name: str, text: str) -> None:
        """Raises InvalidParameter (not a lifecycle policy), RepositoryNotFound."""
        check_lifecycle_policy(text)
        if not await self._store.set_lifecycle_policy(scope, name, text, self._clock()):
            raise RepositoryNotFound(scope, name)

    async def get_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy:
        """Raises RepositoryNotFound, LifecyclePolicyNotFound."""
        await self._repository(scope, name)
        found = await self._store.find_lifecycle_policy(scope, name)
        if found is None:
            raise LifecyclePolicyNotFound(scope, name)
        return found

    async def delete_lifecycle_policy(self, scope: RegistryScope, name: str) -> LifecyclePolicy:
        """Raises RepositoryNotFound, LifecyclePolicyNotFound."""
        await self._repository(scope, name)
        deleted = await self._store.delete_lifecycle_policy(scope, name)
        if deleted is None:
            raise LifecyclePolicyNotFound(scope, name)
        return deleted

    async def _repository(self, scope: RegistryScope, name: str) -> None:
        if await self._repositories.find_repository(scope, name) is None:
            raise RepositoryNotFound(scope, name)


def check_lifecycle_policy(text: str, member: str = "lifecyclePolicyText") -> None:
    """Raises InvalidParameter naming the first thing the policy gets wrong."""
    try:
        document = json.loads(text)
    except ValueError:
        _refuse(member, "the policy is not valid JSON")
    if not isinstance(document, dict):
        _refuse(member, "the policy must be a JSON object")
    rules = document.get("rules")
    if not isinstance(rules, list) or not rules:
        _refuse(member, "the policy must have a non-empty list of rules")
    if len(rules) > MAX_RULES:
        _refuse(member, f"a policy can have at most {MAX_RULES} rules")
    priorities: set[int] = set()
    for rule in rules:
        priority = _check_rule(rule, member)
        if priority in priorities:
            _refuse(member, f"rulePriority {priority} is used by more than one rule")
        priorities.add(priority)


def _check_rule(rule: Any, member: str) -> int:
    if not isinstance(rule, dict):
        _refuse(member, "each rule must be a JSON object")
    priority = rule.get("rulePriority")
    if not isinstance(priority, int) or not _positive_int(priority):
        _refuse(member, "each rule must have a rulePriority that is a positive integer")
    selection, action = rule.get("selection"), rule.get("action")
    if not isinstance(selection, dict):
        _refuse(member, "each rule must have a selection")
    _check_selection(selection, member)
    if isinstance(action, dict) and action.get("type") == "transition":
        _refuse(member, f"action type transition: {NO_ARCHIVE}")
    if not isinstance(action, dict) or action.get("type") != "expire":
        _refuse(member, "each rule must have an action of type expire")
    return priority


def _check_selection(selection: Mapping[str, Any], member: str) -> None:
    status, count_type = selection.get("tagStatus"), selection.get("countType")
    if status not in TAG_STATUSES:
        _refuse(member, "tagStatus must be one of tagged, untagged, any")
    if status == "tagged" and not (selection.get("tagPrefixList") or selection.get("tagPatternList")):
        _refuse(member, "a rule with tagStatus tagged must have a tagPrefixList or a tagPatternList")
    for key in ("tagPrefixList", "tagPatternList"):
        tags = selection.get(key)
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags)):
            _refuse(member, f"{key} must be a list of non-empty strings")
    if any(pattern.count("*") > MAX_WILDCARDS for pattern in selection.get("tagPatternList") or ()):
        _refuse(member, f"a tagPatternList entry can have at most {MAX_WILDCARDS} wildcards (*)")
    if count_type == "sinceImageTransitioned" or selection.get("storageClass", "standard") != "standard":
        _refuse(member, f"storageClass archive and countType sinceImageTransitioned: {NO_ARCHIVE}")
    if count_type not in COUNT_TYPES:
        _refuse(member, "countType must be one of imageCountMoreThan, sinceImagePushed, sinceImagePulled")
    if not _positive_int(selection.get("countNumber")):
        _refuse(member, "countNumber must be a positive integer")
    unit = selection.get("countUnit")
    if count_type in TIME_COUNT_TYPES and unit != "days":
        _refuse(member, f"countUnit must be days with countType {count_type}")
    if count_type == "imageCountMoreThan" and unit is not None:
        _refuse(member, "countUnit cannot be used with countType imageCountMoreThan")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _refuse(member: str, reason: str) -> NoReturn:
    # Reasoned: ECR's form for a parameter it refuses; the reasons are pullcache's words.
    raise InvalidParameter(
        f"Invalid parameter at '{member}' failed to satisfy constraint: 'Lifecycle policy validation failure: {reason}'"
    )
