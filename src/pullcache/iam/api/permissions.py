"""The IAM operations on the policies of users, groups and roles: managed policies attached and detached, inline
policies put, read, deleted and listed. Each exists once per kind of entity (AttachUserPolicy,
AttachGroupPolicy, AttachRolePolicy, ...), with the same rules; the handlers are made per kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler, OperationTable
from pullcache.aws.wire import Params
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.shapes import page_fields, policy_document, read_page
from pullcache.iam.arns import ROOT_PATH
from pullcache.iam.errors import EntityKind
from pullcache.iam.service import IamService

Output = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Noun:
    """How the operations of one kind of entity spell it: `User` in AttachUserPolicy, UserName as parameter."""

    kind: EntityKind
    word: str

    @property
    def name_member(self) -> str:
        return f"{self.word}Name"


_NOUNS = (_Noun(EntityKind.USER, "User"), _Noun(EntityKind.GROUP, "Group"), _Noun(EntityKind.ROLE, "Role"))


class PermissionOperations:
    def __init__(self, service: IamService, access: IamAccess) -> None:
        self._service = service
        self._access = access

    def register(self, table: OperationTable[CallContext]) -> None:
        for noun in _NOUNS:
            handlers: dict[str, Handler[CallContext]] = {
                f"Attach{noun.word}Policy": self._attach(noun),
                f"Detach{noun.word}Policy": self._detach(noun),
                f"ListAttached{noun.word}Policies": self._list_attached(noun),
                f"Put{noun.word}Policy": self._put_inline(noun),
                f"Get{noun.word}Policy": self._get_inline(noun),
                f"Delete{noun.word}Policy": self._delete_inline(noun),
                f"List{noun.word}Policies": self._list_inline(noun),
            }
            for operation, handler in handlers.items():
                table.register(operation, handler)

    async def _authorize(
        self, context: CallContext, action: str, noun: _Noun, name: str, arn: str | None = None
    ) -> None:
        resource = await self._service.entity_arn(context.account, noun.kind, name)
        keys = {} if arn is None else {"iam:PolicyARN": arn}
        await self._access.authorize(context, f"iam:{action}", resource, keys)

    def _attach(self, noun: _Noun) -> Handler[CallContext]:
        async def attach(params: Params, context: CallContext) -> Output:
            name, arn = params[noun.name_member], params["PolicyArn"]
            await self._authorize(context, f"Attach{noun.word}Policy", noun, name, arn)
            await self._service.permissions.attach_policy(context.account, noun.kind, name, arn)
            return {}

        return attach

    def _detach(self, noun: _Noun) -> Handler[CallContext]:
        async def detach(params: Params, context: CallContext) -> Output:
            name, arn = params[noun.name_member], params["PolicyArn"]
            await self._authorize(context, f"Detach{noun.word}Policy", noun, name, arn)
            await self._service.permissions.detach_policy(context.account, noun.kind, name, arn)
            return {}

        return detach

    def _list_attached(self, noun: _Noun) -> Handler[CallContext]:
        async def list_attached(params: Params, context: CallContext) -> Output:
            name = params[noun.name_member]
            await self._authorize(context, f"ListAttached{noun.word}Policies", noun, name)
            page = await self._service.permissions.list_attached_policies(
                context.account, noun.kind, name, params.get("PathPrefix", ROOT_PATH), *read_page(params)
            )
            attached = [{"PolicyName": policy.name, "PolicyArn": policy.arn} for policy in page.items]
            return {"AttachedPolicies": attached, **page_fields(page)}

        return list_attached

    def _put_inline(self, noun: _Noun) -> Handler[CallContext]:
        async def put_inline(params: Params, context: CallContext) -> Output:
            name = params[noun.name_member]
            await self._authorize(context, f"Put{noun.word}Policy", noun, name)
            await self._service.permissions.put_inline_policy(
                context.account, noun.kind, name, params["PolicyName"], params["PolicyDocument"]
            )
            return {}

        return put_inline

    def _get_inline(self, noun: _Noun) -> Handler[CallContext]:
        async def get_inline(params: Params, context: CallContext) -> Output:
            name = params[noun.name_member]
            await self._authorize(context, f"Get{noun.word}Policy", noun, name)
            entity, policy = await self._service.permissions.get_inline_policy(
                context.account, noun.kind, name, params["PolicyName"]
            )
            return {
                noun.name_member: entity.name,
                "PolicyName": policy.name,
                "PolicyDocument": policy_document(policy.document),
            }

        return get_inline

    def _delete_inline(self, noun: _Noun) -> Handler[CallContext]:
        async def delete_inline(params: Params, context: CallContext) -> Output:
            name = params[noun.name_member]
            await self._authorize(context, f"Delete{noun.word}Policy", noun, name)
            await self._service.permissions.delete_inline_policy(context.account, noun.kind, name, params["PolicyName"])
            return {}

        return delete_inline

    def _list_inline(self, noun: _Noun) -> Handler[CallContext]:
        async def list_inline(params: Params, context: CallContext) -> Output:
            name = params[noun.name_member]
            await self._authorize(context, f"List{noun.word}Policies", noun, name)
            page = await self._service.permissions.list_inline_policies(
                context.account, noun.kind, name, *read_page(params)
            )
            return {"PolicyNames": list(page.items), **page_fields(page)}

        return list_inline
