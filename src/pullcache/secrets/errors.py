"""Secrets Manager's domain errors; each message is the one AWS sends."""

from __future__ import annotations

MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."


class SecretNotFound(Exception):
    def __init__(self, message: str = "Secrets Manager can't find the specified secret.") -> None:
        super().__init__(message)


class SecretExists(Exception):
    """A secret of that name exists, or a version of that id exists with another value."""


class InvalidSecretParameter(ValueError):
    """A parameter's value is not allowed (InvalidParameterException)."""


class InvalidSecretRequest(Exception):
    """The request is not valid for the secret's state (InvalidRequestException)."""


class PublicPolicy(Exception):
    """BlockPublicPolicy refused a resource policy that grants broad access (PublicPolicyException)."""


class InvalidNextToken(ValueError):
    def __init__(self) -> None:
        super().__init__("The NextToken value is invalid.")
