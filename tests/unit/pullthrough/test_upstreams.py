"""Which upstream a rule's URL names, and which credentials each kind takes."""

from __future__ import annotations

import pytest

from pullcache.pullthrough.rule_errors import InvalidRuleParameter, UnsupportedUpstreamRegistry
from pullcache.pullthrough.upstreams import check_credentials, parse_upstream

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"
ROLE = "arn:aws:iam::123456789012:role/puller"
UPSTREAM_ROLE = "arn:aws:iam::111122223333:role/premium-reader"
PREMIUM = "ecr-premium.aws.com"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("public.ecr.aws", "ecr-public"),
        ("ecr-premium.aws.com", "ecr-public-premium"),
        ("registry.k8s.io", "k8s"),
        ("quay.io", "quay"),
        ("registry-1.docker.io", "docker-hub"),
        ("ghcr.io", "github-container-registry"),
        ("registry.gitlab.com", "gitlab-container-registry"),
        ("myregistry.azurecr.io", "azure-container-registry"),
        ("cgr.dev", "chainguard"),
        ("111122223333.dkr.ecr.eu-west-1.amazonaws.com", "ecr"),
        ("https://quay.io", "quay"),
        ("Quay.IO", "quay"),
    ],
)
def test_each_ecr_upstream_url_names_its_kind(url: str, kind: str) -> None:
    assert parse_upstream(url, None).registry == kind


@pytest.mark.parametrize(
    "url", ["harbor.example.com", "registry.example.com:5000", "http://127.0.0.1:5000", "http://quay.io", "[::1]:5000"]
)
def test_any_other_registry_is_accepted_without_a_kind(url: str) -> None:
    upstream = parse_upstream(url, None)

    assert upstream.registry is None
    assert upstream.url == url


def test_the_url_is_reported_as_given_without_a_trailing_slash() -> None:
    assert parse_upstream("http://127.0.0.1:5000/", None).url == "http://127.0.0.1:5000"
    assert parse_upstream("quay.io/", None).url == "quay.io"


@pytest.mark.parametrize(
    "url",
    ["", "ftp://quay.io", "https://quay.io/some/path", "https://user@quay.io", "quay.io?x=1", "not a host", "-bad.io"],
)
def test_a_url_that_is_not_a_registry_host_is_unsupported(url: str) -> None:
    with pytest.raises(UnsupportedUpstreamRegistry, match=r"is invalid\. Specify a valid upstream registry URL"):
        parse_upstream(url, None)


def test_a_declared_kind_must_agree_with_the_url() -> None:
    assert parse_upstream("ghcr.io", "github-container-registry").registry == "github-container-registry"
    with pytest.raises(UnsupportedUpstreamRegistry):
        parse_upstream("ghcr.io", "quay")
    with pytest.raises(UnsupportedUpstreamRegistry):
        parse_upstream("harbor.example.com", "docker-hub")


@pytest.mark.parametrize("url", ["registry-1.docker.io", "ghcr.io", "registry.gitlab.com", "x.azurecr.io", "cgr.dev"])
def test_authenticated_kinds_require_a_secret(url: str) -> None:
    upstream = parse_upstream(url, None)

    check_credentials(upstream, SECRET, None)
    with pytest.raises(UnsupportedUpstreamRegistry, match=r"requires authentication\. Specify a valid Secrets Manager"):
        check_credentials(upstream, None, None)


@pytest.mark.parametrize("url", ["public.ecr.aws", "registry.k8s.io", "quay.io"])
def test_public_kinds_take_no_secret(url: str) -> None:
    upstream = parse_upstream(url, None)

    check_credentials(upstream, None, None)
    with pytest.raises(UnsupportedUpstreamRegistry):
        check_credentials(upstream, SECRET, None)


def test_an_ecr_upstream_takes_a_role_and_no_secret() -> None:
    upstream = parse_upstream("111122223333.dkr.ecr.us-east-1.amazonaws.com", None)

    check_credentials(upstream, None, ROLE)
    for secret, role in ((None, None), (SECRET, ROLE)):
        with pytest.raises(UnsupportedUpstreamRegistry):
            check_credentials(upstream, secret, role)


def test_another_registry_takes_a_secret_or_none_but_no_role() -> None:
    upstream = parse_upstream("http://127.0.0.1:5000", None)

    check_credentials(upstream, None, None)
    check_credentials(upstream, SECRET, None)
    with pytest.raises(UnsupportedUpstreamRegistry):
        check_credentials(upstream, None, ROLE)


def test_the_premium_kind_takes_both_roles_or_neither_and_no_secret() -> None:
    upstream = parse_upstream(PREMIUM, "ecr-public-premium")

    check_credentials(upstream, None, None, None)
    check_credentials(upstream, None, ROLE, UPSTREAM_ROLE)
    with pytest.raises(InvalidRuleParameter, match=r"at 'upstreamRoleArn' .*'upstreamRoleArn requires customRoleArn'"):
        check_credentials(upstream, None, None, UPSTREAM_ROLE)
    with pytest.raises(InvalidRuleParameter, match=r"at 'customRoleArn' .*together with upstreamRoleArn"):
        check_credentials(upstream, None, ROLE, None)
    with pytest.raises(UnsupportedUpstreamRegistry, match="Secrets Manager secret"):
        check_credentials(upstream, SECRET, None, None)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws-cn:iam::111122223333:role/reader",  # another partition
        "arn:aws:iam::111122223333:user/reader",
        "arn:aws:iam::1111:role/reader",
        "not an arn",
    ],
)
def test_the_upstream_role_is_an_iam_role_of_the_aws_partition(arn: str) -> None:
    upstream = parse_upstream(PREMIUM, None)

    with pytest.raises(InvalidRuleParameter, match="must be the ARN of an IAM role in the aws partition"):
        check_credentials(upstream, None, ROLE, arn)


@pytest.mark.parametrize("url", ["111122223333.dkr.ecr.us-east-1.amazonaws.com", "quay.io", "http://127.0.0.1:5000"])
def test_only_the_premium_kind_takes_an_upstream_role(url: str) -> None:
    upstream = parse_upstream(url, None)
    role = ROLE if upstream.registry == "ecr" else None

    with pytest.raises(UnsupportedUpstreamRegistry, match="does not support authentication with an upstream IAM role"):
        check_credentials(upstream, None, role, UPSTREAM_ROLE)
