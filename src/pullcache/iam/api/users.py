"""The IAM operations on users and their access keys, tags and permissions boundaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler, OperationTable
from pullcache.aws.wire import Params
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.shapes import (
    NOT_AVAILABLE,
    access_key_shape,
    page_fields,
    read_page,
    read_tags,
    tag_condition_keys,
    tag_list,
    user_shape,
)
from pullcache.iam.arns import ROOT_PATH, iam_arn, root_arn, user_arn
from pullcache.iam.errors import NOT_A_USER, EntityKind, IamValidationError
from pullcache.iam.service import IamService
from pullcache.policy import PrincipalType

Output = Mapping[str, Any]


class UserOperations:
    def __init__(self, service: IamService, access: IamAccess) -> None:
        self._service = service
        self._access = access

    def register(self, table: OperationTable[CallContext]) -> None:
        handlers: dict[str, Handler[CallContext]] = {
            "CreateUser": self.create_user,
            "GetUser": self.get_user,
            "ListUsers": self.list_users,
            "UpdateUser": self.update_user,
            "DeleteUser": self.delete_user,
            "TagUser": self.tag_user,
            "UntagUser": self.untag_user,
            "ListUserTags": self.list_user_tags,
            "PutUserPermissionsBoundary": self.put_user_permissions_boundary,
            "DeleteUserPermissionsBoundary": self.delete_user_permissions_boundary,
            "CreateAccessKey": self.create_access_key,
            "ListAccessKeys": self.list_access_keys,
            "UpdateAccessKey": self.update_access_key,
            "DeleteAccessKey": self.delete_access_key,
            "GetAccessKeyLastUsed": self.get_access_key_last_used,
        }
        for operation, handler in handlers.items():
            table.register(operation, handler)

    async def _user_resource(self, context: CallContext, name: str) -> str:
        return await self._service.entity_arn(context.account, EntityKind.USER, name)

    async def create_user(self, params: Params, context: CallContext) -> Output:
        account, name, path = context.account, params["UserName"], params.get("Path", ROOT_PATH)
        tags = read_tags(params)
        boundary = params.get("PermissionsBoundary")
        keys = tag_condition_keys(tags) | ({"iam:PermissionsBoundary": boundary} if boundary else {})
        await self._access.authorize(context, "iam:CreateUser", user_arn(account, path, name), keys)
        user = await self._service.users.create_user(account, name, path, boundary, tags)
        return {"User": user_shape(user)}

    async def get_user(self, params: Params, context: CallContext) -> Output:
        """Without UserName: the caller, the root user included."""
        account, name = context.account, params.get("UserName")
        principal = context.principal
        if name is not None:
            await self._access.authorize(context, "iam:GetUser", await self._user_resource(context, name))
            return {"User": user_shape(await self._service.users.get_user(account, name))}
        if principal.type is PrincipalType.ACCOUNT:
            await self._access.authorize(context, "iam:GetUser", root_arn(account))
            found = await self._service.users.find_account(account)
            created = None if found is None else found.created_at
            return {"User": {"UserId": account, "Arn": root_arn(account), "CreateDate": created}}
        if principal.type is not PrincipalType.USER or principal.user_id is None:
            raise IamValidationError(NOT_A_USER)
        await self._access.authorize(context, "iam:GetUser", principal.arn)
        return {"User": user_shape(await self._service.users.get_user_by_id(account, principal.user_id))}

    async def list_users(self, params: Params, context: CallContext) -> Output:
        prefix = params.get("PathPrefix", ROOT_PATH)
        await self._access.authorize(context, "iam:ListUsers", iam_arn(context.account, "user", prefix, ""))
        page = await self._service.users.list_users(context.account, prefix, *read_page(params))
        return {"Users": [user_shape(user, listed=True) for user in page.items], **page_fields(page)}

    async def update_user(self, params: Params, context: CallContext) -> Output:
        name = params["UserName"]
        await self._access.authorize(context, "iam:UpdateUser", await self._user_resource(context, name))
        await self._service.users.update_user(context.account, name, params.get("NewUserName"), params.get("NewPath"))
        return {}

    async def delete_user(self, params: Params, context: CallContext) -> Output:
        name = params["UserName"]
        await self._access.authorize(context, "iam:DeleteUser", await self._user_resource(context, name))
        await self._service.users.delete_user(context.account, name)
        return {}

    async def tag_user(self, params: Params, context: CallContext) -> Output:
        name, tags = params["UserName"], read_tags(params)
        resource = await self._user_resource(context, name)
        await self._access.authorize(context, "iam:TagUser", resource, tag_condition_keys(tags))
        await self._service.users.tag_user(context.account, name, tags)
        return {}

    async def untag_user(self, params: Params, context: CallContext) -> Output:
        name, keys = params["UserName"], params["TagKeys"]
        resource = await self._user_resource(context, name)
        await self._access.authorize(context, "iam:UntagUser", resource, {"aws:TagKeys": keys})
        await self._service.users.untag_user(context.account, name, keys)
        return {}

    async def list_user_tags(self, params: Params, context: CallContext) -> Output:
        name = params["UserName"]
        await self._access.authorize(context, "iam:ListUserTags", await self._user_resource(context, name))
        page = await self._service.users.list_user_tags(context.account, name, *read_page(params))
        return {"Tags": tag_list(page.items), **page_fields(page)}

    async def put_user_permissions_boundary(self, params: Params, context: CallContext) -> Output:
        name, boundary = params["UserName"], params["PermissionsBoundary"]
        resource = await self._user_resource(context, name)
        keys = {"iam:PermissionsBoundary": boundary}
        await self._access.authorize(context, "iam:PutUserPermissionsBoundary", resource, keys)
        await self._service.permissions.put_permissions_boundary(context.account, EntityKind.USER, name, boundary)
        return {}

    async def delete_user_permissions_boundary(self, params: Params, context: CallContext) -> Output:
        name = params["UserName"]
        resource = await self._user_resource(context, name)
        await self._access.authorize(context, "iam:DeleteUserPermissionsBoundary", resource)
        await self._service.permissions.delete_permissions_boundary(context.account, EntityKind.USER, name)
        return {}

    # -- access keys ------------------------------------------------------------------------------------------

    async def _key_owner(self, params: Params, context: CallContext) -> tuple[str | None, str]:
        """(user name, resource ARN) of the keys an operation acts on: UserName's, else the caller's own (the
        root user's when the caller is root; None stands for it)."""
        name = params.get("UserName")
        principal = context.principal
        if name is not None:
            return name, await self._user_resource(context, name)
        if principal.type is PrincipalType.ACCOUNT:
            return None, root_arn(context.account)
        if principal.type is not PrincipalType.USER or principal.user_id is None:
            raise IamValidationError(NOT_A_USER)
        user = await self._service.users.get_user_by_id(context.account, principal.user_id)
        return user.name, user.arn

    async def create_access_key(self, params: Params, context: CallContext) -> Output:
        owner, resource = await self._key_owner(params, context)
        await self._access.authorize(context, "iam:CreateAccessKey", resource)
        key = await self._service.access_keys.create_access_key(context.account, owner)
        return {"AccessKey": access_key_shape(key, secret=True)}

    async def list_access_keys(self, params: Params, context: CallContext) -> Output:
        owner, resource = await self._key_owner(params, context)
        await self._access.authorize(context, "iam:ListAccessKeys", resource)
        page = await self._service.access_keys.list_access_keys(context.account, owner, *read_page(params))
        return {"AccessKeyMetadata": [access_key_shape(key) for key in page.items], **page_fields(page)}

    async def update_access_key(self, params: Params, context: CallContext) -> Output:
        owner, resource = await self._key_owner(params, context)
        await self._access.authorize(context, "iam:UpdateAccessKey", resource)
        await self._service.access_keys.update_access_key(
            context.account, owner, params["AccessKeyId"], params["Status"]
        )
        return {}

    async def delete_access_key(self, params: Params, context: CallContext) -> Output:
        owner, resource = await self._key_owner(params, context)
        await self._access.authorize(context, "iam:DeleteAccessKey", resource)
        await self._service.access_keys.delete_access_key(context.account, owner, params["AccessKeyId"])
        return {}

    async def get_access_key_last_used(self, params: Params, context: CallContext) -> Output:
        await self._access.authorize(context, "iam:GetAccessKeyLastUsed", "*")
        key = await self._service.access_keys.get_access_key_last_used(context.account, params["AccessKeyId"])
        last_used = {
            "LastUsedDate": key.last_used_at,
            "ServiceName": key.last_used_service or NOT_AVAILABLE,
            "Region": key.last_used_region or NOT_AVAILABLE,
        }
        return {"UserName": key.user_name, "AccessKeyLastUsed": last_used}
