"""Pull-through cache rules as ECR manages them: create, describe, update, delete and validate, per registry scope.

Creating the first rule of an account creates its service-linked role AWSServiceRoleForECRPullThroughCache, as ECR
does; the caller must then be allowed iam:CreateServiceLinkedRole (the `authorize_role_creation` callback of
create_rule decides, and refuses by raising), and nothing is created when it is not.

A rule's upstream must be a destination the operator's DestinationPolicy allows (destinations.py): creating or
updating a rule checks its URL's host as written, without a lookup (a literal address, a denied or unlisted
name), and refuses it with UnsupportedUpstreamRegistry; the addresses a name resolves to are checked by the
upstream client on every connection (pulls, ValidatePullThroughCacheRule), where DNS answers are current.

A rule's credentials are a Secrets Manager secret of the rule's account and region whose current value is JSON
with `username` and `accessToken`. Secret values never leave this module except as UpstreamCredentials (whose
token has no repr) handed to the upstream client, and are never logged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.pagination import page_after
from pullcache.iam.model import Role
from pullcache.pullthrough.destinations import DestinationPolicy
from pullcache.pullthrough.errors import UpstreamDenied, UpstreamError, UpstreamRefused, UpstreamUnavailable
from pullcache.pullthrough.ports import (
    PullThroughRuleStore,
    SecretReader,
    ServiceLinkedRoles,
    UpstreamCredentials,
    UpstreamEndpoint,
    UpstreamRegistry,
)
from pullcache.pullthrough.rule_errors import (
    MAX_RULES_PER_REGISTRY,
    InvalidRuleParameter,
    RuleAlreadyExists,
    RuleError,
    RuleLimitExceeded,
    RuleNotFound,
    SecretNotFoundForRule,
    UnableToAccessSecret,
    UnsupportedUpstreamRegistry,
)
from pullcache.pullthrough.rules import DEFAULT_TAG_TTL, ROOT_PREFIX, PullThroughRule
from pullcache.pullthrough.upstreams import Upstream, check_credentials, parse_upstream
from pullcache.secrets.errors import InvalidSecretRequest, SecretNotFound
from pullcache.secrets.service import Place

SECRET_NAME_PREFIX = "ecr-pullthroughcache/"
# Reasoned texts for a secret that is there but holds no usable credentials.
SECRET_NOT_CREDENTIALS = (
    "The secret does not contain valid credentials. Store a JSON object with a username and an accessToken in the "
    "secret and try again."
)
SECRET_ELSEWHERE = "The secret must be in the same account and Region as the pull through cache rule."
# ECR's text for an UpdatePullThroughCacheRule that changes nothing (seen in its answers).
NOTHING_TO_UPDATE = "Invalid input: Please set either credential arn or role arn to update the credentials"
# Reasoned, from the user guide: "You can set the upstream repository prefix only when the Amazon ECR repository
# prefix has a non-ROOT value."
UPSTREAM_PREFIX_WITH_ROOT = (
    "Invalid parameter at 'upstreamRepositoryPrefix' failed to satisfy constraint: 'The upstream repository prefix "
    "can only be set when the ecrRepositoryPrefix is not ROOT'"
)
# ValidatePullThroughCacheRule's failures. The first is ECR's text where a pull fails to authenticate upstream
# (seen in its answers); the others are reasoned in its style.
AUTHENTICATION_FAILED = (
    "The authentication to the upstream registry failed. Verify that the credentials in the secret are valid and "
    "try again."
)
UPSTREAM_UNREACHABLE = "Amazon ECR was unable to reach the upstream registry. Verify the upstream registry URL."
UPSTREAM_NOT_A_REGISTRY = "The upstream registry did not answer as an OCI distribution registry."
UPSTREAM_REFUSED = (
    "The upstream registry URL is not an allowed destination of this registry. Verify the upstream registry URL."
)


@dataclass(frozen=True, slots=True)
class RuleRequest:
    """CreatePullThroughCacheRule's parameters, in domain names."""

    prefix: str
    upstream_url: str
    upstream_registry: str | None = None
    credential_arn: str | None = None
    custom_role_arn: str | None = None
    upstream_repository_prefix: str | None = None
    upstream_role_arn: str | None = None


@dataclass(frozen=True, slots=True)
class Validation:
    rule: PullThroughRule
    is_valid: bool
    failure: str | None = None


AuthorizeRoleCreation = Callable[[], Awaitable[None]]
RoleCreated = Callable[[Role], None]


