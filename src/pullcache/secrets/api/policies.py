"""The resource policy operations of Secrets Manager: Put, Get, Delete and ValidateResourcePolicy.

What a policy may say and what counts as broad access: secrets/resource_policies.py. ValidateResourcePolicy
answers a malformed document with MalformedPolicyDocumentException (as PutResourcePolicy does) and a policy that
grants broad access with PolicyValidationPassed false and one validation error (its check name is reasoned). PolicyName
(a newer, optional parameter) names nothing here: a secret has one resource policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.wire import Params
from pullcache.secrets.api.access import SecretAccess
from pullcache.secrets.resource_policies import (
    BROAD_ACCESS_CHECK,
    BROAD_ACCESS_FOUND,
    grants_broad_access,
    parse_secret_policy,
)
from pullcache.secrets.service import SecretsService

Handler = Callable[[Params, CallContext], Awaitable[Mapping[str, Any]]]


class ResourcePolicyOperations:
    def __init__(self, service: SecretsService, access: SecretAccess) -> None:
        self._service = service
        self._access = access

    def handlers(self) -> dict[str, Handler]:
        return {
            "PutResourcePolicy": self.put_resource_policy,
            "GetResourcePolicy": self.get_resource_policy,
            "DeleteResourcePolicy": self.delete_resource_policy,
            "ValidateResourcePolicy": self.validate_resource_policy,
        }

    async def put_resource_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = (await self._access.authorize_secret(context, "PutResourcePolicy", params["SecretId"])).place
        secret = await self._service.put_resource_policy(
            place, params["SecretId"], params["ResourcePolicy"], bool(params.get("BlockPublicPolicy"))
        )
        return {"ARN": secret.arn, "Name": secret.name}

    async def get_resource_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = (await self._access.authorize_secret(context, "GetResourcePolicy", params["SecretId"])).place
        secret = await self._service.get_secret(place, params["SecretId"])
        return {"ARN": secret.arn, "Name": secret.name, "ResourcePolicy": secret.resource_policy}

    async def delete_resource_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        place = (await self._access.authorize_secret(context, "DeleteResourcePolicy", params["SecretId"])).place
        secret = await self._service.delete_resource_policy(place, params["SecretId"])
        return {"ARN": secret.arn, "Name": secret.name}

    async def validate_resource_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        secret_id = params.get("SecretId")
        if secret_id is None:
            await self._access.authorize(context, "ValidateResourcePolicy", "*")
        else:
            authorized = await self._access.authorize_secret(context, "ValidateResourcePolicy", secret_id)
            await self._service.get_secret(authorized.place, secret_id)
        document = parse_secret_policy(params["ResourcePolicy"])
        if grants_broad_access(document):
            errors = [{"CheckName": BROAD_ACCESS_CHECK, "ErrorMessage": BROAD_ACCESS_FOUND}]
            return {"PolicyValidationPassed": False, "ValidationErrors": errors}
        return {"PolicyValidationPassed": True, "ValidationErrors": []}
