"""The IAM operations pullcache answers (Query protocol), and the one table from IAM's errors to the wire.

    table = iam_operations(models.get("iam"), IamService.over(store), authorizer, service_linked_roles)

The service-linked role operations are served when `service_linked_roles` is given (app.py gives it).

Domain errors map to the model's error shapes (NoSuchEntity 404, EntityAlreadyExists 409, ...). Two errors IAM
sends have no shape in the model: AccessDenied (403), when the Authorizer refuses the caller, and ValidationError
(400), for values the model admits but IAM cannot use (an unparseable ARN): IAM_COMMON_ERRORS maps those.
"""

from __future__ import annotations

from botocore.model import ServiceModel

from pullcache.auth.authorization import AccessDenied, Authorizer
from pullcache.auth.call_context import CallContext
from pullcache.auth.session_credentials import UserSessionRefused
from pullcache.aws.operations import OperationTable
from pullcache.iam.api.access import IamAccess
from pullcache.iam.api.account import AccountOperations
from pullcache.iam.api.groups import GroupOperations
from pullcache.iam.api.permissions import PermissionOperations
from pullcache.iam.api.policies import PolicyOperations
from pullcache.iam.api.roles import RoleOperations
from pullcache.iam.api.service_linked_roles import ServiceLinkedRoleOperations
from pullcache.iam.api.simulation import SimulationOperations
from pullcache.iam.api.users import UserOperations
from pullcache.iam.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    IamValidationError,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    ServiceRolePolicyNotAttachable,
    UnmodifiableEntity,
)
from pullcache.iam.service import IamService
from pullcache.iam.service_linked_roles import ServiceLinkedRoleService
from pullcache.policy import MalformedPolicyDocument

IAM_ERRORS: dict[type[Exception], str] = {
    NoSuchEntity: "NoSuchEntityException",
    EntityAlreadyExists: "EntityAlreadyExistsException",
    DeleteConflict: "DeleteConflictException",
    LimitExceeded: "LimitExceededException",
    InvalidInput: "InvalidInputException",
    MalformedPolicyDocument: "MalformedPolicyDocumentException",
    UnmodifiableEntity: "UnmodifiableEntityException",
    ServiceRolePolicyNotAttachable: "PolicyNotAttachableException",
}

# Errors IAM sends that its model has no shape for: (status, code); the message is the exception's.
IAM_COMMON_ERRORS: dict[type[Exception], tuple[int, str]] = {
    UserSessionRefused: (403, "InvalidClientTokenId"),  # a GetSessionToken session (auth/session_credentials.py)
    AccessDenied: (403, "AccessDenied"),
    IamValidationError: (400, "ValidationError"),
}


def iam_operations(
    model: ServiceModel,
    service: IamService,
    authorizer: Authorizer,
    service_linked_roles: ServiceLinkedRoleService | None = None,
) -> OperationTable[CallContext]:
    table = OperationTable[CallContext](model, errors=IAM_ERRORS, common_errors=IAM_COMMON_ERRORS)
    access = IamAccess(authorizer)
    if service_linked_roles is not None:
        ServiceLinkedRoleOperations(service, service_linked_roles, access).register(table)
    for operations in (
        UserOperations(service, access),
        GroupOperations(service, access),
        RoleOperations(service, access),
        PolicyOperations(service, access),
        PermissionOperations(service, access),
        AccountOperations(service, access),
        SimulationOperations(service, access),
    ):
        operations.register(table)
    return table
