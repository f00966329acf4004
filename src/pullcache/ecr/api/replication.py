"""ECR's replication operations: PutReplicationConfiguration, DescribeRegistry, DescribeImageReplicationStatus.

PutReplicationConfiguration and DescribeRegistry act on the caller's registry in the call's region and are
authorized on `*`; DescribeImageReplicationStatus on the repository (its policy as the resource policy), in the
registry `registryId` names. They join ECR's table through `ecr_operations(..., extensions)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.wire import Params
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.api.ports import RepositoryAuthorizer
from pullcache.ecr.replication import ReplicationService
from pullcache.ecr.replication_ports import (
    ImageReplication,
    ReplicationConfiguration,
    ReplicationDestination,
    ReplicationRule,
    RepositoryFilter,
)

Handler = Callable[[Params, CallContext], Awaitable[Mapping[str, Any]]]


class ReplicationOperations:
    def __init__(self, replication: ReplicationService, authorize: RepositoryAuthorizer) -> None:
        self._replication = replication
        self._authorize = authorize

    def handlers(self) -> dict[str, Handler]:
        return {
            "PutReplicationConfiguration": self.put_replication_configuration,
            "DescribeRegistry": self.describe_registry,
            "DescribeImageReplicationStatus": self.describe_image_replication_status,
        }

    def error_shapes(self) -> Mapping[type[Exception], str]:
        return {}  # ECR's own errors (ecr/errors.py), mapped by ecr/api/operations.py

    async def put_replication_configuration(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        await self._authorize(context, "PutReplicationConfiguration", None, None)
        configuration = _configuration(params["replicationConfiguration"])
        stored = await self._replication.put_configuration(_own(context), configuration)
        return {"replicationConfiguration": configuration_shape(stored)}

    async def describe_registry(self, _params: Params, context: CallContext) -> Mapping[str, Any]:
        await self._authorize(context, "DescribeRegistry", None, None)
        scope = _own(context)
        configuration = await self._replication.describe_configuration(scope)
        return {"registryId": scope.account_id, "replicationConfiguration": configuration_shape(configuration)}

    async def describe_image_replication_status(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = RegistryScope(params.get("registryId") or context.account, context.region)
        name = params["repositoryName"]
        await self._authorize(context, "DescribeImageReplicationStatus", scope, name)
        image_id = params["imageId"]
        digest, tag, replications = await self._replication.image_replications(
            scope, name, image_id.get("imageDigest"), image_id.get("imageTag")
        )
        shown_id = {"imageDigest": str(digest)} | ({"imageTag": tag} if tag else {})
        return {
            "repositoryName": name,
            "imageId": shown_id,
            "replicationStatuses": [_status_shape(r) for r in replications],
        }


def configuration_shape(configuration: ReplicationConfiguration) -> dict[str, Any]:
    return {"rules": [_rule_shape(rule) for rule in configuration.rules]}


def _rule_shape(rule: ReplicationRule) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "destinations": [{"region": d.region, "registryId": d.registry_id} for d in rule.destinations]
    }
    if rule.repository_filters:
        shape["repositoryFilters"] = [
            {"filter": f.filter, "filterType": f.filter_type} for f in rule.repository_filters
        ]
    if rule.delete_replication is not None:
        shape["deleteReplication"] = {"enabled": rule.delete_replication}
    return shape


def _configuration(given: Mapping[str, Any]) -> ReplicationConfiguration:
    return ReplicationConfiguration(tuple(_rule(rule) for rule in given["rules"]))


def _rule(given: Mapping[str, Any]) -> ReplicationRule:
    delete = given.get("deleteReplication")
    return ReplicationRule(
        tuple(ReplicationDestination(d["region"], d["registryId"]) for d in given["destinations"]),
        tuple(RepositoryFilter(f["filter"], f["filterType"]) for f in given.get("repositoryFilters", [])),
        None if delete is None else bool(delete["enabled"]),
    )


def _status_shape(replication: ImageReplication) -> dict[str, Any]:
    shape = {
        "region": replication.destination.region,
        "registryId": replication.destination.registry_id,
        "status": replication.state.value,
    }
    if replication.failure_code is not None:
        shape["failureCode"] = replication.failure_code
    return shape


def _own(context: CallContext) -> RegistryScope:
    return RegistryScope(context.account, context.region)
