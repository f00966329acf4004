"""Which rule serves a runtime that uses this server as its mirror, and the local repository it serves from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.mirrors import canonical_host, docker_hub_repository, local_repository, mirror_rule
from pullcache.pullthrough.rules import ROOT_PREFIX, PullThroughRule

SCOPE = RegistryScope("123456789012", "us-east-1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def rule(prefix: str, url: str, kind: str | None = None, upstream_prefix: str | None = None) -> PullThroughRule:
    return PullThroughRule(SCOPE, prefix, url, kind, NOW, NOW, upstream_repository_prefix=upstream_prefix)


HUB = rule("hub", "registry-1.docker.io", "docker-hub")
QUAY = rule("quay", "quay.io", "quay")
LOCAL = rule("local", "http://127.0.0.1:5001")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Quay.IO", "quay.io"),
        ("https://quay.io", "quay.io"),
        ("https://quay.io/", "quay.io"),
        ("quay.io:443", "quay.io"),
        ("http://127.0.0.1:80", "127.0.0.1"),
        ("127.0.0.1:5001", "127.0.0.1:5001"),
        ("http://127.0.0.1:5001", "127.0.0.1:5001"),
        ("[::1]:5000", "[::1]:5000"),
        ("docker.io", "registry-1.docker.io"),
        ("index.docker.io", "registry-1.docker.io"),
        ("registry.hub.docker.com", "registry-1.docker.io"),
        ("registry-1.docker.io", "registry-1.docker.io"),
    ],
)
def test_a_host_is_compared_without_case_scheme_or_default_port_and_docker_hub_is_one_host(
    given: str, expected: str
) -> None:
    assert canonical_host(given) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("docker.io", HUB),
        ("index.docker.io", HUB),
        ("registry-1.docker.io", HUB),
        ("quay.io", QUAY),
        ("QUAY.io", QUAY),
        ("127.0.0.1:5001", LOCAL),
        ("127.0.0.1:5002", None),
        ("ghcr.io", None),
    ],
)
def test_the_rule_is_the_one_whose_upstream_has_the_host(host: str, expected: PullThroughRule | None) -> None:
    assert mirror_rule([HUB, QUAY, LOCAL], host, "some/repository") == expected


def test_a_rule_with_an_upstream_prefix_serves_only_the_repositories_under_it_and_wins_over_one_without() -> None:
    team = rule("team", "quay.io", "quay", upstream_prefix="mirror")
    rules = [QUAY, team]
    assert mirror_rule(rules, "quay.io", "mirror/app") == team
    assert mirror_rule(rules, "quay.io", "other/app") == QUAY
    assert mirror_rule([team], "quay.io", "other/app") is None


def test_among_rules_of_one_host_the_shortest_prefix_then_the_first_by_name_then_root_last() -> None:
    root = rule(ROOT_PREFIX, "quay.io", "quay")
    longer = rule("quay-cache", "quay.io", "quay")
    twin = rule("qa", "quay.io", "quay")
    assert mirror_rule([root, longer, QUAY], "quay.io", "a/b") == QUAY
    assert mirror_rule([QUAY, twin], "quay.io", "a/b") == twin
    assert mirror_rule([twin, QUAY], "quay.io", "a/b") == twin
    assert mirror_rule([root, longer], "quay.io", "a/b") == longer
    assert mirror_rule([root], "quay.io", "a/b") == root


@pytest.mark.parametrize(
    ("chosen", "repository", "expected"),
    [
        (HUB, "library/alpine", "hub/library/alpine"),
        (HUB, "alpine", "hub/library/alpine"),  # Docker Hub's short name, as every other way to pull it names it
        (HUB, "grafana/grafana", "hub/grafana/grafana"),
        (QUAY, "alpine", "quay/alpine"),  # only Docker Hub has library/
        (LOCAL, "team/app", "local/team/app"),
        (rule(ROOT_PREFIX, "quay.io", "quay"), "coreos/etcd", "coreos/etcd"),
        (rule("team", "quay.io", "quay", upstream_prefix="mirror"), "mirror/web/app", "team/web/app"),
        (rule(ROOT_PREFIX, "quay.io", "quay", upstream_prefix="mirror"), "mirror/app", "app"),
    ],
)
def test_the_local_repository_is_the_one_whose_upstream_name_is_the_one_asked_for(
    chosen: PullThroughRule, repository: str, expected: str
) -> None:
    served = local_repository(chosen, repository)
    assert served == expected
    # The round trip: the cache asks the upstream for the very repository the runtime named (library/ added for
    # Docker Hub's short names).
    assert chosen.upstream_repository(served) == (
        docker_hub_repository(repository) if chosen.is_docker_hub else repository
    )


def test_docker_hubs_short_names_gain_library() -> None:
    assert docker_hub_repository("alpine") == "library/alpine"
    assert docker_hub_repository("library/alpine") == "library/alpine"
    assert docker_hub_repository("grafana/grafana") == "grafana/grafana"


@pytest.mark.parametrize(
    ("chosen", "repository", "expected"),
    [
        (
            rule("hub-official", "registry-1.docker.io", "docker-hub", upstream_prefix="library"),
            "library/alpine",
            "hub-official/alpine",
        ),
        (
            rule("hub-official", "registry-1.docker.io", "docker-hub", upstream_prefix="library"),
            "alpine",
            "hub-official/alpine",
        ),
        (rule("hub-org", "registry-1.docker.io", "docker-hub", upstream_prefix="myorg"), "myorg/app", "hub-org/app"),
    ],
)
def test_a_docker_hub_rule_with_an_upstream_prefix_serves_the_very_repository_asked_for(
    chosen: PullThroughRule, repository: str, expected: str
) -> None:
    assert mirror_rule([chosen], "docker.io", repository) == chosen
    served = local_repository(chosen, repository)
    assert served == expected
    assert chosen.upstream_repository(served) == docker_hub_repository(repository)


def test_a_rule_serves_only_names_the_cache_takes_for_its_own() -> None:
    """`quay/app` is the quay rule's: a ROOT Docker Hub rule asked for Docker Hub's `quay/app` does not serve it
    (the cache would fetch it from quay.io)."""
    hub_root = rule(ROOT_PREFIX, "registry-1.docker.io", "docker-hub")
    assert mirror_rule([hub_root, QUAY], "docker.io", "quay/app") is None
    assert mirror_rule([hub_root, QUAY], "docker.io", "library/alpine") == hub_root
