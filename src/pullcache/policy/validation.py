"""The grammar IAM enforces on a policy document, checked in IAM's order and refused with IAM's messages.

IAM reports only the first fault it finds, so the order of the checks is part of the behaviour:

    1. JSON, element names and types       "Syntax errors in policy." / "This policy contains invalid Json" /
                                           "Unknown field X" / "Missing required field Effect"
    2. Principal, by kind of policy        "Policy document should not specify a principal." /
                                           "Missing required field Principal" / "Has prohibited field Resource" /
                                           "Invalid principal in policy: "AWS":"...""
    3. Version (managed policies)          "Policy document must be version 2012-10-17 or greater."
    4. Legacy parsing                      "The policy failed legacy parsing" (Effect's case, Date values, ARNs)
    5. Sid uniqueness, actions present     "Statement IDs (SID) in a single policy must be unique." /
                                           "Policy statement must contain actions."
    6. Resource format                     "Resource x must be in ARN format or "*"." / "Partition ..." / ...
    7. Action format                       "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2,
                                           etc." / "Actions/Condition can contain only one colon." / "Vendor x ..."
    8. Resources present (identity)        "Policy statement must contain resources."

Identity-based policies answer with IAM's own parser's messages; resource-based and trust policies with those
of the parser they share ("This policy contains invalid Json", "Unknown field X", "Missing required field X").
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any

from pullcache.policy.conditions import condition_text, parse_operator
from pullcache.policy.dates import is_date_value
from pullcache.policy.errors import MalformedPolicyDocument

CURRENT_VERSION = "2012-10-17"
VERSIONS = (CURRENT_VERSION, "2008-10-17")
PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"})
PRINCIPAL_TYPES = ("AWS", "Service", "Federated")

SYNTAX_ERRORS = "Syntax errors in policy."
INVALID_JSON = "This policy contains invalid Json"
SHOULD_NOT_SPECIFY_PRINCIPAL = "Policy document should not specify a principal."
INVALID_PRINCIPAL = "Invalid principal in policy"
NO_PRINCIPALS = (
    "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
    "The passed in policy has a statement with no principals!"
)
VERSION_TOO_OLD = "Policy document must be version 2012-10-17 or greater."
LEGACY_PARSING = "The policy failed legacy parsing"
DUPLICATE_SID = "Statement IDs (SID) in a single policy must be unique."
MISSING_ACTIONS = "Policy statement must contain actions."
MISSING_RESOURCES = "Policy statement must contain resources."
MISSING_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
MORE_THAN_ONE_COLON = "Actions/Condition can contain only one colon."
UNQUALIFIED_VENDOR = "Resource vendor must be fully qualified and cannot contain regexes."

# IAM accepts a top-level "Conditions" element too (and ignores it).
_TOP_LEVEL = frozenset({"Version", "Id", "Statement", "Conditions"})
_STATEMENT = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_LISTS = ("Action", "NotAction", "Resource", "NotResource")
_EXCLUSIVE = (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal"))
_IAM_RESOURCE_TYPES = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)
_VENDOR = re.compile(r"[a-zA-Z0-9.-]+")
_NAME = r"[\w+=,.@/-]+"
_AWS_PRINCIPAL = re.compile(
    rf"\*|\d{{12}}|(?:AIDA|AROA)[A-Z0-9]{{12,124}}"
    rf"|arn:[a-z-]+:iam::\d{{12}}:(?:root|user/{_NAME}|role/{_NAME})"
    rf"|arn:[a-z-]+:sts::\d{{12}}:(?:assumed-role/{_NAME}|federated-user/{_NAME})"
)


class PolicyKind(StrEnum):
    """Which rules a document follows: where it is attached decides whether it may or must name principals."""

    IDENTITY = "identity"  # attached to a user, group or role, or a permissions boundary: no Principal
    RESOURCE = "resource"  # attached to a resource (repository, secret): every statement names a Principal;
    # a statement without Resource is about the resource the policy is attached to (as in ECR repository policies)
    TRUST = "trust"  # a role's trust policy: every statement names a Principal, none a Resource


def validate_policy(text: str, kind: PolicyKind, *, require_current_version: bool = False) -> dict[str, Any]:
    """The document in `text` as JSON, once it passes every check; raises MalformedPolicyDocument.

    `require_current_version` is for managed policies, which must say Version 2012-10-17.
    """
    document = _load(text, kind)
    statements = _statements(document, kind)
    for statement in statements:
        _check_principal(statement, kind)
    if require_current_version and document.get("Version") != CURRENT_VERSION:
        raise MalformedPolicyDocument(VERSION_TOO_OLD)
    resource_error = _check_legacy_parsing(statements)
    _check_sids(statements)
    if any(not _present(statement, "Action", "NotAction") for statement in statements):
        raise _missing("Action", kind, MISSING_ACTIONS)
    if resource_error is not None:
        raise MalformedPolicyDocument(resource_error)
    for statement in statements:
        for action in _entries(statement, "Action") + _entries(statement, "NotAction"):
            _check_action(action)
    if kind is PolicyKind.IDENTITY and any(not _present(s, "Resource", "NotResource") for s in statements):
        raise MalformedPolicyDocument(MISSING_RESOURCES)
    return document


def _load(text: str, kind: PolicyKind) -> dict[str, Any]:
    invalid = SYNTAX_ERRORS if kind is PolicyKind.IDENTITY else INVALID_JSON
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
        raise MalformedPolicyDocument(invalid) from None
    if not isinstance(document, dict):
        raise MalformedPolicyDocument(invalid)
    return document


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _statements(document: dict[str, Any], kind: PolicyKind) -> list[dict[str, Any]]:
    """Step 1: the elements and their types."""
    _check_fields(document, _TOP_LEVEL, kind)
    if "Version" in document and document["Version"] not in VERSIONS:
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    if "Id" in document and not isinstance(document["Id"], str):
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    if "Statement" not in document:
        raise _missing("Statement", kind, SYNTAX_ERRORS)
    raw = document["Statement"]
    statements = [raw] if isinstance(raw, dict) else raw
    if not isinstance(statements, list) or not statements:
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    for statement in statements:
        _check_statement_syntax(statement, kind)
    return statements


def _check_statement_syntax(statement: object, kind: PolicyKind) -> None:
    if not isinstance(statement, dict):
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    _check_fields(statement, _STATEMENT, kind)
    if "Effect" not in statement:
        raise _missing("Effect", kind, SYNTAX_ERRORS)
    effect = statement.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    if any(first in statement and second in statement for first, second in _EXCLUSIVE):
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    for field in _LISTS:
        value = statement.get(field, "")
        if not isinstance(value, str) and not (isinstance(value, list) and all(_is_entry(v) for v in value)):
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
    if not isinstance(statement.get("Sid", ""), str):
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    _check_condition_syntax(statement.get("Condition", {}))


def _missing(field: str, kind: PolicyKind, identity_message: str) -> MalformedPolicyDocument:
    """The error for a missing element: IAM's parser and the resource policy parser word it differently."""
    message = identity_message if kind is PolicyKind.IDENTITY else f"Missing required field {field}"
    return MalformedPolicyDocument(message)


