"""What an audit event never holds, and the walk that hides it.

Two sources say what is secret. botocore's service models mark members `sensitive` (passwords, private keys,
secret access keys, SAML assertions, web identity tokens, MFA seeds): every such member of an operation's input
and output is hidden, whether or not pullcache implements the operation (a call refused as not implemented still
carries its parameters). The table below adds what the models leave unmarked (an STS session token, an ECR
registry token, a download URL's grant) and what is left out as bulk.

Every row of the table names a service (or any), the operations it covers (or all), the part of the call (the request's
parameters or the response's elements) and the path of a member in it, by the model's member names (`*`: every
item of a list). What a row names is replaced with HIDDEN, as CloudTrail writes such fields; a row marked `omit`
drops the member instead (bulk data, not secret). Authorization headers never reach an event: events are made
from parsed parameters, never from headers.

The walk also writes the members in CloudTrail's casing (`SecretId` -> `secretId`), turns bytes into a note of
their length, shortens strings past MAX_STRING, and leaves out a response past MAX_RESPONSE_BYTES (CloudTrail
keeps `responseElements` for small answers only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from pullcache.aws.models import ServiceModels

HIDDEN: Final = "HIDDEN_DUE_TO_SECURITY_REASONS"
ANY: Final = None  # a row's service or operations: every one
MAX_STRING: Final = 16 * 1024
MAX_RESPONSE_BYTES: Final = 8 * 1024


class Part(Enum):
    REQUEST = "request"
    RESPONSE = "response"


@dataclass(frozen=True, slots=True)
class Redaction:
    service: str | None
    operations: frozenset[str] | None
    part: Part
    path: tuple[str, ...]
    omit: bool = False  # drop the member (bulk data), rather than write HIDDEN in its place


def _ops(*names: str) -> frozenset[str]:
    return frozenset(names)


REDACTIONS: Final[tuple[Redaction, ...]] = (
    # Secrets Manager: a secret's value, whichever operation carries it.
    Redaction("secretsmanager", ANY, Part.REQUEST, ("SecretString",)),
    Redaction("secretsmanager", ANY, Part.REQUEST, ("SecretBinary",)),
    Redaction("secretsmanager", ANY, Part.RESPONSE, ("SecretString",)),
    Redaction("secretsmanager", ANY, Part.RESPONSE, ("SecretBinary",)),
    Redaction("secretsmanager", _ops("GetRandomPassword"), Part.RESPONSE, ("RandomPassword",)),
    Redaction("secretsmanager", _ops("BatchGetSecretValue"), Part.RESPONSE, ("SecretValues", "*", "SecretString")),
    Redaction("secretsmanager", _ops("BatchGetSecretValue"), Part.RESPONSE, ("SecretValues", "*", "SecretBinary")),
    # IAM: console passwords in, secret access keys and service passwords out.
    Redaction("iam", _ops("CreateLoginProfile", "UpdateLoginProfile"), Part.REQUEST, ("Password",)),
    Redaction("iam", _ops("ChangePassword"), Part.REQUEST, ("OldPassword",)),
    Redaction("iam", _ops("ChangePassword"), Part.REQUEST, ("NewPassword",)),
    Redaction("iam", _ops("CreateAccessKey"), Part.RESPONSE, ("AccessKey", "SecretAccessKey")),
    Redaction(
        "iam",
        _ops("CreateServiceSpecificCredential", "ResetServiceSpecificCredential"),
        Part.RESPONSE,
        ("ServiceSpecificCredential", "ServicePassword"),
    ),
    # STS: temporary credentials keep their access key id and expiry, lose their secret and token (the models
    # mark the secret, not the token), whichever operation issued them (AssumeRoot, GetSessionToken, ...).
    Redaction("sts", ANY, Part.RESPONSE, ("Credentials", "SecretAccessKey")),
    Redaction("sts", ANY, Part.RESPONSE, ("Credentials", "SessionToken")),
    # ECR: registry tokens (a password for /v2/) and the download URLs that carry a grant to a blob.
    Redaction("ecr", _ops("GetAuthorizationToken"), Part.RESPONSE, ("authorizationData", "*", "authorizationToken")),
    Redaction("ecr", _ops("GetDownloadUrlForLayer"), Part.RESPONSE, ("downloadUrl",)),
    # ECR: a layer's bytes are bulk, not a record.
    Redaction("ecr", _ops("UploadLayerPart"), Part.REQUEST, ("layerPartBlob",), omit=True),
)


class Redactor:
    """The table's rows and the models' sensitive members, applied to a call's parameters or answer. The paths of
    an operation's sensitive members are found once (a walk of its shapes) and kept."""

    def __init__(self, models: ServiceModels) -> None:
        self._models = models
        self._sensitive: dict[tuple[str, str, Part], tuple[tuple[str, ...], ...]] = {}

    def redacted(self, service: str, operation: str, part: Part, members: Mapping[str, Any]) -> dict[str, Any]:
        """`members` with what is secret hidden and bulk left out, in CloudTrail's casing; a new structure (the
        original is not changed)."""
        copy = _plain(members)
        assert isinstance(copy, dict)
        for row in REDACTIONS:
            if (
                row.part is part
                and row.service in (ANY, service)
                and (row.operations is ANY or operation in row.operations)
            ):
                _apply(copy, row.path, row.omit)
        for path in self.sensitive_paths(service, operation, part):
            _apply(copy, path, omit=False)
        cased = _wire_cased(copy)
        assert isinstance(cased, dict)
        return cased

    def response_elements(
        self, service: str, operation: str, output: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """The response's elements, redacted; None for no output, an empty one or one past MAX_RESPONSE_BYTES."""
        if not output:
            return None
        elements = self.redacted(service, operation, Part.RESPONSE, output)
        if len(json.dumps(elements, default=str)) > MAX_RESPONSE_BYTES:
            return None
        return elements

    def sensitive_paths(self, service: str, operation: str, part: Part) -> tuple[tuple[str, ...], ...]:
        """The paths (by member names, `*` for every item of a list or value of a map) of the members the model
        of `service` marks sensitive in `operation`'s input or output; none for an operation it does not know."""
        key = (service, operation, part)
        found = self._sensitive.get(key)
        if found is None:
            model = self._models.find_operation(service, operation)
            found = () if model is None else tuple(_sensitive_members(_shape_of(model, part), (), frozenset()))
            self._sensitive[key] = found
        return found


def _shape_of(operation: OperationModel, part: Part) -> Shape | None:
    return operation.input_shape if part is Part.REQUEST else operation.output_shape


def _sensitive_members(shape: Shape | None, path: tuple[str, ...], seen: frozenset[str]) -> list[tuple[str, ...]]:
    """The paths under `shape` whose shape is marked sensitive (a sensitive structure is hidden whole). `seen`:
    the structures on the way down, so a recursive shape ends."""
    if shape is None:
        return []
    if shape.metadata.get("sensitive"):
        return [path] if path else []
    if isinstance(shape, StructureShape):
        if shape.name in seen:
            return []
        inner = seen | {shape.name}
        return [
            found
            for name, member in shape.members.items()
            for found in _sensitive_members(member, (*path, name), inner)
        ]
    if isinstance(shape, ListShape):
        return _sensitive_members(shape.member, (*path, "*"), seen)
    if isinstance(shape, MapShape):
        return _sensitive_members(shape.value, (*path, "*"), seen)
    return []


def _apply(node: Any, path: Sequence[str], omit: bool) -> None:
    head, rest = path[0], path[1:]
    if head == "*":  # every item of a list, every value of a map
        keys: Sequence[Any] = (
            range(len(node)) if isinstance(node, list) else list(node) if isinstance(node, dict) else ()
        )
        for key in keys:
            if rest:
                _apply(node[key], rest, omit)
            elif not omit:
                node[key] = HIDDEN
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _apply(node[head], rest, omit)
    elif omit:
        del node[head]
    else:
        node[head] = HIDDEN


def _plain(value: Any) -> Any:
    """A copy made of dicts, lists, strings, numbers and booleans only."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else f"<{len(value)} characters>"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _wire_cased(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k): _wire_cased(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_cased(v) for v in value]
    return value


def _camel(name: str) -> str:
    """A member name as CloudTrail writes it: its first letter lower-case (`UserName` -> `userName`)."""
    return name[:1].lower() + name[1:]
