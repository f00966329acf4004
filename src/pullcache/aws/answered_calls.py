"""AnsweredCall: one AWS operation as it was asked and answered, for whoever keeps a record of calls.

The gateway tells a CallObserver (the audit trail) of every signed request that named an operation, once its
answer is rendered: the operation, its parameters as parsed, its output or the error it met, and the caller's
context. What to keep of it, and what to hide, is the observer's business; the plumbing reads nothing of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol

from pullcache.aws.context import CallContext, PrincipalT


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an endpoint made of one request: the operation (None when the request named none it could parse),
    its parameters, and its output or its error's code and message."""

    operation: str | None
    params: Mapping[str, Any]
    output: Mapping[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class AnsweredCall(Generic[PrincipalT]):
    service: str  # the credential scope's service: ecr, iam, sts, secretsmanager
    outcome: Outcome
    context: CallContext[PrincipalT]
    user_agent: str


class CallObserver(Protocol[PrincipalT]):
    def call_answered(self, call: AnsweredCall[PrincipalT]) -> None:
        """Told after the answer is rendered; quick (the request waits), and never raises."""
        ...
