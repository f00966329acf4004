"""What IAM refuses, as facts; each error's text is the message AWS IAM sends for it.

IamError
├── NoSuchEntity
│   ├── UserNotFound, GroupNotFound, RoleNotFound       "The user with name x cannot be found."
│   ├── InlinePolicyNotFound                           "The role policy with name x cannot be found."
│   ├── PolicyNotFound                                 "Policy arn:... was not found."
│   ├── PolicyNotAttachable                            "Policy arn:... does not exist or is not attachable."
│   ├── PolicyVersionNotFound                          "Policy arn:... version v9 does not exist or is not ..."
│   ├── AccessKeyNotFound                              "The Access Key with id AKIA... cannot be found."
│   └── DeletionTaskNotFound                           "The deletion task with id task/... cannot be found."
├── EntityAlreadyExists                                "User with name x already exists." / "A policy called ..."
├── DeleteConflict                                     "Cannot delete entity, must delete access keys first."
├── LimitExceeded                                      "Cannot exceed quota for AccessKeysPerUser: 2"
├── InvalidInput                                       "Duplicate tag keys found. ..."
├── UnmodifiableEntity                                 "Cannot perform the operation on the protected role ..."
├── ServiceRolePolicyNotAttachable                     "Cannot attach a Service Role Policy to a Customer Role."
└── IamValidationError                                 "Invalid ARN:  Could not be parsed!"

Malformed policy documents raise pullcache.policy.MalformedPolicyDocument. The IAM edge maps these classes
to the model's error shapes (iam/api/operations.py); ValidationError is not one of them, so the edge maps it apart.
"""

from __future__ import annotations

from enum import StrEnum


class EntityKind(StrEnum):
    """The IAM identities that hold policies; the values are how IAM's messages name them."""

    USER = "user"
    GROUP = "group"
    ROLE = "role"


class IamError(Exception):
    """Base of every refusal of the IAM service."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSuchEntity(IamError):
    pass


class EntityNotFound(NoSuchEntity):
    def __init__(self, kind: EntityKind, name: str) -> None:
        super().__init__(f"The {kind} with name {name} cannot be found.")
        self.kind = kind
        self.name = name


class UserNotFound(EntityNotFound):
    def __init__(self, name: str) -> None:
        super().__init__(EntityKind.USER, name)


class GroupNotFound(EntityNotFound):
    def __init__(self, name: str) -> None:
        super().__init__(EntityKind.GROUP, name)


class RoleNotFound(EntityNotFound):
    def __init__(self, name: str) -> None:
        super().__init__(EntityKind.ROLE, name)


class InlinePolicyNotFound(NoSuchEntity):
    def __init__(self, kind: EntityKind, policy_name: str) -> None:
        super().__init__(f"The {kind} policy with name {policy_name} cannot be found.")
        self.kind = kind
        self.policy_name = policy_name


class PolicyNotFound(NoSuchEntity):
    def __init__(self, arn: str) -> None:
        super().__init__(f"Policy {arn} was not found.")
        self.arn = arn


class PolicyNotAttachable(NoSuchEntity):
    def __init__(self, arn: str) -> None:
        super().__init__(f"Policy {arn} does not exist or is not attachable.")
        self.arn = arn


class PolicyVersionNotFound(NoSuchEntity):
    def __init__(self, arn: str, version_id: str) -> None:
        super().__init__(f"Policy {arn} version {version_id} does not exist or is not attachable.")
        self.arn = arn
        self.version_id = version_id


class AccessKeyNotFound(NoSuchEntity):
    def __init__(self, access_key_id: str) -> None:
        super().__init__(f"The Access Key with id {access_key_id} cannot be found.")
        self.access_key_id = access_key_id


class DeletionTaskNotFound(NoSuchEntity):
    def __init__(self, task_id: str) -> None:
        # Reasoned: IAM's wording for this case was not found; it follows IAM's other NoSuchEntity messages.
        super().__init__(f"The deletion task with id {task_id} cannot be found.")
        self.task_id = task_id


class EntityAlreadyExists(IamError):
    @classmethod
    def named(cls, kind: EntityKind, name: str) -> EntityAlreadyExists:
        return cls(f"{kind.capitalize()} with name {name} already exists.")

    @classmethod
    def policy(cls, name: str) -> EntityAlreadyExists:
        return cls(f"A policy called {name} already exists. Duplicate names are not allowed.")


class DeleteConflict(IamError):
    """The entity still has subordinates; the message names what must go first."""


MUST_DELETE_ACCESS_KEYS = "Cannot delete entity, must delete access keys first."
MUST_DELETE_POLICIES = "Cannot delete entity, must delete policies first."
MUST_DETACH_POLICIES = "Cannot delete entity, must detach all policies first."
MUST_REMOVE_FROM_GROUPS = "Cannot delete entity, must remove users from group first."
POLICY_ATTACHED = "Cannot delete a policy attached to entities."
POLICY_HAS_VERSIONS = (
    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. "
    "The default version is deleted with the policy."
)
DEFAULT_VERSION = "Cannot delete the default version of a policy."


class LimitExceeded(IamError):
    @classmethod
    def quota(cls, quota: str, limit: int) -> LimitExceeded:
        """IAM's text for a count quota: `Cannot exceed quota for AccessKeysPerUser: 2`."""
        return cls(f"Cannot exceed quota for {quota}: {limit}")

    @classmethod
    def inline_policy_size(cls, kind: EntityKind, name: str, limit: int) -> LimitExceeded:
        return cls(f"Maximum policy size of {limit} bytes exceeded for {kind} {name}")


POLICY_VERSIONS_LIMIT = (
    "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."
)
TAGS_LIMIT = "The number of tags has reached the maximum limit."


class InvalidInput(IamError):
    pass


DUPLICATE_TAG_KEYS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
SERVICE_ROLE_PATH_RESERVED = "Path prefix '/aws-service-role/' can only be used for AWS Service linked Roles"


class UnmodifiableEntity(IamError):
    """A change to a service-linked role that only its service may make."""

    def __init__(self, role_name: str) -> None:
        super().__init__(
            f"Cannot perform the operation on the protected role '{role_name}' - this role is only modifiable by AWS"
        )
        self.role_name = role_name


class ServiceRolePolicyNotAttachable(IamError):
    """A service-linked role's policy (path /aws-service-role/) attached to anything but its role.

    IAM's text for a role is sourced; for users and groups it is reasoned the same way."""

    def __init__(self, kind: EntityKind) -> None:
        super().__init__(f"Cannot attach a Service Role Policy to a Customer {kind.capitalize()}.")
        self.kind = kind


class IamValidationError(IamError):
    """A value the model accepts but IAM cannot use (IAM answers ValidationError, as for model violations)."""


INVALID_ARN = "Invalid ARN:  Could not be parsed!"  # sic: two spaces
INVALID_MARKER = "Invalid Marker."
NOT_A_USER = "Must specify userName when calling with non-User credentials"