class PullThroughRuleService:
    def __init__(
        self,
        store: PullThroughRuleStore,
        secrets: SecretReader,
        upstream: UpstreamRegistry,
        roles: ServiceLinkedRoles,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tag_ttl: timedelta = DEFAULT_TAG_TTL,
        destinations: DestinationPolicy | None = None,
    ) -> None:
        """`tag_ttl`: how long the rules created here trust a cached tag before asking the upstream again;
        `destinations`: the upstreams rules may name (default: any but a link-local address)."""
        self._tag_ttl = tag_ttl
        self._destinations = destinations or DestinationPolicy()
        self._store = store
        self._secrets = secrets
        self._upstream = upstream
        self._roles = roles
        self._clock = clock

    async def create_rule(
        self,
        scope: RegistryScope,
        request: RuleRequest,
        authorize_role_creation: AuthorizeRoleCreation,
        role_created: RoleCreated | None = None,
    ) -> PullThroughRule:
        """Raises InvalidRuleParameter, UnsupportedUpstreamRegistry, SecretNotFoundForRule, UnableToAccessSecret,
        RuleAlreadyExists, RuleLimitExceeded, and whatever `authorize_role_creation` raises to refuse.
        `role_created`: told of the account's service-linked role when this call created it."""
        prefix = _prefix(request.prefix)
        upstream_prefix = (
            None if request.upstream_repository_prefix is None else _prefix(request.upstream_repository_prefix)
        )
        if prefix == ROOT_PREFIX and upstream_prefix not in (None, ROOT_PREFIX):
            raise InvalidRuleParameter(UPSTREAM_PREFIX_WITH_ROOT)
        upstream = parse_upstream(request.upstream_url, request.upstream_registry)
        self._check_destination(upstream, request.upstream_url)
        check_credentials(upstream, request.credential_arn, request.custom_role_arn, request.upstream_role_arn)
        if request.credential_arn is not None:
            await self.read_credentials(scope, request.credential_arn)
        if await self._store.find_rule(scope, prefix) is not None:
            raise RuleAlreadyExists(scope, prefix)
        if len(await self._store.list_rules(scope)) >= MAX_RULES_PER_REGISTRY:
            raise RuleLimitExceeded(scope)
        if await self._roles.find_role(scope.account_id) is None:
            await authorize_role_creation()
            role = await self._roles.ensure_role(scope.account_id)
            if role_created is not None:
                role_created(role)
        now = self._clock()
        rule = PullThroughRule(
            scope,
            prefix,
            upstream.url,
            upstream.registry,
            now,
            now,
            credential_arn=request.credential_arn,
            custom_role_arn=request.custom_role_arn,
            upstream_repository_prefix=upstream_prefix,
            upstream_role_arn=request.upstream_role_arn,
            tag_ttl=self._tag_ttl,
        )
        if not await self._store.add_rule(rule):
            raise RuleAlreadyExists(scope, prefix)
        return rule

    async def get_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule:
        found = await self._store.find_rule(scope, _prefix(prefix))
        if found is None:
            raise RuleNotFound(scope, prefix)
        return found

    async def describe_rules(
        self, scope: RegistryScope, prefixes: Sequence[str] | None, token: str | None, limit: int | None
    ) -> tuple[list[PullThroughRule], str | None]:
        """The named rules (each must exist; RuleNotFound) or all of the scope's, a page of at most `limit`
        (100 by default) after `token`. Raises the ECR InvalidParameter for a token it did not issue."""
        if prefixes:
            rules = [await self.get_rule(scope, prefix) for prefix in dict.fromkeys(prefixes)]
        else:
            rules = list(await self._store.list_rules(scope))
        return page_after(rules, _rule_prefix, token, limit)

    async def update_rule(
        self,
        scope: RegistryScope,
        prefix: str,
        credential_arn: str | None,
        custom_role_arn: str | None,
        upstream_role_arn: str | None = None,
    ) -> PullThroughRule:
        """Changes the rule's secret and/or roles (each one given replaces the rule's, None keeps it). Raises
        InvalidRuleParameter (nothing given, or roles that do not pair), RuleNotFound, UnsupportedUpstreamRegistry
        (credentials its upstream does not take, an upstream the policy now refuses), SecretNotFoundForRule,
        UnableToAccessSecret."""
        if credential_arn is None and custom_role_arn is None and upstream_role_arn is None:
            raise InvalidRuleParameter(NOTHING_TO_UPDATE)
        rule = await self.get_rule(scope, prefix)
        updated = replace(
            rule,
            credential_arn=_given_or(credential_arn, rule.credential_arn),
            custom_role_arn=_given_or(custom_role_arn, rule.custom_role_arn),
            upstream_role_arn=_given_or(upstream_role_arn, rule.upstream_role_arn),
            updated_at=self._clock(),
        )
        upstream = parse_upstream(rule.upstream_url, rule.upstream_registry)
        self._check_destination(upstream, rule.upstream_url)
        check_credentials(upstream, updated.credential_arn, updated.custom_role_arn, updated.upstream_role_arn)
        if credential_arn is not None:
            await self.read_credentials(scope, credential_arn)
        if not await self._store.replace_rule(updated):
            raise RuleNotFound(scope, prefix)
        return updated

    async def delete_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule:
        deleted = await self._store.delete_rule(scope, _prefix(prefix))
        if deleted is None:
            raise RuleNotFound(scope, prefix)
        return deleted

    async def validate_rule(self, scope: RegistryScope, prefix: str) -> Validation:
        """Reads the rule's secret and authenticates with its upstream. Raises RuleNotFound; every other failure
        is the answer's `failure`."""
        rule = await self.get_rule(scope, prefix)
        credentials = None
        try:
            if rule.credential_arn is not None:
                credentials = await self.read_credentials(scope, rule.credential_arn)
            await self._upstream.check(UpstreamEndpoint(rule.base_url, credentials), None)
        except RuleError as error:
            return Validation(rule, False, error.message)
        except UpstreamError as error:
            return Validation(rule, False, _failure(error))
        return Validation(rule, True)

    def _check_destination(self, upstream: Upstream, url: str) -> None:
        """Raises UnsupportedUpstreamRegistry when the policy refuses the upstream's host as written."""
        if self._destinations.refusal(upstream.hostname) is not None:
            # Reasoned, in the words of ECR's text for a URL it refuses (upstreams.py).
            raise UnsupportedUpstreamRegistry(
                f"The upstream registry URL {url} is not an allowed destination of this registry. Specify a valid "
                "upstream registry URL and try again"
            )

    async def read_credentials(self, scope: RegistryScope, credential_arn: str) -> UpstreamCredentials:
        """The credentials the secret holds. Raises SecretNotFoundForRule, UnableToAccessSecret, InvalidRuleParameter
        (a secret not named for ECR)."""
        place = _secret_place(credential_arn)
        if place is None or not _secret_name(credential_arn).startswith(SECRET_NAME_PREFIX):
            # Reasoned: ECR's model allows only secrets named ecr-pullthroughcache/...; its validation says so first.
            raise InvalidRuleParameter(
                "Invalid parameter at 'credentialArn' failed to satisfy constraint: 'The secret name must begin with "
                f"{SECRET_NAME_PREFIX}'"
            )
        if place != Place(scope.account_id, scope.region):
            raise UnableToAccessSecret(SECRET_ELSEWHERE)
        try:
            found = await self._secrets.get_secret_value(place, credential_arn)
        except SecretNotFound:
            raise SecretNotFoundForRule() from None
        except InvalidSecretRequest:
            raise UnableToAccessSecret() from None
        return _credentials_of(found.value.string)


