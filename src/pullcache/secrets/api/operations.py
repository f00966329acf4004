"""The Secrets Manager operations pullcache answers, and the one table from its errors to the wire.

    table = secrets_operations(models.get("secretsmanager"), SecretsService(store, cipher), authorizer)

Every call is authorized first (access.py: the caller's policies with the secret's resource policy and tags);
resource policies have their handlers in policies.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from botocore.model import ServiceModel

from pullcache.auth.authorization import AccessDenied, Authorizer
from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import OperationTable
from pullcache.aws.wire import Params
from pullcache.policy import MalformedPolicyDocument
from pullcache.secrets import listing
from pullcache.secrets.api.access import SecretAccess, request_tag_keys, unsuffixed_arn
from pullcache.secrets.api.policies import ResourcePolicyOperations
from pullcache.secrets.errors import (
    InvalidNextToken,
    InvalidSecretParameter,
    InvalidSecretRequest,
    PublicPolicy,
    SecretExists,
    SecretNotFound,
)
from pullcache.secrets.model import Secret, SecretValue, SecretVersion, Tag
from pullcache.secrets.passwords import DEFAULT_LENGTH, PasswordRules, random_password
from pullcache.secrets.service import Place, SecretsService

ERROR_SHAPES: dict[type[Exception], str] = {
    SecretNotFound: "ResourceNotFoundException",
    SecretExists: "ResourceExistsException",
    InvalidSecretParameter: "InvalidParameterException",
    InvalidSecretRequest: "InvalidRequestException",
    InvalidNextToken: "InvalidNextTokenException",
    MalformedPolicyDocument: "MalformedPolicyDocumentException",
    PublicPolicy: "PublicPolicyException",
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
    access = SecretAccess(service, authorizer)
    handlers = {**SecretsOperations(service, access).handlers(), **ResourcePolicyOperations(service, access).handlers()}
    for name, handler in handlers.items():
        table.register(name, handler)
    return table


class SecretsOperations:
    def __init__(self, service: SecretsService, access: SecretAccess) -> None:
        self._service = service
        self._access = access

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
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListSecretVersionIds": self.list_secret_version_ids,
            "UpdateSecretVersionStage": self.update_secret_version_stage,
            "GetRandomPassword": self.get_random_password,
        }

    async def create_secret(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = Place(context.account, context.region)
        name = params["Name"]
        tags = _tags(params.get("Tags", []))
        await self._access.authorize(context, "CreateSecret", unsuffixed_arn(place, name), request_tag_keys(tags))
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
        described["VersionIdsToStages"] = _staged(versions)
        return described

    async def list_secrets(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = Place(context.account, context.region)
        await self._access.authorize(context, "ListSecrets", "*")
        secrets = await self._service.list_secrets(place, bool(params.get("IncludePlannedDeletion")))
        chosen = listing.filtered(secrets, params.get("Filters", []))
        chosen = listing.ordered(chosen, params.get("SortBy"), params.get("SortOrder"))
        shown, token = listing.page(chosen, params.get("MaxResults"), params.get("NextToken"))
        entries = []
        for secret in shown:
            entry = _entry(secret)
            versions = await self._service.list_versions(secret)
            entry["SecretVersionsToStages"] = _staged(versions)
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

    async def tag_resource(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        tags = _tags(params.get("Tags", []))
        place = await self._authorized(context, "TagResource", params["SecretId"], request_tag_keys(tags))
        await self._service.tag_secret(place, params["SecretId"], tags)
        return {}

    async def untag_resource(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        keys: list[str] = params.get("TagKeys", [])
        place = await self._authorized(context, "UntagResource", params["SecretId"], {"aws:TagKeys": keys})
        await self._service.untag_secret(place, params["SecretId"], keys)
        return {}

    async def list_secret_version_ids(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = await self._authorized(context, "ListSecretVersionIds", params["SecretId"])
        secret, versions = await self._service.list_version_ids(
            place, params["SecretId"], bool(params.get("IncludeDeprecated"))
        )
        shown, token = listing.page(versions, params.get("MaxResults"), params.get("NextToken"))
        return {
            "Versions": [_version_entry(v) for v in shown],
            "NextToken": token,
            "ARN": secret.arn,
            "Name": secret.name,
        }

    async def update_secret_version_stage(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = await self._authorized(context, "UpdateSecretVersionStage", params["SecretId"])
        secret = await self._service.update_version_stage(
            place,
            params["SecretId"],
            params["VersionStage"],
            params.get("RemoveFromVersionId"),
            params.get("MoveToVersionId"),
        )
        return {"ARN": secret.arn, "Name": secret.name}

    async def get_random_password(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        await self._access.authorize(context, "GetRandomPassword", "*")
        rules = PasswordRules(
            length=params.get("PasswordLength", DEFAULT_LENGTH),
            exclude_characters=params.get("ExcludeCharacters", ""),
            exclude_numbers=bool(params.get("ExcludeNumbers")),
            exclude_punctuation=bool(params.get("ExcludePunctuation")),
            exclude_uppercase=bool(params.get("ExcludeUppercase")),
            exclude_lowercase=bool(params.get("ExcludeLowercase")),
            include_space=bool(params.get("IncludeSpace")),
            require_each_included_type=params.get("RequireEachIncludedType", True),
        )
        return {"RandomPassword": random_password(rules)}

    async def _authorized(
        self, context: CallContext, operation: str, secret_id: str, keys: Mapping[str, Any] | None = None
    ) -> Place:
        """The secret's place, once the caller may perform `operation` on it. Raises AccessDenied."""
        return (await self._access.authorize_secret(context, operation, secret_id, keys)).place


def _tags(raw: list[Mapping[str, Any]]) -> list[Tag]:
    return [Tag(tag.get("Key", ""), tag.get("Value", "")) for tag in raw]


def _staged(versions: Sequence[SecretVersion]) -> dict[str, list[str]]:
    """The versions that have staging labels, and theirs: deprecated versions are not shown (as AWS documents)."""
    return {version.version_id: list(version.stages) for version in versions if version.stages}


def _version_entry(version: SecretVersion) -> dict[str, Any]:
    return {
        "VersionId": version.version_id,
        "VersionStages": list(version.stages) or None,
        "CreatedDate": version.created_at,
    }


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
