"""ECR's lifecycle policy operations: PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy.

Each is authorized as EcrOperations authorizes a repository's operations (`ecr:<Operation>` on the repository,
its repository policy as the resource policy); they join ECR's table through `ecr_operations(..., extensions)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.wire import Params
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.api.ports import RepositoryAuthorizer
from pullcache.ecr.lifecycle import EcrLifecyclePolicies

Handler = Callable[[Params, CallContext], Awaitable[Mapping[str, Any]]]


class LifecyclePolicyOperations:
    def __init__(self, policies: EcrLifecyclePolicies, authorize: RepositoryAuthorizer) -> None:
        self._policies = policies
        self._authorize = authorize

    def handlers(self) -> dict[str, Handler]:
        return {
            "PutLifecyclePolicy": self.put_lifecycle_policy,
            "GetLifecyclePolicy": self.get_lifecycle_policy,
            "DeleteLifecyclePolicy": self.delete_lifecycle_policy,
        }

    def error_shapes(self) -> Mapping[type[Exception], str]:
        return {}  # ECR's own errors (ecr/errors.py), mapped by ecr/api/operations.py

    async def put_lifecycle_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "PutLifecyclePolicy")
        text = params["lifecyclePolicyText"]
        await self._policies.put_lifecycle_policy(scope, name, text)
        return {"registryId": scope.account_id, "repositoryName": name, "lifecyclePolicyText": text}

    async def get_lifecycle_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "GetLifecyclePolicy")
        policy = await self._policies.get_lifecycle_policy(scope, name)
        return {"registryId": scope.account_id, "repositoryName": name, "lifecyclePolicyText": policy.text}

    async def delete_lifecycle_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "DeleteLifecyclePolicy")
        policy = await self._policies.delete_lifecycle_policy(scope, name)
        return {"registryId": scope.account_id, "repositoryName": name, "lifecyclePolicyText": policy.text}

    async def _repository(self, params: Params, context: CallContext, operation: str) -> tuple[RegistryScope, str]:
        scope = RegistryScope(params.get("registryId") or context.account, context.region)
        name = params["repositoryName"]
        await self._authorize(context, operation, scope, name)
        return scope, name
