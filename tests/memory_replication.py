"""ECR's ReplicationStore in memory, for the replicator's unit tests; the contract suite
(tests/contract/test_replication_store.py) holds it to what the SQL adapter does."""

from __future__ import annotations

from collections.abc import Sequence

from pullcache.core.digests import Digest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.replication_ports import (
    ImageReplication,
    ReplicationConfiguration,
    ReplicationDestination,
    ReplicationState,
)


class MemoryReplicationStore:
    """ReplicationStore in memory."""

    def __init__(self) -> None:
        self.configurations: dict[RegistryScope, ReplicationConfiguration] = {}
        self.replications: dict[tuple[RegistryScope, str, Digest, ReplicationDestination], ImageReplication] = {}

    async def find_configuration(self, scope: RegistryScope) -> ReplicationConfiguration | None:
        return self.configurations.get(scope)

    async def put_configuration(self, scope: RegistryScope, configuration: ReplicationConfiguration) -> None:
        self.configurations[scope] = configuration

    async def put_replications(self, replications: Sequence[ImageReplication]) -> None:
        for r in replications:
            self.replications[(r.source, r.repository, r.digest, r.destination)] = r

    async def list_replications(
        self, scope: RegistryScope, repository: str, digest: Digest
    ) -> Sequence[ImageReplication]:
        found = [r for (s, name, d, _), r in self.replications.items() if (s, name, d) == (scope, repository, digest)]
        return sorted(found, key=lambda r: (r.destination.registry_id, r.destination.region))

    async def list_in_progress(self) -> Sequence[ImageReplication]:
        return [r for r in self.replications.values() if r.state is ReplicationState.IN_PROGRESS]