def _is_entry(value: object) -> bool:
    """An entry of Action, Resource and their negations: a string, or null (which IAM accepts and ignores)."""
    return value is None or isinstance(value, str)


def _check_fields(element: dict[str, Any], known: frozenset[str], kind: PolicyKind) -> None:
    for name in element:
        if name not in known:
            raise MalformedPolicyDocument(SYNTAX_ERRORS if kind is PolicyKind.IDENTITY else f"Unknown field {name}")


def _check_condition_syntax(condition: object) -> None:
    """A Condition maps operators to blocks of key -> value(s); an unknown operator may only have an empty block."""
    if not isinstance(condition, dict):
        raise MalformedPolicyDocument(SYNTAX_ERRORS)
    for operator, block in condition.items():
        if not isinstance(block, dict) or (block and parse_operator(operator) is None):
            raise MalformedPolicyDocument(SYNTAX_ERRORS)
        for values in block.values():
            items = values if isinstance(values, list) else [values]
            if not all(isinstance(item, str | bool | int | float) for item in items):
                raise MalformedPolicyDocument(SYNTAX_ERRORS)


def _check_principal(statement: dict[str, Any], kind: PolicyKind) -> None:
    """Step 2: identity policies name no principal; resource and trust policies must; trust policies no resource."""
    named = [field for field in ("Principal", "NotPrincipal") if field in statement]
    if kind is PolicyKind.IDENTITY:
        if named:
            raise MalformedPolicyDocument(SHOULD_NOT_SPECIFY_PRINCIPAL)
        return
    if kind is PolicyKind.TRUST:
        for field in ("NotPrincipal", "Resource", "NotResource"):
            if field in statement:
                raise MalformedPolicyDocument(f"Has prohibited field {field}")
    if not named:
        raise _missing("Principal", kind, SYNTAX_ERRORS)  # only resource and trust policies get here
    _check_principal_value(statement[named[0]])


