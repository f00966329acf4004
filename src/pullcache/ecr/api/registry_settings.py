"""ECR's account settings and pull time update exclusions: GetAccountSetting, PutAccountSetting,
RegisterPullTimeUpdateExclusion, DeregisterPullTimeUpdateExclusion, ListPullTimeUpdateExclusions.

Settings of the caller's registry (account and region), each authorized as `ecr:<Operation>` on `*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler
from pullcache.aws.wire import Params
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.account_settings import EcrAccountSettings
from pullcache.ecr.api.ports import RepositoryAuthorizer
from pullcache.ecr.pull_time_exclusions import PullTimeExclusions


class RegistrySettingsOperations:
    def __init__(
        self, settings: EcrAccountSettings, exclusions: PullTimeExclusions, authorize: RepositoryAuthorizer
    ) -> None:
        self._settings = settings
        self._exclusions = exclusions
        self._authorize = authorize

    def handlers(self) -> Mapping[str, Handler[CallContext]]:
        return {
            "GetAccountSetting": self.get_account_setting,
            "PutAccountSetting": self.put_account_setting,
            "RegisterPullTimeUpdateExclusion": self.register_pull_time_update_exclusion,
            "DeregisterPullTimeUpdateExclusion": self.deregister_pull_time_update_exclusion,
            "ListPullTimeUpdateExclusions": self.list_pull_time_update_exclusions,
        }

    def error_shapes(self) -> Mapping[type[Exception], str]:
        return {}  # ECR's own errors (ecr/errors.py), mapped by ecr/api/operations.py

    async def get_account_setting(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "GetAccountSetting")
        name = params["name"]
        return {"name": name, "value": await self._settings.get_setting(scope, name)}

    async def put_account_setting(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "PutAccountSetting")
        name, value = params["name"], params["value"]
        await self._settings.put_setting(scope, name, value)
        return {"name": name, "value": value}

    async def register_pull_time_update_exclusion(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "RegisterPullTimeUpdateExclusion")
        added = await self._exclusions.register(scope, params["principalArn"])
        return {"principalArn": added.principal_arn, "createdAt": added.created_at}

    async def deregister_pull_time_update_exclusion(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "DeregisterPullTimeUpdateExclusion")
        await self._exclusions.deregister(scope, params["principalArn"])
        return {"principalArn": params["principalArn"]}

    async def list_pull_time_update_exclusions(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "ListPullTimeUpdateExclusions")
        arns, token = await self._exclusions.list_exclusions(scope, params.get("nextToken"), params.get("maxResults"))
        return {"pullTimeUpdateExclusions": list(arns), "nextToken": token}

    async def _registry(self, context: CallContext, operation: str) -> RegistryScope:
        await self._authorize(context, operation, None, None)
        return RegistryScope(context.account, context.region)
