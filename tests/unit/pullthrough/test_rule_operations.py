"""The pull-through edge: every rule and template error reaches the wire as an error shape of ECR's model, and the
new operations join ECR's table without clashing with its own."""

from __future__ import annotations

import inspect
from typing import Final

import pytest
from botocore.model import ServiceModel

from pullcache.aws.models import load_service_models
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.api.operations import ERROR_SHAPES as ECR_ERROR_SHAPES
from pullcache.ecr.api.operations import EcrOperationTable
from pullcache.pullthrough import rule_errors
from pullcache.pullthrough.api.operations import ERROR_SHAPES

SCOPE: Final = RegistryScope("123456789012", "us-east-1")


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return load_service_models(["ecr"]).get("ecr")


def test_every_concrete_rule_error_has_a_shape_in_ecrs_model(model: ServiceModel) -> None:
    errors = {
        cls
        for _, cls in inspect.getmembers(rule_errors, inspect.isclass)
        if issubclass(cls, rule_errors.RuleError) and cls is not rule_errors.RuleError
    }

    assert set(ERROR_SHAPES) == errors
    EcrOperationTable(model, ECR_ERROR_SHAPES | ERROR_SHAPES)  # raises for a shape the model lacks


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (rule_errors.RuleNotFound(SCOPE, "hub"), "PullThroughCacheRuleNotFoundException"),
        (rule_errors.RuleAlreadyExists(SCOPE, "hub"), "PullThroughCacheRuleAlreadyExistsException"),
        (rule_errors.RuleLimitExceeded(SCOPE), "LimitExceededException"),
        (rule_errors.SecretNotFoundForRule(), "SecretNotFoundException"),
        (rule_errors.UnableToAccessSecret(), "UnableToAccessSecretException"),
        (rule_errors.UnsupportedUpstreamRegistry("x"), "UnsupportedUpstreamRegistryException"),
        (rule_errors.TemplateNotFound(SCOPE, "hub"), "TemplateNotFoundException"),
        (rule_errors.TemplateAlreadyExists(SCOPE, "hub"), "TemplateAlreadyExistsException"),
        (rule_errors.InvalidRuleParameter("x"), "InvalidParameterException"),
    ],
)
def test_each_error_is_a_client_error_of_its_ecr_code(model: ServiceModel, error: Exception, code: str) -> None:
    reply = EcrOperationTable(model, ECR_ERROR_SHAPES | ERROR_SHAPES).find_reply(error)

    assert reply is not None
    assert (reply.http_status, reply.error_code, reply.message) == (400, code, str(error))
