"""STS's values: the sessions AssumeRole and GetSessionToken issue (temporary credentials), and whom they sign for.

    access key id   ASIA + 16 characters (a temporary key, as AWS marks them)
    session token   opaque, random; presented as X-Amz-Security-Token with every request the key signs
    ARN             arn:aws:sts::<account>:assumed-role/<role name>/<session name>   (no role path)
    AssumedRoleId   <role unique id>:<session name>                                  (aws:userid)

A GetSessionToken session (UserSession) signs for the IAM user or root user that asked for it: its principal is
that user's (GetCallerIdentity shows the user's ARN), its session id the temporary key, which tells the session
apart from the user's long-term keys where AWS does (auth/session_credentials.py).

A session belongs to the role it was issued for by the role's unique id, so a role deleted and created again under
the same name does not inherit the old role's sessions.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pullcache.auth.credentials import TEMPORARY_PREFIX, new_access_key_id, new_secret_access_key
from pullcache.policy import RequestPrincipal

DEFAULT_DURATION = timedelta(hours=1)
ROLE_CHAINING_LIMIT = timedelta(hours=1)  # a session assuming a role gets at most an hour
USER_SESSION_TOKEN_DEFAULT = timedelta(hours=12)  # GetSessionToken for an IAM user (15 minutes to 36 hours)
ROOT_SESSION_TOKEN_LIMIT = timedelta(hours=1)  # GetSessionToken for the root user: its default and its limit
_TOKEN_BYTES = 192  # AWS's tokens are a few hundred characters; clients must not assume a size


@dataclass(frozen=True, slots=True)
class SessionTag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RoleSession:
    """An issued session. `role_arn` is the role's ARN when it was assumed (path included); `account` the role's.

    The session policies, tags and source identity are kept as they were requested.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    account: str
    role_id: str
    role_arn: str
    session_name: str
    caller_arn: str  # who assumed the role
    issued_at: datetime
    expires_at: datetime
    session_policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[SessionTag, ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None

    @property
    def arn(self) -> str:
        partition = self.role_arn.split(":", 2)[1]
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:{partition}:sts::{self.account}:assumed-role/{role_name}/{self.session_name}"

    @property
    def assumed_role_id(self) -> str:
        return f"{self.role_id}:{self.session_name}"

    @property
    def principal(self) -> RequestPrincipal:
        return RequestPrincipal.role_session(self.arn, self.role_arn, self.role_id, self.access_key_id)

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


@dataclass(frozen=True, slots=True)
class UserSession:
    """A GetSessionToken session of an IAM user (`user_id` its AIDA... id) or of the root user (`user_id` None)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    account: str
    user_arn: str  # the user's ARN, or arn:<partition>:iam::<account>:root
    user_id: str | None
    issued_at: datetime
    expires_at: datetime

    @property
    def principal(self) -> RequestPrincipal:
        if self.user_id is None:
            partition = self.user_arn.split(":", 2)[1]
            base = RequestPrincipal.root(self.account, partition)
        else:
            base = RequestPrincipal.user(self.user_arn, self.user_id)
        return replace(base, session_id=self.access_key_id)

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


def new_session_keys() -> tuple[str, str, str]:
    """(access key id, secret access key, session token) of a new session."""
    token = base64.b64encode(secrets.token_bytes(_TOKEN_BYTES)).decode()
    return new_access_key_id(TEMPORARY_PREFIX), new_secret_access_key(), token