def _check_principal_value(value: object) -> None:
    if value == "*":
        return
    if not isinstance(value, dict):
        raise MalformedPolicyDocument(INVALID_PRINCIPAL)
    if not value or any(entries == [] for entries in value.values()):
        raise MalformedPolicyDocument(NO_PRINCIPALS)
    for principal_type, entries in value.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            valid = (
                principal_type in PRINCIPAL_TYPES
                and isinstance(entry, str)
                and (_AWS_PRINCIPAL.fullmatch(entry) is not None if principal_type == "AWS" else entry != "")
            )
            if not valid:
                raise MalformedPolicyDocument(f'{INVALID_PRINCIPAL}: "{principal_type}":"{entry}"')


def _check_legacy_parsing(statements: list[dict[str, Any]]) -> str | None:
    """Step 4: refuse what IAM's legacy parser refuses; return the resource format error to report in step 6.

    Of several malformed resources IAM reports the last it looks at; it looks at each statement's Resource list
    in reverse order of the text.
    """
    for statement in statements:
        if statement["Effect"] not in ("Allow", "Deny"):
            raise MalformedPolicyDocument(LEGACY_PARSING)
        for operator, block in statement.get("Condition", {}).items():
            parsed = parse_operator(operator)
            if parsed is not None and parsed.base.startswith("Date"):
                for values in block.values():
                    for value in values if isinstance(values, list) else [values]:
                        if not is_date_value(condition_text(value)):
                            raise MalformedPolicyDocument(LEGACY_PARSING)
    error: str | None = None
    for field in ("Resource", "NotResource"):
        for statement in statements:
            resources = sorted(_entries(statement, field), reverse=True)
            for resource in resources:
                error = _resource_format_error(resource) or error
            if error is None and not all(_parses_as_legacy_arn(resource) for resource in resources):
                raise MalformedPolicyDocument(LEGACY_PARSING)
    return error


def _resource_format_error(resource: str) -> str | None:
    if resource == "*":
        return None
    parts = resource.split(":")
    if len(parts) == 1:
        return f'Resource {resource} must be in ARN format or "*".'
    partition = parts[1]
    if partition != "*" and partition not in PARTITIONS:
        return f'Partition "{partition}" is not valid for resource "{_as_arn(partition, parts[2:])}".'
    if len(parts) < 3:
        return UNQUALIFIED_VENDOR
    service = parts[2]
    after_service = resource.split(":", 3)[3] if len(parts) > 3 else ""  # starts with ":" when there is no region
    name = resource.split(":", 5)[5] if len(parts) > 5 else ""
    if service == "iam" and not after_service.startswith(":"):
        return f"IAM resource {resource} cannot contain region information."
    if service == "s3" and not after_service.startswith(":") and not name.startswith("accesspoint/"):
        return f"Resource {resource} can not contain region information."
    if service == "iam" and not name.startswith(_IAM_RESOURCE_TYPES):
        return f'IAM resource path must either be "*" or start with {", ".join(_IAM_RESOURCE_TYPES)}.'
    return None


def _as_arn(partition: str, rest: list[str]) -> str:
    """The resource as IAM quotes it: `arn:partition:` and four more segments, `*` for each one missing."""
    rest = rest or [""]
    service = rest[0] if rest[0] or len(rest) > 1 else "*"
    region = rest[1] if len(rest) > 1 else "*"
    account = rest[2] if len(rest) > 2 else "*"
    resource = ":".join(rest[3:]) if len(rest) > 3 else "*"
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def _parses_as_legacy_arn(resource: str) -> bool:
    if resource == "*":
        return True
    parts = resource.split(":")
    return (resource.count(":") >= 5 or "::" not in resource) and len(parts) > 2 and parts[2] != ""


def _check_sids(statements: list[dict[str, Any]]) -> None:
    sids = [statement["Sid"] for statement in statements if statement.get("Sid")]
    if len(sids) != len(set(sids)):
        raise MalformedPolicyDocument(DUPLICATE_SID)


def _check_action(action: str) -> None:
    parts = action.split(":")
    if len(parts) == 1 and action != "*":
        raise MalformedPolicyDocument(MISSING_VENDOR)
    if len(parts) > 2:
        raise MalformedPolicyDocument(MORE_THAN_ONE_COLON)
    if parts[0] != "*" and _VENDOR.fullmatch(parts[0]) is None:
        raise MalformedPolicyDocument(f"Vendor {parts[0]} is not valid")


def _present(statement: dict[str, Any], field: str, negated_field: str) -> bool:
    """Whether the statement has `field` or `negated_field`, as a string or a non-empty list."""
    value = statement.get(field, statement.get(negated_field))
    return isinstance(value, str) or bool(value)


def _entries(statement: dict[str, Any], field: str) -> list[str]:
    value = statement.get(field, [])
    return [value] if isinstance(value, str) else [entry for entry in value if entry is not None]
