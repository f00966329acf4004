"""Domain errors of the policy language. They carry the message AWS returns; the IAM edge maps them.

PolicyError
└── MalformedPolicyDocument   (the document breaks the policy grammar; `message` is AWS's text)
"""

from __future__ import annotations


class PolicyError(Exception):
    """Base of every error the policy language raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedPolicyDocument(PolicyError):
    """The document is not a valid policy of its kind; `message` is the text AWS IAM returns for the fault."""
