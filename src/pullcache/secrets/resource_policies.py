"""A secret's resource-based policy: its grammar, and whether it grants broad access (BlockPublicPolicy).

The policy follows the grammar of resource-based policies (every statement names a Principal; IAM's
MalformedPolicyDocument messages), checked by the policy engine. It is evaluated with the caller's own policies for
every request on the secret (secrets/api/operations.py): an explicit deny in it refuses, an allow in it is enough
within the account, and across accounts it is the only way in (the caller's own policies must allow too).

Broad access. AWS decides it with automated reasoning over the whole document; the check here is narrower and
stated exactly: a policy grants broad access when an Allow statement names every principal (`"*"`, `{"AWS": "*"}`)
or uses NotPrincipal, and has no condition on the caller's account or organization (aws:PrincipalAccount,
aws:PrincipalOrgID, aws:PrincipalOrgPaths, aws:PrincipalArn, aws:SourceAccount, aws:SourceArn, aws:userid,
aws:username). The message and the check name ValidateResourcePolicy reports are reasoned (AWS documents neither).
"""

from __future__ import annotations

from pullcache.policy import Effect, PolicyDocument, PolicyKind, Statement, parse_policy

BROAD_ACCESS = (
    "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the "
    "secret."
)
BROAD_ACCESS_CHECK = "BROAD_ACCESS"
BROAD_ACCESS_FOUND = "The resource policy grants broad access to the secret: it allows every principal."
_NARROWING_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:PrincipalAccount",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalArn",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:userid",
        "aws:username",
    )
)


def parse_secret_policy(text: str) -> PolicyDocument:
    """Raises MalformedPolicyDocument."""
    return parse_policy(text, PolicyKind.RESOURCE)


def grants_broad_access(document: PolicyDocument) -> bool:
    return any(_broad(statement) for statement in document.statements)


def _broad(statement: Statement) -> bool:
    if statement.effect is not Effect.ALLOW:
        return False
    principal = statement.principal
    everyone = statement.not_principal is not None or (
        principal is not None and (principal.everyone or "*" in principal.aws)
    )
    return everyone and not any(condition.key.lower() in _NARROWING_KEYS for condition in statement.conditions)
