"""The STS operations pullcache answers, and the one table from STS's errors to the wire.

    table = sts_operations(models.get("sts"), StsService(iam_store, principal_policies, session_store))

MalformedPolicyDocument and PackedPolicyTooLarge are shapes of the model; AccessDenied (403), ValidationError
and InvalidParameterValue (400) are STS's common errors, which the model has no shape for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import ServiceModel

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import OperationTable
from pullcache.aws.wire import Params
from pullcache.policy import ContextValue, MalformedPolicyDocument
from pullcache.sts.errors import (
    InvalidAuthorizationMessage,
    InvalidParameterValue,
    PackedPolicyTooLarge,
    StsAccessDenied,
    StsValidationError,
)
from pullcache.sts.model import SessionTag
from pullcache.sts.requests import AssumeRoleRequest
from pullcache.sts.service import StsService

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

STS_ERRORS: dict[type[Exception], str] = {
    MalformedPolicyDocument: "MalformedPolicyDocumentException",
    InvalidAuthorizationMessage: "InvalidAuthorizationMessageException",
    PackedPolicyTooLarge: "PackedPolicyTooLargeException",
}

# Errors STS sends that its model has no shape for: (status, code); the message is the exception's.
STS_COMMON_ERRORS: dict[type[Exception], tuple[int, str]] = {
    StsAccessDenied: (403, "AccessDenied"),
    StsValidationError: (400, "ValidationError"),
    InvalidParameterValue: (400, "InvalidParameterValue"),
}


def sts_operations(model: ServiceModel, service: StsService) -> OperationTable[CallContext]:
    table = OperationTable[CallContext](model, errors=STS_ERRORS, common_errors=STS_COMMON_ERRORS)
    operations = StsOperations(service)
    table.register("GetCallerIdentity", operations.get_caller_identity)
    table.register("AssumeRole", operations.assume_role)
    table.register("GetSessionToken", operations.get_session_token)
    table.register("DecodeAuthorizationMessage", operations.decode_authorization_message)
    return table


class StsOperations:
    def __init__(self, service: StsService) -> None:
        self._service = service

    async def get_caller_identity(self, _params: Params, context: CallContext) -> Mapping[str, Any]:
        """Needs no permission: AWS answers it even when an explicit Deny covers sts:GetCallerIdentity."""
        principal = context.principal
        return {"UserId": principal.user_id, "Account": principal.account, "Arn": principal.arn}

    async def assume_role(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        request = AssumeRoleRequest(
            role_arn=params["RoleArn"],
            session_name=params["RoleSessionName"],
            duration_seconds=params.get("DurationSeconds"),
            policy=params.get("Policy"),
            policy_arns=[entry["arn"] for entry in params.get("PolicyArns", []) if "arn" in entry],
            tags=[SessionTag(tag["Key"], tag["Value"]) for tag in params.get("Tags", [])],
            transitive_tag_keys=params.get("TransitiveTagKeys", []),
            external_id=params.get("ExternalId"),
            source_identity=params.get("SourceIdentity"),
        )
        issued = await self._service.assume_role(context.principal, request, global_keys(context), context.region)
        session = issued.session
        return {
            "Credentials": {
                "AccessKeyId": session.access_key_id,
                "SecretAccessKey": session.secret_access_key,
                "SessionToken": session.session_token,
                "Expiration": session.expires_at,
            },
            "AssumedRoleUser": {"AssumedRoleId": session.assumed_role_id, "Arn": session.arn},
            "PackedPolicySize": issued.packed_policy_size,
            "SourceIdentity": session.source_identity,
        }

    async def get_session_token(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        session = await self._service.get_session_token(
            context.principal, params.get("DurationSeconds"), params.get("SerialNumber"), params.get("TokenCode")
        )
        return {
            "Credentials": {
                "AccessKeyId": session.access_key_id,
                "SecretAccessKey": session.secret_access_key,
                "SessionToken": session.session_token,
                "Expiration": session.expires_at,
            }
        }

    async def decode_authorization_message(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        decoded = await self._service.decode_authorization_message(
            context.principal, params["EncodedMessage"], global_keys(context)
        )
        return {"DecodedMessage": decoded}


def global_keys(context: CallContext) -> dict[str, ContextValue]:
    """The global condition keys every request has."""
    return {
        "aws:SourceIp": context.source_ip,
        "aws:CurrentTime": context.received_at.strftime(TIME_FORMAT),
        "aws:EpochTime": str(int(context.received_at.timestamp())),
        "aws:SecureTransport": "true" if context.secure_transport else "false",
        "aws:RequestedRegion": context.region,
    }
