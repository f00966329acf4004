"""The IAM policy language: parse documents with IAM's grammar and messages, and decide requests as IAM does.

    document = parse_policy(text, PolicyKind.IDENTITY)
    decision = evaluate(PolicySet(identity=[SourcedPolicy(document)]), RequestContext(principal, action, resource))
    decision.decision  # EvalDecision.ALLOWED / EXPLICIT_DENY / IMPLICIT_DENY

Pure code: no storage, no HTTP.
"""

from pullcache.policy.conditions import Condition, Operator, SetOperator
from pullcache.policy.context import ContextValue, PrincipalType, RequestContext, RequestPrincipal
from pullcache.policy.documents import Effect, PolicyDocument, Principals, Statement, parse_policy
from pullcache.policy.errors import MalformedPolicyDocument, PolicyError
from pullcache.policy.evaluation import (
    Decision,
    EvalDecision,
    MatchedStatement,
    PolicySet,
    PolicySourceType,
    SourcedPolicy,
    evaluate,
)
from pullcache.policy.validation import CURRENT_VERSION, VERSIONS, PolicyKind

__all__ = [
    "CURRENT_VERSION",
    "VERSIONS",
    "Condition",
    "ContextValue",
    "Decision",
    "Effect",
    "EvalDecision",
    "MalformedPolicyDocument",
    "MatchedStatement",
    "Operator",
    "PolicyDocument",
    "PolicyError",
    "PolicyKind",
    "PolicySet",
    "PolicySourceType",
    "PrincipalType",
    "Principals",
    "RequestContext",
    "RequestPrincipal",
    "SetOperator",
    "SourcedPolicy",
    "Statement",
    "evaluate",
    "parse_policy",
]
