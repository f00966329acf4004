"""GetAccountAuthorizationDetails: the account's identities and policies in one paged answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import OperationTable
from pullcache.aws.wire import Params
from pullcache.iam.account_details import Detail, DetailFilter, GroupDetail, PolicyDetail, RoleDetail, UserDetail
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.shapes import (
    boundary_shape,
    page_fields,
    policy_document,
    read_page,
    role_last_used,
    tag_list,
    version_shape,
)
from pullcache.iam.model import AttachedPolicy, InlinePolicy
from pullcache.iam.service import IamService

Output = Mapping[str, Any]


class AccountOperations:
    def __init__(self, service: IamService, access: IamAccess) -> None:
        self._service = service
        self._access = access

    def register(self, table: OperationTable[CallContext]) -> None:
        table.register("GetAccountAuthorizationDetails", self.get_account_authorization_details)

    async def get_account_authorization_details(self, params: Params, context: CallContext) -> Output:
        await self._access.authorize(context, "iam:GetAccountAuthorizationDetails", "*")
        filters = [DetailFilter(value) for value in params.get("Filter", [])]
        page = await self._service.account_details.get_account_authorization_details(
            context.account, filters, *read_page(params)
        )
        lists: dict[str, list[dict[str, Any]]] = {
            "UserDetailList": [],
            "GroupDetailList": [],
            "RoleDetailList": [],
            "Policies": [],
        }
        for detail in page.items:
            member, shape = _detail_shape(detail)
            lists[member].append(shape)
        return {**lists, **page_fields(page)}


def _detail_shape(detail: Detail) -> tuple[str, dict[str, Any]]:
    match detail:
        case UserDetail(user=user):
            return "UserDetailList", {
                "Path": user.path,
                "UserName": user.name,
                "UserId": user.user_id,
                "Arn": user.arn,
                "CreateDate": user.created_at,
                "UserPolicyList": _inline(detail.inline),
                "GroupList": list(detail.group_names),
                "AttachedManagedPolicies": _attached(detail.attached),
                "PermissionsBoundary": boundary_shape(user.permissions_boundary_arn),
                "Tags": tag_list(user.tags) or None,
            }
        case GroupDetail(group=group):
            return "GroupDetailList", {
                "Path": group.path,
                "GroupName": group.name,
                "GroupId": group.group_id,
                "Arn": group.arn,
                "CreateDate": group.created_at,
                "GroupPolicyList": _inline(detail.inline),
                "AttachedManagedPolicies": _attached(detail.attached),
            }
        case RoleDetail(role=role):
            return "RoleDetailList", {
                "Path": role.path,
                "RoleName": role.name,
                "RoleId": role.role_id,
                "Arn": role.arn,
                "CreateDate": role.created_at,
                "AssumeRolePolicyDocument": policy_document(role.assume_role_policy),
                "InstanceProfileList": [],
                "RolePolicyList": _inline(detail.inline),
                "AttachedManagedPolicies": _attached(detail.attached),
                "PermissionsBoundary": boundary_shape(role.permissions_boundary_arn),
                "Tags": tag_list(role.tags) or None,
                "RoleLastUsed": role_last_used(role),
            }
        case PolicyDetail(policy=policy):
            return "Policies", {
                "PolicyName": policy.name,
                "PolicyId": policy.policy_id,
                "Arn": policy.arn,
                "Path": policy.path,
                "DefaultVersionId": policy.default_version_id,
                "AttachmentCount": policy.attachment_count,
                "PermissionsBoundaryUsageCount": policy.permissions_boundary_usage_count,
                "IsAttachable": True,
                "Description": policy.description,
                "CreateDate": policy.created_at,
                "UpdateDate": policy.updated_at,
                "PolicyVersionList": [version_shape(version, document=True) for version in detail.versions],
            }


def _inline(policies: Sequence[InlinePolicy]) -> list[dict[str, str]]:
    return [{"PolicyName": policy.name, "PolicyDocument": policy_document(policy.document)} for policy in policies]


def _attached(policies: Sequence[AttachedPolicy]) -> list[dict[str, str]]:
    return [{"PolicyName": policy.name, "PolicyArn": policy.arn} for policy in policies]
