"""Registry scopes: ECR-style hosts and repository ARNs."""

from __future__ import annotations

import pytest

from pullcache.core.scopes import RegistryScope, parse_repository_arn, scope_of_registry_host


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com", RegistryScope("123456789012", "us-east-1")),
        ("123456789012.dkr.ecr.eu-west-2.localhost:5000", RegistryScope("123456789012", "eu-west-2")),
        ("123456789012.DKR.ECR.ap-southeast-1.example.org", RegistryScope("123456789012", "ap-southeast-1")),
    ],
)
def test_an_ecr_style_host_names_its_account_and_region(host: str, expected: RegistryScope) -> None:
    assert scope_of_registry_host(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:5000",
        "localhost",
        "12345678901.dkr.ecr.us-east-1.localhost",  # 11 digits
        "123456789012.dkr.ecr.useast1.localhost",  # not a region
        "123456789012.dkr.ecr.us-east-1",  # no domain after the region
        "x123456789012.dkr.ecr.us-east-1.localhost",
    ],
)
def test_any_other_host_names_no_scope(host: str) -> None:
    assert scope_of_registry_host(host) is None


def test_a_repository_arn_names_region_account_and_the_whole_path() -> None:
    scope = RegistryScope("123456789012", "us-west-2")

    assert scope.repository_arn("team/app") == "arn:aws:ecr:us-west-2:123456789012:repository/team/app"
    assert parse_repository_arn(scope.repository_arn("team/app")) == (scope, "team/app")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:ecr:us-west-2:123456789012:repository/",
        "arn:aws:ecr:us-west-2:123456789012:registry/team",
        "arn:aws:s3:us-west-2:123456789012:repository/team",
        "arn:aws:ecr:us-west-2:1234:repository/team",
        "arn:aws:ecr::123456789012:repository/team",
        "not an arn",
    ],
)
def test_what_is_not_a_repository_arn_parses_to_nothing(arn: str) -> None:
    assert parse_repository_arn(arn) is None
