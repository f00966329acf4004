"""The IAM operations on managed policies: the policies, their versions and tags, and who uses them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler, OperationTable
from pullcache.aws.wire import Params
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.shapes import (
    page_fields,
    policy_shape,
    read_page,
    read_tags,
    tag_condition_keys,
    tag_list,
    version_shape,
)
from pullcache.iam.arns import ROOT_PATH, iam_arn, policy_arn
from pullcache.iam.errors import EntityKind
from pullcache.iam.model import PolicyScope, PolicyUsage
from pullcache.iam.service import IamService

Output = Mapping[str, Any]

_ENTITY_LISTS = {EntityKind.USER: "PolicyUsers", EntityKind.GROUP: "PolicyGroups", EntityKind.ROLE: "PolicyRoles"}


class PolicyOperations:
    def __init__(self, service: IamService, access: IamAccess) -> None:
        self._service = service
        self._access = access

    def register(self, table: OperationTable[CallContext]) -> None:
        handlers: dict[str, Handler[CallContext]] = {
            "CreatePolicy": self.create_policy,
            "GetPolicy": self.get_policy,
            "ListPolicies": self.list_policies,
            "DeletePolicy": self.delete_policy,
            "CreatePolicyVersion": self.create_policy_version,
            "GetPolicyVersion": self.get_policy_version,
            "ListPolicyVersions": self.list_policy_versions,
            "DeletePolicyVersion": self.delete_policy_version,
            "SetDefaultPolicyVersion": self.set_default_policy_version,
            "TagPolicy": self.tag_policy,
            "UntagPolicy": self.untag_policy,
            "ListPolicyTags": self.list_policy_tags,
            "ListEntitiesForPolicy": self.list_entities_for_policy,
        }
        for operation, handler in handlers.items():
            table.register(operation, handler)

    async def create_policy(self, params: Params, context: CallContext) -> Output:
        account, name, path = context.account, params["PolicyName"], params.get("Path", ROOT_PATH)
        tags = read_tags(params)
        await self._access.authorize(
            context, "iam:CreatePolicy", policy_arn(account, path, name), tag_condition_keys(tags)
        )
        policy = await self._service.policies.create_policy(
            account, name, params["PolicyDocument"], path, params.get("Description"), tags
        )
        return {"Policy": policy_shape(policy)}

    async def get_policy(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:GetPolicy", arn)
        return {"Policy": policy_shape(await self._service.policies.get_policy(context.account, arn))}

    async def list_policies(self, params: Params, context: CallContext) -> Output:
        prefix = params.get("PathPrefix", ROOT_PATH)
        await self._access.authorize(context, "iam:ListPolicies", iam_arn(context.account, "policy", prefix, ""))
        usage = params.get("PolicyUsageFilter")
        page = await self._service.policies.list_policies(
            context.account,
            PolicyScope(params.get("Scope", PolicyScope.ALL)),
            params.get("OnlyAttached", False),
            prefix,
            None if usage is None else PolicyUsage(usage),
            *read_page(params),
        )
        return {"Policies": [policy_shape(policy, listed=True) for policy in page.items], **page_fields(page)}

    async def delete_policy(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:DeletePolicy", arn)
        await self._service.policies.delete_policy(context.account, arn)
        return {}

    async def create_policy_version(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:CreatePolicyVersion", arn)
        version = await self._service.policies.create_policy_version(
            context.account, arn, params["PolicyDocument"], params.get("SetAsDefault", False)
        )
        return {"PolicyVersion": version_shape(version, document=False)}

    async def get_policy_version(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:GetPolicyVersion", arn)
        version = await self._service.policies.get_policy_version(context.account, arn, params["VersionId"])
        return {"PolicyVersion": version_shape(version, document=True)}

    async def list_policy_versions(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:ListPolicyVersions", arn)
        page = await self._service.policies.list_policy_versions(context.account, arn, *read_page(params))
        return {"Versions": [version_shape(v, document=False) for v in page.items], **page_fields(page)}

    async def delete_policy_version(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:DeletePolicyVersion", arn)
        await self._service.policies.delete_policy_version(context.account, arn, params["VersionId"])
        return {}

    async def set_default_policy_version(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:SetDefaultPolicyVersion", arn)
        await self._service.policies.set_default_policy_version(context.account, arn, params["VersionId"])
        return {}

    async def tag_policy(self, params: Params, context: CallContext) -> Output:
        arn, tags = params["PolicyArn"], read_tags(params)
        await self._access.authorize(context, "iam:TagPolicy", arn, tag_condition_keys(tags))
        await self._service.policies.tag_policy(context.account, arn, tags)
        return {}

    async def untag_policy(self, params: Params, context: CallContext) -> Output:
        arn, keys = params["PolicyArn"], params["TagKeys"]
        await self._access.authorize(context, "iam:UntagPolicy", arn, {"aws:TagKeys": keys})
        await self._service.policies.untag_policy(context.account, arn, keys)
        return {}

    async def list_policy_tags(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:ListPolicyTags", arn)
        page = await self._service.policies.list_policy_tags(context.account, arn, *read_page(params))
        return {"Tags": tag_list(page.items), **page_fields(page)}

    async def list_entities_for_policy(self, params: Params, context: CallContext) -> Output:
        arn = params["PolicyArn"]
        await self._access.authorize(context, "iam:ListEntitiesForPolicy", arn)
        usage = params.get("PolicyUsageFilter")
        page = await self._service.policies.list_entities_for_policy(
            context.account,
            arn,
            params.get("EntityFilter"),
            params.get("PathPrefix", ROOT_PATH),
            None if usage is None else PolicyUsage(usage),
            *read_page(params),
        )
        lists: dict[str, list[dict[str, str]]] = {member: [] for member in _ENTITY_LISTS.values()}
        for entity in page.items:
            word = entity.kind.value.capitalize()
            lists[_ENTITY_LISTS[entity.kind]].append({f"{word}Name": entity.name, f"{word}Id": entity.entity_id})
        return {**lists, **page_fields(page)}
