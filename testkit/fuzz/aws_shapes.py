"""Valid-looking parameters for any operation of botocore's models: the grammar the AWS doors mutate.

`example_params` walks an input shape: every required member, each optional one half the time, enums from the
model, lengths and ranges within the shape's limits, and names that exist on the server where a member names one
(the fuzz repository, its tag and digest). A few members get values that keep the run on loopback: an upstream
registry URL is always the world's closed local port, a rule's prefix never covers a /v2/ repository.
"""

from __future__ import annotations

import base64
import json
import random
import string
from datetime import UTC, datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from testkit.fuzz.values import random_text
from testkit.fuzz.world import World

MAX_DEPTH = 5
ACCOUNT = "000000000000"

# Policies the services parse: allow-only, so no case locks the root user out of its own registry.
ALLOW_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
)
REPOSITORY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "fuzz", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:BatchGetImage"}],
    }
)
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:*"}],
    }
)
LIFECYCLE_POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)


def example_params(rng: random.Random, shape: StructureShape | None, world: World, *, query: bool) -> dict[str, Any]:
    """Parameters of `shape` as JSON 1.1 carries them (`query` False: timestamps as epoch seconds, blobs in
    base64) or as Query text needs them (`query` True: timestamps in ISO 8601); keys are the wire names."""
    if shape is None:
        return {}
    value = _value(rng, shape, world, "", 0, query)
    assert isinstance(value, dict)
    return value


def _value(rng: random.Random, shape: Shape, world: World, name: str, depth: int, query: bool) -> Any:
    if isinstance(shape, StructureShape):
        found: dict[str, Any] = {}
        required = set(shape.required_members)
        for member_name, member in shape.members.items():
            if member_name in required or (depth < MAX_DEPTH and rng.random() < 0.5):
                wire_name = member.serialization.get("name", member_name)
                found[wire_name] = _value(rng, member, world, member_name, depth + 1, query)
        return found
    if isinstance(shape, ListShape):
        count = max(int(shape.metadata.get("min", 0)), rng.choice((1, 1, 2)))
        return [_value(rng, shape.member, world, name, depth + 1, query) for _ in range(count)]
    if isinstance(shape, MapShape):
        key = _value(rng, shape.key, world, "key", depth + 1, query)
        return {str(key): _value(rng, shape.value, world, name, depth + 1, query)}
    return _scalar(rng, shape, world, name, query)


def _scalar(rng: random.Random, shape: Shape, world: World, name: str, query: bool) -> Any:
    kind = shape.type_name
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("integer", "long"):
        low = int(shape.metadata.get("min", 0))
        high = int(shape.metadata.get("max", max(low, 1000)))
        return rng.randint(low, min(high, low + 1000))
    if kind in ("float", "double"):
        return round(rng.uniform(0, 100), 3)
    if kind == "timestamp":
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if query else int(moment.timestamp())
    if kind == "blob":
        return base64.b64encode(rng.randbytes(rng.randrange(1, 64))).decode()
    enum = shape.enum if isinstance(shape, StringShape) else None
    if enum:
        return rng.choice(list(enum))
    return _string(rng, shape, world, name)


def _string(rng: random.Random, shape: Shape, world: World, name: str) -> str:
    lowered = name.lower()
    known = _named_value(rng, lowered, world)
    if known is not None:
        return known
    low = int(shape.metadata.get("min", 1))
    high = int(shape.metadata.get("max", 32))
    length = rng.randint(max(low, 1), max(min(high, 24), low, 1))
    return random_text(rng, length, string.ascii_lowercase + string.digits + "-")


def _named_value(rng: random.Random, name: str, world: World) -> str | None:
    """A value that means something on the server, for the members whose name says what they hold."""
    if name == "repositoryname":
        return rng.choice((*world.repositories[1:], f"fuzz-aws-{rng.randrange(20)}"))
    if name == "ecrrepositoryprefix":
        return rng.choice(world.rule_prefixes)
    if name in ("upstreamregistryurl",):
        return world.upstream_url
    if name == "imagedigest" or name == "layerdigest":
        return rng.choice((world.manifest_digest, *world.blob_digests))
    if name == "imagetag":
        return rng.choice((world.tag, "fuzz-tag"))
    if name == "registryid":
        return ACCOUNT
    if name in ("policytext", "policydocument"):
        return rng.choice((ALLOW_POLICY, REPOSITORY_POLICY))
    if name == "assumerolepolicydocument":
        return TRUST_POLICY
    if name == "lifecyclepolicytext":
        return LIFECYCLE_POLICY
    if name == "imagemanifest":
        return world.manifest.decode()
    if name == "imagemanifestmediatype":
        return world.manifest_media_type
    if name in ("secretid", "name"):
        return f"fuzz-secret-{rng.randrange(10)}"
    if name in ("secretstring",):
        return json.dumps({"username": "u", "accessToken": random_text(rng, 12)})
    if name in ("username", "groupname", "rolename", "policyname", "instanceprofilename"):
        return f"fuzz-{name[:4]}-{rng.randrange(10)}"
    if name.endswith("arn") or name == "policyarn":
        return rng.choice(
            (
                f"arn:aws:iam::{ACCOUNT}:policy/fuzz-{rng.randrange(5)}",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                f"arn:aws:iam::{ACCOUNT}:role/fuzz-role-{rng.randrange(5)}",
                f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:ecr-pullthroughcache/fuzz-AbCdEf",
            )
        )
    if name == "rolesessionname":
        return f"fuzz-{rng.randrange(100)}"
    if name == "uploadid":
        return random_text(rng, 36, string.hexdigits.lower() + "-")
    return None
