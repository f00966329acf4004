"""Secrets and their versions as pullcache keeps them: values only ever encrypted.

Staging labels: AWSCURRENT is on exactly one version of a secret that has a value, AWSPREVIOUS on the version that
held AWSCURRENT last, AWSPENDING on a version being rotated in; any other label is the caller's. A version with no
label is deprecated (ListSecretVersionIds shows it only when asked to).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Secret:
    """One secret of an account in a region. `deleted_at` is set while it waits for `deletion_date`."""

    arn: str
    account: str
    region: str
    name: str
    description: str | None
    tags: tuple[Tag, ...]
    created_at: datetime
    last_changed_at: datetime
    deleted_at: datetime | None = None
    deletion_date: datetime | None = None
    resource_policy: str | None = None  # the secret's resource-based policy, as it was put


@dataclass(frozen=True, slots=True)
class SecretVersion:
    """One version of a secret; `sealed` is the encrypted value (see cipher.py)."""

    version_id: str
    sealed: bytes
    stages: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SecretValue:
    """A plain value: exactly one of the two is set."""

    string: str | None = None
    binary: bytes | None = None
