"""IAM's names for things: ARNs of users, groups, roles and policies, and unique ids.

    arn:aws:iam::123456789012:user/division/alice       path /division/, name alice
    arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly   an AWS managed policy

Unique ids are a four-letter prefix telling the kind (AIDA user, AGPA group, AROA role, ANPA managed policy) and
seventeen characters of base32's alphabet, 21 in all, as IAM's.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from enum import StrEnum

from pullcache.iam.errors import INVALID_ARN, IamValidationError

PARTITION = "aws"
AWS_MANAGED_ACCOUNT = "aws"  # the account part of the ARN of every AWS managed policy
ROOT_PATH = "/"
_ID_ALPHABET = string.ascii_uppercase + "234567"
_ID_LENGTH = 17


class IdPrefix(StrEnum):
    USER = "AIDA"
    GROUP = "AGPA"
    ROLE = "AROA"
    POLICY = "ANPA"


def new_unique_id(prefix: IdPrefix) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def iam_arn(account: str, resource_type: str, path: str, name: str) -> str:
    """`arn:aws:iam::<account>:<type><path><name>`; a path begins and ends with a slash."""
    return f"arn:{PARTITION}:iam::{account}:{resource_type}{path}{name}"


def user_arn(account: str, path: str, name: str) -> str:
    return iam_arn(account, "user", path, name)


def group_arn(account: str, path: str, name: str) -> str:
    return iam_arn(account, "group", path, name)


def role_arn(account: str, path: str, name: str) -> str:
    return iam_arn(account, "role", path, name)


def policy_arn(account: str, path: str, name: str) -> str:
    return iam_arn(account, "policy", path, name)


def root_arn(account: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:root"


@dataclass(frozen=True, slots=True)
class PolicyArn:
    """A managed policy's ARN, taken apart. `account` is `aws` for AWS managed policies."""

    text: str
    account: str
    path: str
    name: str

    @property
    def aws_managed(self) -> bool:
        return self.account == AWS_MANAGED_ACCOUNT


def parse_policy_arn(text: str) -> PolicyArn | None:
    """The parts of a managed policy's ARN; None for an ARN that names something else.

    Raises IamValidationError when `text` is not an ARN at all, as IAM does.
    """
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[5]:
        raise IamValidationError(INVALID_ARN)
    _, partition, service, region, account, resource = parts
    if partition != PARTITION or service != "iam" or region or not resource.startswith("policy/"):
        return None
    path, _, name = resource.removeprefix("policy").rpartition("/")
    if not name:
        return None
    return PolicyArn(text, account, path + "/", name)
