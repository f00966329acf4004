"""Registry scopes: ECR keeps one registry per account and region, and every repository lives in one of them.

A /v2/ request names its registry by host, as ECR's endpoints do: `<account>.dkr.ecr.<region>.<domain>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACCOUNT_ID = re.compile(r"[0-9]{12}")
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")
_REGISTRY_HOST = re.compile(r"([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.([^:]+(?::[0-9]+)?)")


@dataclass(frozen=True, slots=True)
class RegistryScope:
    """The registry of one account in one region."""

    account_id: str
    region: str

    def repository_arn(self, name: str) -> str:
        """The ARN of the repository `name` (`*` for every repository of the registry)."""
        return f"arn:aws:ecr:{self.region}:{self.account_id}:repository/{name}"


def scope_of_registry_host(host: str) -> RegistryScope | None:
    """The scope an ECR-style host names (`123456789012.dkr.ecr.us-east-1.localhost:5000`), or None."""
    match = _REGISTRY_HOST.fullmatch(host.lower())
    if match is None or REGION.fullmatch(match.group(2)) is None:
        return None
    return RegistryScope(match.group(1), match.group(2))


def registry_host(scope: RegistryScope, domain: str) -> str:
    """The host of ECR's form that names `scope` under `domain` (which may end in `:<port>`)."""
    return f"{scope.account_id}.dkr.ecr.{scope.region}.{domain}"


def domain_of_registry_host(host: str) -> str | None:
    """The domain (and port) of an ECR-style host (`localhost:5000` of `...dkr.ecr.us-east-1.localhost:5000`),
    or None for a host of another form."""
    match = _REGISTRY_HOST.fullmatch(host.lower())
    if match is None or REGION.fullmatch(match.group(2)) is None:
        return None
    return match.group(3)


def parse_repository_arn(arn: str) -> tuple[RegistryScope, str] | None:
    """The scope and repository name of `arn:aws:ecr:<region>:<account>:repository/<name>`, or None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[1] != "aws" or parts[2] != "ecr":
        return None
    region, account, resource = parts[3], parts[4], parts[5]
    kind, _, name = resource.partition("/")
    if kind != "repository" or not name or ACCOUNT_ID.fullmatch(account) is None:
        return None
    if REGION.fullmatch(region) is None:
        return None
    return RegistryScope(account, region), name
