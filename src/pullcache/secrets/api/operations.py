"""The Secrets Manager operations pullcache answers, and the one table from its errors to the wire.

    table = secrets_operations(models.get("secretsmanager"), SecretsService(store, cipher), authorizer)

Every call is authorized first, with the IAM action `secretsmanager:<Operation>` on the secret's ARN (on the ARN
the secret would have, without its suffix, when there is no such secret; on `*` for ListSecrets).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from botocore.model import ServiceModel

from pullcache.auth.authorization import AccessDenied, AccessRequest, Authorizer
from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import OperationTable
from pullcache.aws.wire import Params
from pullcache.secrets import listing
from pullcache.secrets.errors import (
    InvalidNextToken,
    InvalidSecretParameter,
    InvalidSecretRequest,
    SecretExists,
    SecretNotFound,
)
from pullcache.secrets.model import Secret, SecretValue, Tag
from pullcache.secrets.service import Place, SecretsService

ERROR_SHAPES: dict[type[Exception], str] = {
    SecretNotFound: "ResourceNotFoundException",
    SecretExists: "ResourceExistsException",
    InvalidSecretParameter: "InvalidParameterException",
    InvalidSecretRequest: "InvalidRequestException",
    InvalidNextToken: "InvalidNextTokenException",
}
# The model has no shape for it; every AWS JSON service answers it alike (HTTP 400).
COMMON_ERRORS: dict[type[Exception], tuple[int, str]] = {AccessDenied: (400, "AccessDeniedException")}
BOTH_VALUES = "You can't specify both a binary secret value and a string secret value in the same secret."
NO_VALUE = "You must provide either SecretString or SecretBinary."

Handler = Callable[[Params, CallContext], Awaitable[Mapping[str, Any]]]


def secrets_operations(
    model: ServiceModel, service: SecretsService, authorizer: Authorizer
) -> OperationTable[CallContext]:
    table = OperationTable[CallContext](model, ERROR_SHAPES, COMMON_ERRORS)
    for name, handler in SecretsOperations(service, authorizer).handlers().items():
        table.register(name, handler)
    return table


class SecretsOperations:
    def __init__(self, service: SecretsService, authorizer: Authorizer) -> None:
        self._service = service
        self._authorizer = authorizer

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateSecret": self.create_secret,
            "GetSecretValue": self.get_secret_value,
            "PutSecretValue": self.put_secret_value,
            "UpdateSecret": self.update_secret,
            "DescribeSecret": self.describe_secret,
            "ListSecrets": self.list_secrets,
            "DeleteSecret": self.delete_secret,
            "RestoreSecret": self.restore_secret,
        }

    async def create_secret(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = _place(context)
        name = params["Name"]
        await self._authorize(context, "CreateSecret", _unsuffixed_arn(place, name))
        tags = [Tag(tag.get("Key", ""), tag.get("Value", "")) for tag in params.get("Tags", [])]
        written = await self._service.create_secret(
            place,
            name,
            _value(params, required=False),
            params.get("Description"),
            tags,
            params.get("ClientRequestToken"),
        )
        return {"ARN": written.secret.arn, "Name": written.secret.name, "VersionId": written.version_id}

    async def get_secret_value(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = await self._authorized(context, "GetSecretValue", params["SecretId"])
        found = await self._service.get_secret_value(
            place, params["SecretId"], params.get("VersionId"), params.get("VersionStage")
        )
        return {
            "ARN": found.secret.arn,
            "Name": found.secret.name,
            "VersionId": found.version.version_id,
            "SecretString": found.value.string,
            "SecretBinary": found.value.binary,
            "VersionStages": list(found.version.stages),
            "CreatedDate": found.version.created_at,
        }

    async def put_secret_value(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = await self._authorized(context, "PutSecretValue", params["SecretId"])
        value = _value(params, required=True)
        assert value is not None
        written = await self._service.put_secret_value(
            place, params["SecretId"], value, params.get("ClientRequestToken"), params.get("VersionStages")
        )
        return {
            "ARN": written.secret.arn,
            "Name": written.secret.name,
            "VersionId": written.version_id,
            "VersionStages": list(written.stages),
        }

    async def update_secret(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = await self._authorized(context, "UpdateSecret", params["SecretId"])
        written = await self._service.update_secret(
            place,
            params["SecretId"],
            params.get("Description"),
            _value(params, required=False),
            params.get("ClientRequestToken"),
        )
        return {"ARN": written.secret.arn, "Name": written.secret.name, "VersionId": written.version_id}

    async def describe_secret(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = await self._authorized(context, "DescribeSecret", params["SecretId"])
        secret = await self._service.get_secret(place, params["SecretId"])
        versions = await self._service.list_versions(secret)
        described = _entry(secret)
        described["VersionIdsToStages"] = {version.version_id: list(version.stages) for version in versions}
        return described

    async def list_secrets(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = _place(context)
        await self._authorize(context, "ListSecrets", "*")
        secrets = await self._service.list_secrets(place, bool(params.get("IncludePlannedDeletion")))
        chosen = listing.filtered(secrets, params.get("Filters", []))
        chosen = listing.ordered(chosen, params.get("SortBy"), params.get("SortOrder"))
        shown, token = listing.page(chosen, params.get("MaxResults"), params.get("NextToken"))
        entries = []
        for secret in shown:
            entry = _entry(secret)
            versions = await self._service.list_versions(secret)
            entry["SecretVersionsToStages"] = {version.version_id: list(version.stages) for version in versions}
            entries.append(entry)
        return {"SecretList": entries, "NextToken": token}

    async def delete_secret(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = await self._authorized(context, "DeleteSecret", params["SecretId"])
        secret, deletion = await self._service.delete_secret(
            place,
            params["SecretId"],
            params.get("RecoveryWindowInDays"),
            bool(params.get("ForceDeleteWithoutRecovery")),
        )
        return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": deletion}

    async def restore_secret(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = await self._authorized(context, "RestoreSecret", params["SecretId"])
        secret = await self._service.restore_secret(place, params["SecretId"])
        return {"ARN": secret.arn, "Name": secret.name}

    async def _authorized(self, context: CallContext, operation: str, secret_id: str) -> Place:
        """The caller's place, once the caller may perform `operation` on the secret. Raises AccessDenied."""
        place = _place(context)
        secret = await self._service.find_secret(place, secret_id)
        if secret is not None:
            resource = secret.arn
        else:
            resource = secret_id if secret_id.startswith("arn:") else _unsuffixed_arn(place, secret_id)
        await self._authorize(context, operation, resource)
        return place

    async def _authorize(self, context: CallContext, operation: str, resource: str) -> None:
        keys = {
            "aws:SourceIp": context.source_ip,
            "aws:SecureTransport": "true" if context.secure_transport else "false",
            "aws:CurrentTime": context.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:RequestedRegion": context.region,
        }
        await self._authorizer.authorize(
            AccessRequest(context.principal, f"secretsmanager:{operation}", resource, context.account, None, keys)
        )


def _place(context: CallContext) -> Place:
    return Place(context.account, context.region)


def _unsuffixed_arn(place: Place, name: str) -> str:
    return f"arn:aws:secretsmanager:{place.region}:{place.account}:secret:{name}"


def _value(params: Params, required: bool) -> SecretValue | None:
    """Raises InvalidSecretParameter when both kinds are given, or neither and one is `required`."""
    string, binary = params.get("SecretString"), params.get("SecretBinary")
    if string is not None and binary is not None:
        raise InvalidSecretParameter(BOTH_VALUES)
    if string is None and binary is None:
        if required:
            raise InvalidSecretParameter(NO_VALUE)
        return None
    return SecretValue(string=string, binary=binary)


def _entry(secret: Secret) -> dict[str, Any]:
    return {
        "ARN": secret.arn,
        "Name": secret.name,
        "Description": secret.description,
        "LastChangedDate": secret.last_changed_at,
        "CreatedDate": secret.created_at,
        "DeletedDate": secret.deleted_at,
        "Tags": [{"Key": tag.key, "Value": tag.value} for tag in secret.tags] or None,
    }
