"""An AssumeRole request as a value, and the checks STS makes of it before it looks at any role.

- RoleArn must have an ARN's six parts with a partition, a service and a resource (`x is invalid` otherwise);
  whether it names an existing role is not told apart from being refused (AccessDenied).
- Session tags: keys are unique ignoring case, and every transitive key is one of them (InvalidParameterValue).
- Session policies: the inline `Policy` follows the grammar of identity-based policies (MalformedPolicyDocument);
  with the managed policy ARNs and the tags it must fit STS's packed space (PackedPolicyTooLarge past 100 %).

Packing. STS compresses session policies and tags into a binary form of its own and reports how much of its space
they fill (PackedPolicySize, in percent). Its form is not published; the estimate here is linear in the size of
the minified policy, the policy ARNs and the tags, calibrated on the sizes AWS reports (a policy of about 1,070
minified characters fills its space; one of 1,690 reports 157 %). It is exact in kind (what fits, what does not,
and roughly how full), not to the percent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pullcache.policy import PolicyKind, parse_policy
from pullcache.sts.errors import (
    DUPLICATE_TAG_KEYS,
    TRANSITIVE_KEY_NOT_TAGGED,
    InvalidParameterValue,
    PackedPolicyTooLarge,
    StsValidationError,
)
from pullcache.sts.model import SessionTag

PACKED_SPACE = 1070  # characters of minified policy that fill STS's packed space (see above)
FULL = 100  # percent


@dataclass(frozen=True, slots=True)
class AssumeRoleRequest:
    role_arn: str
    session_name: str
    duration_seconds: int | None = None  # None: an hour
    policy: str | None = None
    policy_arns: Sequence[str] = ()
    tags: Sequence[SessionTag] = ()
    transitive_tag_keys: Sequence[str] = ()
    external_id: str | None = None
    source_identity: str | None = None

    @property
    def has_session_policies(self) -> bool:
        return self.policy is not None or bool(self.policy_arns)


def check_request(request: AssumeRoleRequest) -> int | None:
    """The packed size of the session policies and tags in percent, or None when the request has neither.

    Raises StsValidationError, InvalidParameterValue, MalformedPolicyDocument or PackedPolicyTooLarge.
    """
    check_role_arn(request.role_arn)
    check_tags(request.tags, request.transitive_tag_keys)
    if request.policy is not None:
        parse_policy(request.policy, PolicyKind.IDENTITY)
    if not request.has_session_policies and not request.tags:
        return None
    size = packed_size(request.policy, request.policy_arns, request.tags)
    if size > FULL:
        raise PackedPolicyTooLarge(size)
    return size


def check_role_arn(arn: str) -> None:
    """Raises StsValidationError unless `arn` has the parts of an ARN: `arn:partition:service:region:account:res`."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        raise StsValidationError.invalid_arn(arn)


def check_tags(tags: Sequence[SessionTag], transitive_keys: Sequence[str]) -> None:
    """Raises InvalidParameterValue."""
    keys = {tag.key.lower() for tag in tags}
    if len(keys) != len(tags):
        raise InvalidParameterValue(DUPLICATE_TAG_KEYS)
    if any(key.lower() not in keys for key in transitive_keys):
        raise InvalidParameterValue(TRANSITIVE_KEY_NOT_TAGGED)


def packed_size(policy: str | None, policy_arns: Sequence[str], tags: Sequence[SessionTag]) -> int:
    """The estimated packed size in percent (see the module's docstring); `policy` must be valid JSON."""
    characters = 0
    if policy is not None:
        characters += len(json.dumps(json.loads(policy), separators=(",", ":"), ensure_ascii=False))
    characters += sum(len(arn) for arn in policy_arns)
    characters += sum(len(tag.key) + len(tag.value) for tag in tags)
    return math.ceil(characters * FULL / PACKED_SPACE)
