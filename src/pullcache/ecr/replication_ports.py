"""ECR's private image replication: the values of a replication configuration and of an image's replication
status, the rule matching (pure), and the ports the replication use cases need.

    rule  destinations [(us-west-2, 111122223333)]  filters [PREFIX_MATCH "prod"]
          covers prod/api, production, prod-x (a prefix of the name, as ECR matches it); not dev/prod
    rule  destinations [(eu-west-1, 444455556666)]  no filters: covers every repository

A repository's destinations are those of every rule that covers it, each once, in the order the rules name them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope

PREFIX_MATCH = "PREFIX_MATCH"


@dataclass(frozen=True, slots=True)
class ReplicationDestination:
    region: str
    registry_id: str

    def scope(self) -> RegistryScope:
        return RegistryScope(self.registry_id, self.region)


@dataclass(frozen=True, slots=True)
class RepositoryFilter:
    filter: str
    filter_type: str = PREFIX_MATCH

    def covers(self, repository: str) -> bool:
        return repository.startswith(self.filter)


@dataclass(frozen=True, slots=True)
class ReplicationRule:
    destinations: tuple[ReplicationDestination, ...]
    repository_filters: tuple[RepositoryFilter, ...] = ()
    # None: not given (ECR then replicates no deletions and DescribeRegistry leaves it out).
    delete_replication: bool | None = None

    def covers(self, repository: str) -> bool:
        """No filter covers every repository; filters cover a repository when any of them does."""
        return not self.repository_filters or any(f.covers(repository) for f in self.repository_filters)


@dataclass(frozen=True, slots=True)
class ReplicationConfiguration:
    rules: tuple[ReplicationRule, ...] = ()

    def destinations_for(self, repository: str) -> tuple[ReplicationDestination, ...]:
        found: dict[ReplicationDestination, None] = {}
        for rule in self.rules:
            if rule.covers(repository):
                found.update(dict.fromkeys(rule.destinations))
        return tuple(found)

    def unique_destinations(self) -> tuple[ReplicationDestination, ...]:
        return tuple(dict.fromkeys(d for rule in self.rules for d in rule.destinations))


class ReplicationState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class ImageReplication:
    """One image's replication to one destination: where it stands, and why it failed when it did."""

    source: RegistryScope
    repository: str
    digest: Digest
    destination: ReplicationDestination
    state: ReplicationState
    tag: str | None = None  # the tag pushed with the image, replicated with it
    failure_code: str | None = None
    updated_at: datetime | None = None


class ReplicationStore(Protocol):
    """Every method is one transaction; `scope` picks the source registry."""

    async def find_configuration(self, scope: RegistryScope) -> ReplicationConfiguration | None: ...

    async def put_configuration(self, scope: RegistryScope, configuration: ReplicationConfiguration) -> None: ...

    async def put_replications(self, replications: Sequence[ImageReplication]) -> None:
        """Record each replication (one per image and destination), replacing what was recorded of it."""
        ...

    async def list_replications(
        self, scope: RegistryScope, repository: str, digest: Digest
    ) -> Sequence[ImageReplication]:
        """The image's replications, in order of destination."""
        ...

    async def list_in_progress(self) -> Sequence[ImageReplication]:
        """Every replication still IN_PROGRESS, of any registry: what a restart resumes."""
        ...


class KnownAccounts(Protocol):
    """The accounts this server holds: a destination in any other account is not reachable."""

    async def find_root_key(self, account_id: str) -> object | None: ...


class RegistryPolicies(Protocol):
    async def find_registry_policy(self, scope: RegistryScope) -> str | None: ...


class ReplicaRepositories(Protocol):
    async def create_replica_repository(self, scope: RegistryScope, repository: str) -> None:
        """Create the repository in the destination registry as its repository creation template for REPLICATION
        says (default settings without one); nothing when another request created it first."""
        ...
