"""IAM's entities as values: what the store keeps and the service hands to the edge.

Names keep the spelling they were created with; lookups ignore case (`name_key`). Policy documents are the text
the caller sent, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from pullcache.iam.errors import EntityKind

DEFAULT_MAX_SESSION_DURATION = 3600  # seconds, as IAM's default for a role


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def name_key(name: str) -> str:
    """What makes two IAM names the same: IAM names ignore case."""
    return name.lower()


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    account: str
    name: str
    path: str
    arn: str
    created_at: datetime
    permissions_boundary_arn: str | None = None
    tags: tuple[Tag, ...] = ()  # filled in where an operation shows them


@dataclass(frozen=True, slots=True)
class Group:
    group_id: str
    account: str
    name: str
    path: str
    arn: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Role:
    role_id: str
    account: str
    name: str
    path: str
    arn: str
    created_at: datetime
    assume_role_policy: str
    description: str | None = None
    max_session_duration: int = DEFAULT_MAX_SESSION_DURATION
    permissions_boundary_arn: str | None = None
    last_used_at: datetime | None = None
    last_used_region: str | None = None
    tags: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A user, group or role, by what every operation on its policies needs."""

    kind: EntityKind
    entity_id: str
    account: str
    name: str
    path: str
    arn: str


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """A customer managed policy (`account` the owner) or an AWS managed one (`account` None).

    The counts are the owning or calling account's: attachments to its users, groups and roles, and the users and
    roles that have it as their permissions boundary.
    """

    policy_id: str
    account: str | None
    name: str
    path: str
    arn: str
    default_version_id: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    attachment_count: int = 0
    permissions_boundary_usage_count: int = 0
    tags: tuple[Tag, ...] = ()

    @property
    def attached(self) -> bool:
        return self.attachment_count > 0 or self.permissions_boundary_usage_count > 0


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version_id: str
    document: str
    created_at: datetime
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class InlinePolicy:
    name: str
    document: str


@dataclass(frozen=True, slots=True)
class AttachedPolicy:
    name: str
    arn: str


class AccessKeyStatus(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A long-term key of a user, or of the account's root user (`user_name` None)."""

    access_key_id: str
    account: str
    user_id: str | None
    user_name: str | None
    status: str
    created_at: datetime
    secret_access_key: str = field(default="", repr=False)  # only when just created
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    created_at: datetime


class PolicyScope(StrEnum):
    ALL = "All"
    AWS = "AWS"
    LOCAL = "Local"


class PolicyUsage(StrEnum):
    PERMISSIONS_POLICY = "PermissionsPolicy"
    PERMISSIONS_BOUNDARY = "PermissionsBoundary"


# -- service-linked roles: what uses one, and the tasks that delete one -----------------------------------------


@dataclass(frozen=True, slots=True)
class RegionUsage:
    """The resources of one region that use the role, by ARN (for ECR: the repositories of its pull through cache
    rules, `arn:aws:ecr:<region>:<account>:repository/<prefix>/*`)."""

    region: str
    resources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoleUsage:
    regions: tuple[RegionUsage, ...] = ()
    busy: bool = False  # the service is acting as the role right now


class DeletionStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def pending(self) -> bool:
        return self in (DeletionStatus.NOT_STARTED, DeletionStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class DeletionTask:
    task_id: str
    account: str
    role_name: str
    status: DeletionStatus
    created_at: datetime
    updated_at: datetime
    reason: str | None = None  # why it FAILED
    usage: tuple[RegionUsage, ...] = ()  # what still used the role when it FAILED
