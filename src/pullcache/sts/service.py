"""StsService: AssumeRole, decided by the policy engine as AWS decides it, GetSessionToken and
DecodeAuthorizationMessage.

A caller may assume a role when both sides agree:
- the role's trust policy, evaluated as the resource-based policy of the request, names the caller (its ARN, its
  role for a role session, or its account) - and without it nothing is allowed (`resource_policy_required`);
- the caller's identity-based policies allow `sts:AssumeRole` on the role's ARN (within its permissions
  boundary, and its session policies when the caller is a role session given some). Within one account a trust
  policy that names the caller itself suffices, as AWS documents; one that names only the account delegates the
  decision to the identity-based policies. Across accounts both must allow.
Session tags need `sts:TagSession`, a source identity `sts:SetSourceIdentity`, decided the same way. The root user
may not assume roles at all, and a role session may assume a role for an hour at most (role chaining).

GetSessionToken needs no permission (AWS: "You cannot use policies to control authentication operations"): an IAM
user or the root user signing with a long-term key gets a session acting as itself, 15 minutes to 36 hours (12 by
default) for a user, at most an hour for the root user (a longer request gets an hour, as AWS documents). Any
session's credentials are refused (SessionCredentialsRefused). MFA cannot succeed: no MFA devices exist here, so a
serial number or code is refused as AWS refuses a device that is not the caller's (MfaFailed).

DecodeAuthorizationMessage needs sts:DecodeAuthorizationMessage (identity-based policies; refused to GetSessionToken
sessions). AWS returns an encoded authorization message only from some operations (EC2's UnauthorizedOperation,
for one); none of ECR, IAM, STS and Secrets Manager documents one, so pullcache's services return none either, and
every message is answered InvalidAuthorizationMessageException: the operation is there for the tools that call it.

Refusals do not tell a missing role from a forbidden one. A session is stored with its expiry; issuing one also
purges the sessions that expired more than EXPIRED_SESSION_RETENTION ago, so the table stays small without a
background task while a caller presenting recently expired credentials still hears ExpiredToken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from pullcache.auth.ports import PrincipalPolicies
from pullcache.auth.session_credentials import is_user_session
from pullcache.iam.model import Clock, utc_now
from pullcache.iam.ports import IamPrincipals, RolePermissions
from pullcache.policy import (
    ContextValue,
    PolicyKind,
    PolicySet,
    PolicySourceType,
    PrincipalType,
    RequestContext,
    RequestPrincipal,
    SourcedPolicy,
    evaluate,
    parse_policy,
)
from pullcache.sts.errors import (
    DURATION_EXCEEDS_MAX_SESSION,
    DURATION_EXCEEDS_ROLE_CHAINING,
    AssumeRoleDenied,
    DecodeDenied,
    InvalidAuthorizationMessage,
    MfaFailed,
    RootCannotAssumeRoles,
    SessionCredentialsRefused,
    StsValidationError,
)
from pullcache.sts.model import (
    DEFAULT_DURATION,
    ROLE_CHAINING_LIMIT,
    ROOT_SESSION_TOKEN_LIMIT,
    USER_SESSION_TOKEN_DEFAULT,
    RoleSession,
    UserSession,
    new_session_keys,
)
from pullcache.sts.ports import SessionStore
from pullcache.sts.requests import AssumeRoleRequest, check_request

ASSUME_ROLE = "sts:AssumeRole"
TAG_SESSION = "sts:TagSession"
SET_SOURCE_IDENTITY = "sts:SetSourceIdentity"
DECODE_AUTHORIZATION_MESSAGE = "sts:DecodeAuthorizationMessage"
EXPIRED_SESSION_RETENTION = timedelta(days=1)
TRUST_POLICY_ID = "AssumeRolePolicyDocument"


@dataclass(frozen=True, slots=True)
class IssuedSession:
    session: RoleSession
    packed_policy_size: int | None  # percent; None when the request had no session policies or tags


class StsService:
    def __init__(
        self,
        roles: IamPrincipals,
        principal_policies: PrincipalPolicies,
        sessions: SessionStore,
        clock: Clock = utc_now,
    ) -> None:
        self._roles = roles
        self._principal_policies = principal_policies
        self._sessions = sessions
        self._clock = clock

    async def assume_role(
        self, caller: RequestPrincipal, request: AssumeRoleRequest, keys: Mapping[str, ContextValue], region: str
    ) -> IssuedSession:
        """A new session of the role for `caller`; `keys` are the request's global condition keys (aws:SourceIp,
        aws:CurrentTime, ...) and `region` where the role is used.

        Raises RootCannotAssumeRoles, StsValidationError, InvalidParameterValue, MalformedPolicyDocument,
        PackedPolicyTooLarge or AssumeRoleDenied.
        """
        if caller.type is PrincipalType.ACCOUNT:
            raise RootCannotAssumeRoles()
        packed_policy_size = check_request(request)
        role = await self._roles.find_role_permissions(request.role_arn)
        if role is None:
            raise AssumeRoleDenied(caller.arn, ASSUME_ROLE, request.role_arn)
        request_keys = {**keys, **_assume_role_keys(request)}
        await self._authorize(caller, ASSUME_ROLE, request.role_arn, role, request_keys)
        if request.tags:
            await self._authorize(caller, TAG_SESSION, request.role_arn, role, request_keys)
        if request.source_identity is not None:
            await self._authorize(caller, SET_SOURCE_IDENTITY, request.role_arn, role, request_keys)
        duration = _duration(caller, request, role)
        now = self._clock()
        access_key_id, secret, token = new_session_keys()
        session = RoleSession(
            access_key_id=access_key_id,
            secret_access_key=secret,
            session_token=token,
            account=role.account,
            role_id=role.role_id,
            role_arn=role.arn,
            session_name=request.session_name,
            caller_arn=caller.arn,
            issued_at=now,
            expires_at=now.replace(microsecond=0) + duration,
            session_policy=request.policy,
            policy_arns=tuple(request.policy_arns),
            tags=tuple(request.tags),
            transitive_tag_keys=tuple(request.transitive_tag_keys),
            source_identity=request.source_identity,
        )
        await self._sessions.add_session(session)
        await self._sessions.purge_sessions(now - EXPIRED_SESSION_RETENTION)
        await self._roles.record_role_use(role.arn, now, region)
        return IssuedSession(session, packed_policy_size)

    async def get_session_token(
        self,
        caller: RequestPrincipal,
        duration_seconds: int | None = None,
        serial_number: str | None = None,
        token_code: str | None = None,
    ) -> UserSession:
        """A session acting as `caller` (an IAM user or the root user signing with a long-term key).

        Raises SessionCredentialsRefused (the caller signs with temporary credentials) or MfaFailed.
        """
        if caller.type not in (PrincipalType.USER, PrincipalType.ACCOUNT) or caller.session_id is not None:
            raise SessionCredentialsRefused("GetSessionToken")
        if serial_number is not None or token_code is not None:
            raise MfaFailed()
        assert caller.account is not None  # users and the root user belong to an account
        root = caller.type is PrincipalType.ACCOUNT
        if duration_seconds is None:
            duration = ROOT_SESSION_TOKEN_LIMIT if root else USER_SESSION_TOKEN_DEFAULT
        else:
            duration = timedelta(seconds=duration_seconds)
            if root:
                duration = min(duration, ROOT_SESSION_TOKEN_LIMIT)
        now = self._clock()
        access_key_id, secret, token = new_session_keys()
        session = UserSession(
            access_key_id=access_key_id,
            secret_access_key=secret,
            session_token=token,
            account=caller.account,
            user_arn=caller.arn,
            user_id=None if root else caller.user_id,
            issued_at=now,
            expires_at=now.replace(microsecond=0) + duration,
        )
        await self._sessions.add_user_session(session)
        await self._sessions.purge_sessions(now - EXPIRED_SESSION_RETENTION)
        return session

    async def decode_authorization_message(
        self, caller: RequestPrincipal, message: str, keys: Mapping[str, ContextValue]
    ) -> str:
        """Raises SessionCredentialsRefused, DecodeDenied, or InvalidAuthorizationMessage (for every message: no
        service here encodes one)."""
        if is_user_session(caller):
            raise SessionCredentialsRefused("DecodeAuthorizationMessage")
        policies = await self._principal_policies.policies_for(caller)
        policy_set = PolicySet(
            identity=policies.identity,
            permissions_boundary=policies.permissions_boundary,
            session_policies=policies.session_policies,
        )
        context = RequestContext(caller, DECODE_AUTHORIZATION_MESSAGE, "*", caller.account, keys)
        if not evaluate(policy_set, context).allowed:
            raise DecodeDenied(caller.arn, DECODE_AUTHORIZATION_MESSAGE)
        raise InvalidAuthorizationMessage()

    async def _authorize(
        self,
        caller: RequestPrincipal,
        action: str,
        role_arn: str,
        role: RolePermissions,
        keys: Mapping[str, ContextValue],
    ) -> None:
        """Raises AssumeRoleDenied unless the caller's policies and the role's trust policy allow `action`."""
        trust = SourcedPolicy(
            parse_policy(role.trust_policy, PolicyKind.TRUST), TRUST_POLICY_ID, PolicySourceType.RESOURCE
        )
        policies = await self._principal_policies.policies_for(caller)
        policy_set = PolicySet(
            identity=policies.identity,
            resource=trust,
            permissions_boundary=policies.permissions_boundary,
            resource_policy_required=True,
            session_policies=policies.session_policies,  # a role session chaining to another role
        )
        decision = evaluate(policy_set, RequestContext(caller, action, role.arn, role.account, keys))
        if not decision.allowed:
            raise AssumeRoleDenied(caller.arn, action, role_arn)


def _assume_role_keys(request: AssumeRoleRequest) -> dict[str, ContextValue]:
    """The condition keys AssumeRole adds to the request's global ones."""
    keys: dict[str, ContextValue] = {"sts:RoleSessionName": request.session_name}
    if request.external_id is not None:
        keys["sts:ExternalId"] = request.external_id
    if request.source_identity is not None:
        keys["sts:SourceIdentity"] = request.source_identity
    for tag in request.tags:
        keys[f"aws:RequestTag/{tag.key}"] = tag.value
    if request.tags:
        keys["aws:TagKeys"] = [tag.key for tag in request.tags]
    if request.transitive_tag_keys:
        keys["sts:TransitiveTagKeys"] = list(request.transitive_tag_keys)
    return keys


def _duration(caller: RequestPrincipal, request: AssumeRoleRequest, role: RolePermissions) -> timedelta:
    """Raises StsValidationError for a duration beyond the role's limit, or an hour when chaining roles."""
    if request.duration_seconds is None:
        return DEFAULT_DURATION
    duration = timedelta(seconds=request.duration_seconds)
    if caller.type is PrincipalType.ASSUMED_ROLE and duration > ROLE_CHAINING_LIMIT:
        raise StsValidationError(DURATION_EXCEEDS_ROLE_CHAINING)
    if duration > timedelta(seconds=role.max_session_duration):
        raise StsValidationError(DURATION_EXCEEDS_MAX_SESSION)
    return duration
