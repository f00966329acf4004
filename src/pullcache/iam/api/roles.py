"""The IAM operations on roles: trust policies, descriptions, session limits, tags, permissions boundaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler, OperationTable
from pullcache.aws.wire import Params
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.shapes import (
    RoleView,
    page_fields,
    read_page,
    read_tags,
    role_shape,
    tag_condition_keys,
    tag_list,
)
from pullcache.iam.arns import ROOT_PATH, iam_arn, role_arn
from pullcache.iam.errors import EntityKind
from pullcache.iam.service import IamService

Output = Mapping[str, Any]


class RoleOperations:
    def __init__(self, service: IamService, access: IamAccess) -> None:
        self._service = service
        self._access = access

    def register(self, table: OperationTable[CallContext]) -> None:
        handlers: dict[str, Handler[CallContext]] = {
            "CreateRole": self.create_role,
            "GetRole": self.get_role,
            "ListRoles": self.list_roles,
            "UpdateRole": self.update_role,
            "UpdateRoleDescription": self.update_role_description,
            "UpdateAssumeRolePolicy": self.update_assume_role_policy,
            "DeleteRole": self.delete_role,
            "TagRole": self.tag_role,
            "UntagRole": self.untag_role,
            "ListRoleTags": self.list_role_tags,
            "PutRolePermissionsBoundary": self.put_role_permissions_boundary,
            "DeleteRolePermissionsBoundary": self.delete_role_permissions_boundary,
        }
        for operation, handler in handlers.items():
            table.register(operation, handler)

    async def _role_resource(self, context: CallContext, name: str) -> str:
        return await self._service.entity_arn(context.account, EntityKind.ROLE, name)

    async def create_role(self, params: Params, context: CallContext) -> Output:
        account, name, path = context.account, params["RoleName"], params.get("Path", ROOT_PATH)
        tags = read_tags(params)
        boundary = params.get("PermissionsBoundary")
        keys = tag_condition_keys(tags) | ({"iam:PermissionsBoundary": boundary} if boundary else {})
        await self._access.authorize(context, "iam:CreateRole", role_arn(account, path, name), keys)
        role = await self._service.roles.create_role(
            account,
            name,
            params["AssumeRolePolicyDocument"],
            path=path,
            description=params.get("Description"),
            max_session_duration=params.get("MaxSessionDuration"),
            permissions_boundary=boundary,
            tags=tags,
        )
        return {"Role": role_shape(role, RoleView.CREATED)}

    async def get_role(self, params: Params, context: CallContext) -> Output:
        name = params["RoleName"]
        await self._access.authorize(context, "iam:GetRole", await self._role_resource(context, name))
        return {"Role": role_shape(await self._service.roles.get_role(context.account, name), RoleView.FETCHED)}

    async def list_roles(self, params: Params, context: CallContext) -> Output:
        prefix = params.get("PathPrefix", ROOT_PATH)
        await self._access.authorize(context, "iam:ListRoles", iam_arn(context.account, "role", prefix, ""))
        page = await self._service.roles.list_roles(context.account, prefix, *read_page(params))
        return {"Roles": [role_shape(role, RoleView.LISTED) for role in page.items], **page_fields(page)}

    async def update_role(self, params: Params, context: CallContext) -> Output:
        name = params["RoleName"]
        await self._access.authorize(context, "iam:UpdateRole", await self._role_resource(context, name))
        await self._service.roles.update_role(
            context.account, name, params.get("Description"), params.get("MaxSessionDuration")
        )
        return {}

    async def update_role_description(self, params: Params, context: CallContext) -> Output:
        name = params["RoleName"]
        await self._access.authorize(context, "iam:UpdateRoleDescription", await self._role_resource(context, name))
        role = await self._service.roles.update_role(context.account, name, description=params["Description"])
        return {"Role": role_shape(role, RoleView.FETCHED)}

    async def update_assume_role_policy(self, params: Params, context: CallContext) -> Output:
        name = params["RoleName"]
        await self._access.authorize(context, "iam:UpdateAssumeRolePolicy", await self._role_resource(context, name))
        await self._service.roles.update_assume_role_policy(context.account, name, params["PolicyDocument"])
        return {}

    async def delete_role(self, params: Params, context: CallContext) -> Output:
        name = params["RoleName"]
        await self._access.authorize(context, "iam:DeleteRole", await self._role_resource(context, name))
        await self._service.roles.delete_role(context.account, name)
        return {}

    async def tag_role(self, params: Params, context: CallContext) -> Output:
        name, tags = params["RoleName"], read_tags(params)
        resource = await self._role_resource(context, name)
        await self._access.authorize(context, "iam:TagRole", resource, tag_condition_keys(tags))
        await self._service.roles.tag_role(context.account, name, tags)
        return {}

    async def untag_role(self, params: Params, context: CallContext) -> Output:
        name, keys = params["RoleName"], params["TagKeys"]
        resource = await self._role_resource(context, name)
        await self._access.authorize(context, "iam:UntagRole", resource, {"aws:TagKeys": keys})
        await self._service.roles.untag_role(context.account, name, keys)
        return {}

    async def list_role_tags(self, params: Params, context: CallContext) -> Output:
        name = params["RoleName"]
        await self._access.authorize(context, "iam:ListRoleTags", await self._role_resource(context, name))
        page = await self._service.roles.list_role_tags(context.account, name, *read_page(params))
        return {"Tags": tag_list(page.items), **page_fields(page)}

    async def put_role_permissions_boundary(self, params: Params, context: CallContext) -> Output:
        name, boundary = params["RoleName"], params["PermissionsBoundary"]
        resource = await self._role_resource(context, name)
        keys = {"iam:PermissionsBoundary": boundary}
        await self._access.authorize(context, "iam:PutRolePermissionsBoundary", resource, keys)
        await self._service.permissions.put_permissions_boundary(context.account, EntityKind.ROLE, name, boundary)
        return {}

    async def delete_role_permissions_boundary(self, params: Params, context: CallContext) -> Output:
        name = params["RoleName"]
        resource = await self._role_resource(context, name)
        await self._access.authorize(context, "iam:DeleteRolePermissionsBoundary", resource)
        await self._service.permissions.delete_permissions_boundary(context.account, EntityKind.ROLE, name)
        return {}
