"""What the pull-through cache's ECR operations do not do of what ECR's model offers: the notes the README's
compatibility table shows for them (testkit/compatibility.py). Every operation not named here does all its model
asks; a note names only an operation the server serves (the table's generator refuses any other)."""

from __future__ import annotations

from collections.abc import Mapping

_ROLES_KEPT = (
    "`customRoleArn` and `upstreamRoleArn` are kept and reported, not assumed: pulls from an upstream that takes a "
    "role (`ecr`, `ecr-public-premium`) carry no credentials"
)

PARTIAL_OPERATIONS: Mapping[str, str] = {
    "CreatePullThroughCacheRule": _ROLES_KEPT,
    "UpdatePullThroughCacheRule": _ROLES_KEPT,
}
