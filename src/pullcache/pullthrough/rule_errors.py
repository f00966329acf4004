"""The errors of managing pull-through cache rules and repository creation templates, named as ECR names them.

    RuleError
      InvalidRuleParameter          InvalidParameterException: a parameter ECR refuses
      RuleValidationError           ValidationException: a combination ECR refuses
      UnsupportedUpstreamRegistry   the URL or the upstream kind is not acceptable
      RuleAlreadyExists, RuleNotFound, RuleLimitExceeded
      SecretNotFoundForRule         the credentialArn names no secret
      UnableToAccessSecret          the secret cannot be read, or does not hold credentials
      TemplateAlreadyExists, TemplateNotFound

The ECR edge (pullthrough/api/operations.py) maps each to the model's error shape. Messages are ECR's texts where
they are known (the source is named); the others are reasoned in ECR's style and say so.
"""

from __future__ import annotations

from pullcache.core.scopes import RegistryScope

# ECR's quota "Pull through cache rules per registry" (Amazon ECR service quotas): 50, not adjustable.
MAX_RULES_PER_REGISTRY = 50


class RuleError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRuleParameter(RuleError):
    pass


class RuleValidationError(RuleError):
    pass


class UnsupportedUpstreamRegistry(RuleError):
    pass


class RuleAlreadyExists(RuleError):
    def __init__(self, scope: RegistryScope, prefix: str) -> None:
        # Reasoned: ECR's wording for other resources ("... already exists in the registry with id ...").
        super().__init__(
            f"A pull through cache rule with prefix '{prefix}' already exists in the registry with id "
            f"'{scope.account_id}'"
        )
        self.scope = scope
        self.prefix = prefix


class RuleNotFound(RuleError):
    def __init__(self, scope: RegistryScope, prefix: str) -> None:
        # Reasoned, as RuleAlreadyExists.
        super().__init__(
            f"The pull through cache rule with prefix '{prefix}' does not exist in the registry with id "
            f"'{scope.account_id}'"
        )
        self.scope = scope
        self.prefix = prefix


class RuleLimitExceeded(RuleError):
    def __init__(self, scope: RegistryScope) -> None:
        # Reasoned: the quota's name and value are ECR's (service quotas page), the sentence is not.
        super().__init__(
            f"The maximum number of pull through cache rules ({MAX_RULES_PER_REGISTRY}) has been reached for the "
            f"registry with id '{scope.account_id}'"
        )


class SecretNotFoundForRule(RuleError):
    def __init__(self) -> None:
        # The documentation of SecretNotFoundException in ECR's model, which ECR sends as the message.
        super().__init__(
            "The ARN of the secret specified in the pull through cache rule was not found. Update the pull through "
            "cache rule with a valid secret ARN and try again."
        )


class UnableToAccessSecret(RuleError):
    # The documentation of UnableToAccessSecretException in ECR's model.
    DEFAULT = "The secret is unable to be accessed. Verify the resource permissions for the secret and try again."

    def __init__(self, message: str = DEFAULT) -> None:
        super().__init__(message)


class TemplateAlreadyExists(RuleError):
    def __init__(self, scope: RegistryScope, prefix: str) -> None:
        # Reasoned, in the words of the model's TemplateAlreadyExistsException.
        super().__init__(
            f"A repository creation template with prefix '{prefix}' already exists in the registry with id "
            f"'{scope.account_id}'"
        )


class TemplateNotFound(RuleError):
    def __init__(self, scope: RegistryScope, prefix: str) -> None:
        # Reasoned, in the words of the model's TemplateNotFoundException.
        super().__init__(
            f"The repository creation template with prefix '{prefix}' does not exist in the registry with id "
            f"'{scope.account_id}'"
        )
