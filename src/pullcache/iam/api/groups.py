"""The IAM operations on groups and their members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler, OperationTable
from pullcache.aws.wire import Params
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.shapes import group_shape, page_fields, read_page, user_shape
from pullcache.iam.arns import ROOT_PATH, group_arn, iam_arn
from pullcache.iam.errors import EntityKind
from pullcache.iam.service import IamService

Output = Mapping[str, Any]


class GroupOperations:
    def __init__(self, service: IamService, access: IamAccess) -> None:
        self._service = service
        self._access = access

    def register(self, table: OperationTable[CallContext]) -> None:
        handlers: dict[str, Handler[CallContext]] = {
            "CreateGroup": self.create_group,
            "GetGroup": self.get_group,
            "ListGroups": self.list_groups,
            "DeleteGroup": self.delete_group,
            "AddUserToGroup": self.add_user_to_group,
            "RemoveUserFromGroup": self.remove_user_from_group,
            "ListGroupsForUser": self.list_groups_for_user,
        }
        for operation, handler in handlers.items():
            table.register(operation, handler)

    async def _group_resource(self, context: CallContext, name: str) -> str:
        return await self._service.entity_arn(context.account, EntityKind.GROUP, name)

    async def create_group(self, params: Params, context: CallContext) -> Output:
        account, name, path = context.account, params["GroupName"], params.get("Path", ROOT_PATH)
        await self._access.authorize(context, "iam:CreateGroup", group_arn(account, path, name))
        return {"Group": group_shape(await self._service.groups.create_group(account, name, path))}

    async def get_group(self, params: Params, context: CallContext) -> Output:
        name = params["GroupName"]
        await self._access.authorize(context, "iam:GetGroup", await self._group_resource(context, name))
        group, page = await self._service.groups.get_group(context.account, name, *read_page(params))
        return {
            "Group": group_shape(group),
            "Users": [user_shape(user, listed=True) for user in page.items],
            **page_fields(page),
        }

    async def list_groups(self, params: Params, context: CallContext) -> Output:
        prefix = params.get("PathPrefix", ROOT_PATH)
        await self._access.authorize(context, "iam:ListGroups", iam_arn(context.account, "group", prefix, ""))
        page = await self._service.groups.list_groups(context.account, prefix, *read_page(params))
        return {"Groups": [group_shape(group) for group in page.items], **page_fields(page)}

    async def delete_group(self, params: Params, context: CallContext) -> Output:
        name = params["GroupName"]
        await self._access.authorize(context, "iam:DeleteGroup", await self._group_resource(context, name))
        await self._service.groups.delete_group(context.account, name)
        return {}

    async def add_user_to_group(self, params: Params, context: CallContext) -> Output:
        group, user = params["GroupName"], params["UserName"]
        await self._access.authorize(context, "iam:AddUserToGroup", await self._group_resource(context, group))
        await self._service.groups.add_user_to_group(context.account, group, user)
        return {}

    async def remove_user_from_group(self, params: Params, context: CallContext) -> Output:
        group, user = params["GroupName"], params["UserName"]
        resource = await self._group_resource(context, group)
        await self._access.authorize(context, "iam:RemoveUserFromGroup", resource)
        await self._service.groups.remove_user_from_group(context.account, group, user)
        return {}

    async def list_groups_for_user(self, params: Params, context: CallContext) -> Output:
        user = params["UserName"]
        resource = await self._service.entity_arn(context.account, EntityKind.USER, user)
        await self._access.authorize(context, "iam:ListGroupsForUser", resource)
        page = await self._service.groups.list_groups_for_user(context.account, user, *read_page(params))
        return {"Groups": [group_shape(group) for group in page.items], **page_fields(page)}
