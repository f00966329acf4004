"""PublicHosts: every host it hands out leads /v2/ back to the registry it names (scope_of_registry_host)."""

from __future__ import annotations

from typing import Final

import pytest

from pullcache.core.public_hosts import PublicHosts
from pullcache.core.scopes import RegistryScope, scope_of_registry_host

DEFAULT: Final = RegistryScope("000000000000", "us-east-1")
OTHER_REGION: Final = RegistryScope("000000000000", "eu-west-1")
OTHER_ACCOUNT: Final = RegistryScope("111122223333", "us-east-1")


@pytest.mark.parametrize(
    ("hosts", "scope", "reached_at", "expected"),
    [
        (PublicHosts(DEFAULT), DEFAULT, "127.0.0.1:5000", "127.0.0.1:5000"),
        (PublicHosts(DEFAULT), OTHER_REGION, "localhost:5000", "000000000000.dkr.ecr.eu-west-1.localhost:5000"),
        (PublicHosts(DEFAULT), OTHER_ACCOUNT, "127.0.0.1:5000", "111122223333.dkr.ecr.us-east-1.127.0.0.1:5000"),
        # A call made at an ECR-form host: the same domain, the registry asked for.
        (
            PublicHosts(DEFAULT),
            OTHER_REGION,
            "000000000000.dkr.ecr.us-east-1.example.internal",
            "000000000000.dkr.ecr.eu-west-1.example.internal",
        ),
        (PublicHosts(DEFAULT, public_host="registry.example"), DEFAULT, "127.0.0.1:5000", "registry.example"),
        (
            PublicHosts(DEFAULT, public_host="registry.example"),
            OTHER_ACCOUNT,
            "127.0.0.1:5000",
            "111122223333.dkr.ecr.us-east-1.registry.example",
        ),
        (
            PublicHosts(DEFAULT, domain="example.internal"),
            DEFAULT,
            "127.0.0.1:5000",
            "000000000000.dkr.ecr.us-east-1.example.internal:5000",
        ),
        (
            PublicHosts(DEFAULT, domain="example.internal"),
            OTHER_REGION,
            "api.example.internal",
            "000000000000.dkr.ecr.eu-west-1.example.internal",
        ),
        (
            PublicHosts(DEFAULT, domain="example.internal:443"),
            OTHER_ACCOUNT,
            "127.0.0.1:5000",
            "111122223333.dkr.ecr.us-east-1.example.internal:443",
        ),
        # Both: the public host for the default registry, the domain for the others.
        (
            PublicHosts(DEFAULT, public_host="registry.example:8443", domain="example.internal"),
            OTHER_REGION,
            "127.0.0.1:5000",
            "000000000000.dkr.ecr.eu-west-1.example.internal:8443",
        ),
    ],
)
def test_a_registry_host_names_the_registry(
    hosts: PublicHosts, scope: RegistryScope, reached_at: str, expected: str
) -> None:
    host = hosts.registry_host(scope, reached_at)

    assert host == expected
    assert (scope_of_registry_host(host) or DEFAULT) == scope


def test_uris_and_urls_are_made_of_the_registry_host() -> None:
    hosts = PublicHosts(DEFAULT, domain="example.internal")

    assert (
        hosts.repository_uri(OTHER_REGION, "team/app", "h")
        == "000000000000.dkr.ecr.eu-west-1.example.internal/team/app"
    )
    assert hosts.registry_url(DEFAULT, "h:80") == "http://000000000000.dkr.ecr.us-east-1.example.internal:80"
