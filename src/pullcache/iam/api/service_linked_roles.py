"""The IAM operations on service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole and
GetServiceLinkedRoleDeletionStatus.

Each is authorized on the role's ARN: CreateServiceLinkedRole on the ARN the role will have, with the condition
key iam:AWSServiceName; GetServiceLinkedRoleDeletionStatus on the role its task id names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler, OperationTable
from pullcache.aws.wire import Params
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.shapes import RoleView, role_shape
from pullcache.iam.arns import iam_arn, role_arn
from pullcache.iam.errors import EntityKind
from pullcache.iam.model import RegionUsage
from pullcache.iam.roles import SERVICE_LINKED_PATH
from pullcache.iam.service import IamService
from pullcache.iam.service_linked_roles import ServiceLinkedRoleService, find_linked_service, parse_task_id

Output = Mapping[str, Any]


class ServiceLinkedRoleOperations:
    def __init__(self, service: IamService, roles: ServiceLinkedRoleService, access: IamAccess) -> None:
        self._service = service
        self._roles = roles
        self._access = access

    def register(self, table: OperationTable[CallContext]) -> None:
        handlers: dict[str, Handler[CallContext]] = {
            "CreateServiceLinkedRole": self.create_service_linked_role,
            "DeleteServiceLinkedRole": self.delete_service_linked_role,
            "GetServiceLinkedRoleDeletionStatus": self.get_service_linked_role_deletion_status,
        }
        for operation, handler in handlers.items():
            table.register(operation, handler)

    async def create_service_linked_role(self, params: Params, context: CallContext) -> Output:
        account, service_name = context.account, params["AWSServiceName"]
        linked = find_linked_service(service_name)
        path = f"{SERVICE_LINKED_PATH}{service_name}/"
        resource = linked.role_arn(account) if linked is not None else iam_arn(account, "role", path, "")
        keys = {"iam:AWSServiceName": service_name}
        await self._access.authorize(context, "iam:CreateServiceLinkedRole", resource, keys)
        role = await self._roles.create_service_linked_role(
            account, service_name, params.get("Description"), params.get("CustomSuffix")
        )
        return {"Role": role_shape(role, RoleView.CREATED)}

    async def delete_service_linked_role(self, params: Params, context: CallContext) -> Output:
        name = params["RoleName"]
        resource = await self._service.entity_arn(context.account, EntityKind.ROLE, name)
        await self._access.authorize(context, "iam:DeleteServiceLinkedRole", resource)
        return {"DeletionTaskId": await self._roles.delete_service_linked_role(context.account, name)}

    async def get_service_linked_role_deletion_status(self, params: Params, context: CallContext) -> Output:
        account, task_id = context.account, params["DeletionTaskId"]
        named = parse_task_id(task_id)
        if named is None:
            resource = iam_arn(account, "role", SERVICE_LINKED_PATH, "")
        else:
            resource = role_arn(account, f"{SERVICE_LINKED_PATH}{named[0]}/", named[1])
        await self._access.authorize(context, "iam:GetServiceLinkedRoleDeletionStatus", resource)
        task = await self._roles.get_deletion_status(account, task_id)
        output: dict[str, Any] = {"Status": task.status.value}
        if task.reason is not None:
            reason: dict[str, Any] = {"Reason": task.reason}
            if task.usage:
                reason["RoleUsageList"] = usage_list(task.usage)
            output["Reason"] = reason
        return output


def usage_list(usage: Sequence[RegionUsage]) -> list[dict[str, Any]]:
    """RoleUsageList as IAM sends it."""
    return [{"Region": region.region, "Resources": list(region.resources)} for region in usage]