def _credentials_of(text: str | None) -> UpstreamCredentials:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UnableToAccessSecret(SECRET_NOT_CREDENTIALS)
    username, token = value.get("username"), value.get("accessToken")
    if not isinstance(username, str) or not isinstance(token, str) or not username or not token:
        raise UnableToAccessSecret(SECRET_NOT_CREDENTIALS)
    return UpstreamCredentials(username, token)


def _secret_place(arn: str) -> Place | None:
    """The account and region of `arn:aws:secretsmanager:<region>:<account>:secret:<name>`, or None."""
    parts = arn.split(":", 6)
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "secretsmanager" or parts[5] != "secret":
        return None
    return Place(parts[4], parts[3])


def _secret_name(arn: str) -> str:
    return arn.split(":", 6)[-1]


def _prefix(given: str) -> str:
    """ECR treats a prefix as ending in `/` whether or not it does; the rule keeps it without."""
    return given if given == ROOT_PREFIX else given.rstrip("/")


def _given_or(given: str | None, kept: str | None) -> str | None:
    return kept if given is None else given


def _rule_prefix(rule: PullThroughRule) -> str:
    return rule.prefix


def _failure(error: UpstreamError) -> str:
    """UpstreamNotFound and UpstreamInvalid: the URL answers, but not as a registry's /v2/ does."""
    if isinstance(error, UpstreamRefused):
        return UPSTREAM_REFUSED
    if isinstance(error, UpstreamDenied):
        return AUTHENTICATION_FAILED
    if isinstance(error, UpstreamUnavailable):
        return UPSTREAM_UNREACHABLE
    return UPSTREAM_NOT_A_REGISTRY
