"""Who may call a Secrets Manager operation on a secret: the one place its handlers ask the Authorizer.

Every call is authorized with the IAM action `secretsmanager:<Operation>` on the secret's ARN (on the ARN the secret
would have, without its suffix, when there is no such secret; on `*` for calls that name no secret), before the
caller learns whether the secret exists. The secret's resource policy (PutResourcePolicy) is evaluated with the
caller's own policies, and its tags are the request's aws:ResourceTag/<key> (and secretsmanager:ResourceTag/<key>).

Across accounts. A secret of another account is named by its full ARN; its account is the ARN's, its region the
caller's. Only its resource policy can let the caller in (and the caller's own policies must allow too); without
it the caller is refused whether or not the secret exists, as AWS does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pullcache.auth.authorization import AccessRequest, Authorizer
from pullcache.auth.call_context import CallContext
from pullcache.policy import ContextValue, PolicySourceType, SourcedPolicy
from pullcache.secrets.model import Secret, Tag
from pullcache.secrets.resource_policies import parse_secret_policy
from pullcache.secrets.service import Place, SecretsService

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
ARN_PREFIX = "arn:"


@dataclass(frozen=True, slots=True)
class Authorized:
    """Where the secret lives, and the secret when it exists."""

    place: Place
    secret: Secret | None


class SecretAccess:
    def __init__(self, service: SecretsService, authorizer: Authorizer) -> None:
        self._service = service
        self._authorizer = authorizer

    async def authorize_secret(
        self, context: CallContext, operation: str, secret_id: str, keys: Mapping[str, ContextValue] | None = None
    ) -> Authorized:
        """Raises AccessDenied unless the caller may perform `operation` on the secret `secret_id`."""
        place = place_of(context, secret_id)
        secret = await self._service.find_secret(place, secret_id)
        request_keys = dict(keys or {})
        policy = None
        if secret is not None:
            resource = secret.arn
            request_keys.update(_resource_tag_keys(secret.tags))
            request_keys["secretsmanager:SecretId"] = secret.arn
            if secret.resource_policy is not None:
                document = parse_secret_policy(secret.resource_policy)
                policy = SourcedPolicy(document, secret.arn, PolicySourceType.RESOURCE)
        else:
            resource = secret_id if secret_id.startswith(ARN_PREFIX) else unsuffixed_arn(place, secret_id)
        await self.authorize(context, operation, resource, request_keys, place.account, policy)
        return Authorized(place, secret)

    async def authorize(
        self,
        context: CallContext,
        operation: str,
        resource: str,
        keys: Mapping[str, ContextValue] | None = None,
        resource_account: str | None = None,
        resource_policy: SourcedPolicy | None = None,
    ) -> None:
        """Raises AccessDenied unless the caller may perform `operation` on `resource` (in its own account unless
        `resource_account` says otherwise)."""
        request_keys: dict[str, ContextValue] = {
            "aws:SourceIp": context.source_ip,
            "aws:SecureTransport": "true" if context.secure_transport else "false",
            "aws:CurrentTime": context.received_at.strftime(TIME_FORMAT),
            "aws:EpochTime": str(int(context.received_at.timestamp())),
            "aws:RequestedRegion": context.region,
            **(keys or {}),
        }
        account = resource_account if resource_account is not None else context.account
        action = f"secretsmanager:{operation}"
        await self._authorizer.authorize(
            AccessRequest(context.principal, action, resource, account, resource_policy, request_keys)
        )


def place_of(context: CallContext, secret_id: str) -> Place:
    """The caller's account and region, or the account of `secret_id` when it is a full ARN."""
    if secret_id.startswith(ARN_PREFIX):
        parts = secret_id.split(":", 6)
        if len(parts) == 7 and parts[4]:
            return Place(parts[4], context.region)
    return Place(context.account, context.region)


def unsuffixed_arn(place: Place, name: str) -> str:
    return f"arn:aws:secretsmanager:{place.region}:{place.account}:secret:{name}"


def request_tag_keys(tags: list[Tag]) -> dict[str, ContextValue]:
    """aws:RequestTag/<key> and aws:TagKeys of a request that sets `tags`."""
    keys: dict[str, ContextValue] = {f"aws:RequestTag/{tag.key}": tag.value for tag in tags}
    if tags:
        keys["aws:TagKeys"] = [tag.key for tag in tags]
    return keys


def _resource_tag_keys(tags: tuple[Tag, ...]) -> dict[str, ContextValue]:
    keys: dict[str, ContextValue] = {}
    for tag in tags:
        keys[f"aws:ResourceTag/{tag.key}"] = tag.value
        keys[f"secretsmanager:ResourceTag/{tag.key}"] = tag.value
    return keys
