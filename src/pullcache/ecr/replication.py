"""ECR's replication configuration and the replication status of images: PutReplicationConfiguration,
DescribeRegistry's replicationConfiguration, DescribeImageReplicationStatus. The copying itself is replicator.py.

The model holds the shapes and their limits (rules, destinations and filters per rule, PREFIX_MATCH, the filter's
pattern); this service holds what ECR checks beyond them, in ECR's form ("Invalid parameter at '<member>' failed
to satisfy constraint: '...'"):

    at most 25 unique destinations across all rules (ECR's user guide, "Private image replication")
    no destination that is the source registry itself (reasoned: replicating a registry onto itself)
    no deleteReplication enabled: deletions are not replicated by this server, and it says so rather than
          accept a setting it would not honour
"""

from __future__ import annotations

from collections.abc import Sequence

from pullcache.core.digests import Digest, InvalidDigest
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import ImageNotFound, InvalidParameter, RepositoryNotFound
from pullcache.ecr.replication_ports import ImageReplication, ReplicationConfiguration, ReplicationStore
from pullcache.registry.ports import MetadataStore

MAX_UNIQUE_DESTINATIONS = 25
_CONSTRAINT = "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: '{}'"


class ReplicationService:
    def __init__(self, store: ReplicationStore, images: MetadataStore) -> None:
        self._store = store
        self._images = images

    async def put_configuration(
        self, scope: RegistryScope, configuration: ReplicationConfiguration
    ) -> ReplicationConfiguration:
        """Raises InvalidParameter (see the module's docstring)."""
        check_configuration(scope, configuration)
        await self._store.put_configuration(scope, configuration)
        return configuration

    async def describe_configuration(self, scope: RegistryScope) -> ReplicationConfiguration:
        return await self._store.find_configuration(scope) or ReplicationConfiguration()

    async def image_replications(
        self, scope: RegistryScope, repository: str, digest: str | None, tag: str | None
    ) -> tuple[Digest, str | None, Sequence[ImageReplication]]:
        """The image (by digest, else tag), the tag it was asked by, and its replications. Raises
        RepositoryNotFound, ImageNotFound, InvalidParameter (neither a digest nor a tag, or a malformed digest)."""
        if not await self._images.repository_exists(scope, repository):
            raise RepositoryNotFound(scope, repository)
        reference: Digest | str
        if digest:
            try:
                reference = Digest.parse(digest)
            except InvalidDigest:
                # BatchGetImage's text for the same digest (ecr/images.py).
                raise InvalidParameter(
                    "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
                ) from None
        elif tag:
            reference = tag
        else:
            raise InvalidParameter("Invalid request parameters: both tag and digest cannot be null")
        found = await self._images.find_manifest(scope, repository, reference)
        if found is not None and digest and tag:
            tagged = await self._images.find_manifest(scope, repository, tag)
            found = found if tagged is not None and tagged.digest == found.digest else None
        if found is None:
            raise ImageNotFound(scope, repository, digest, tag)
        return found.digest, tag, await self._store.list_replications(scope, repository, found.digest)


def check_configuration(scope: RegistryScope, configuration: ReplicationConfiguration) -> None:
    """Raises InvalidParameter with ECR's form of message."""
    for rule in configuration.rules:
        if rule.delete_replication:
            raise InvalidParameter(
                _CONSTRAINT.format(
                    "deleteReplication is not supported by this registry: image deletions and tag "
                    "removals are not replicated"
                )
            )
        for destination in rule.destinations:
            if destination.scope() == scope:
                raise InvalidParameter(
                    _CONSTRAINT.format(
                        f"Replication destination region '{destination.region}' and registry "
                        f"'{destination.registry_id}' is the source registry"
                    )
                )
    if len(configuration.unique_destinations()) > MAX_UNIQUE_DESTINATIONS:
        raise InvalidParameter(
            _CONSTRAINT.format(
                f"A replication configuration can have at most {MAX_UNIQUE_DESTINATIONS} unique destinations"
            )
        )
