"""The pull-through cache rule operations handle every member ECR's model gives their requests and responses.

A newer botocore whose model adds a member to one of these shapes fails here until pullcache handles it (and names
it in pullthrough/api/rule_shapes.py): no field a client sends is dropped, none it expects left out, silently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import pytest
from botocore.model import ListShape, ServiceModel, StructureShape

from pullcache.aws.models import load_service_models
from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.api.rule_shapes import REQUEST_MEMBERS, RESPONSE_MEMBERS, RULE_FIELDS, rule_shape
from pullcache.pullthrough.rules import PullThroughRule

RULE_OPERATIONS: Final = (
    "CreatePullThroughCacheRule",
    "DescribePullThroughCacheRules",
    "UpdatePullThroughCacheRule",
    "DeletePullThroughCacheRule",
    "ValidatePullThroughCacheRule",
)
NOW: Final = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return load_service_models(["ecr"]).get("ecr")


def members(shape: StructureShape | None) -> set[str]:
    return set() if shape is None else set(shape.members)


def test_the_rule_operations_are_every_pull_through_cache_rule_operation_of_the_model(model: ServiceModel) -> None:
    assert {name for name in model.operation_names if name.endswith("PullThroughCacheRule")} | {
        "DescribePullThroughCacheRules"
    } == set(RULE_OPERATIONS)
    assert set(REQUEST_MEMBERS) == set(RESPONSE_MEMBERS) == set(RULE_OPERATIONS)


@pytest.mark.parametrize("operation", RULE_OPERATIONS)
def test_every_request_member_of_the_model_is_handled(model: ServiceModel, operation: str) -> None:
    assert members(model.operation_model(operation).input_shape) == REQUEST_MEMBERS[operation]


@pytest.mark.parametrize("operation", RULE_OPERATIONS)
def test_every_response_member_of_the_model_is_written(model: ServiceModel, operation: str) -> None:
    assert members(model.operation_model(operation).output_shape) == set(RESPONSE_MEMBERS[operation])


def test_every_member_of_a_described_rule_is_written(model: ServiceModel) -> None:
    output = model.operation_model("DescribePullThroughCacheRules").output_shape
    assert output is not None
    listed = output.members["pullThroughCacheRules"]
    assert isinstance(listed, ListShape)
    assert isinstance(listed.member, StructureShape)

    assert set(listed.member.members) == set(RULE_FIELDS)


def test_a_rule_shape_carries_the_rules_values_under_the_operations_members() -> None:
    rule = PullThroughRule(
        RegistryScope("123456789012", "us-east-1"),
        "premium",
        "ecr-premium.aws.com",
        "ecr-public-premium",
        NOW,
        NOW,
        custom_role_arn="arn:aws:iam::123456789012:role/puller",
        upstream_role_arn="arn:aws:iam::111122223333:role/premium-reader",
    )

    updated = rule_shape(rule, "UpdatePullThroughCacheRule")
    validated = rule_shape(rule, "ValidatePullThroughCacheRule")

    assert updated["upstreamRoleArn"] == "arn:aws:iam::111122223333:role/premium-reader"
    assert set(updated) == set(RESPONSE_MEMBERS["UpdatePullThroughCacheRule"])
    assert set(validated) == set(RESPONSE_MEMBERS["ValidatePullThroughCacheRule"]) - {"isValid", "failure"}
    assert rule_shape(rule)["upstreamRegistry"] == "ecr-public-premium"
