"""Which rule covers a repository, and the upstream name a local name maps to."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pullcache.core.scopes import RegistryScope
from pullcache.pullthrough.rules import ROOT_PREFIX, PullThroughRule, match_rule

SCOPE = RegistryScope("123456789012", "us-east-1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def rule(
    prefix: str, url: str = "quay.io", kind: str | None = "quay", upstream_prefix: str | None = None
) -> PullThroughRule:
    return PullThroughRule(SCOPE, prefix, url, kind, NOW, NOW, upstream_repository_prefix=upstream_prefix)


def test_the_longest_prefix_wins() -> None:
    rules = [rule("team"), rule("team/web"), rule("other")]
    found = match_rule(rules, "team/web/app")
    assert found is not None
    assert found.prefix == "team/web"


def test_a_prefix_covers_whole_path_segments_only() -> None:
    assert match_rule([rule("team")], "teammate/app") is None
    assert match_rule([rule("team")], "team") is None


def test_root_covers_everything_no_other_rule_covers() -> None:
    rules = [rule(ROOT_PREFIX), rule("team")]
    assert match_rule(rules, "team/app") == rules[1]
    assert match_rule(rules, "anything/else") == rules[0]


@pytest.mark.parametrize(
    ("the_rule", "local", "upstream"),
    [
        (rule("quay"), "quay/coreos/etcd", "coreos/etcd"),
        (rule("hub", "registry-1.docker.io", "docker-hub"), "hub/alpine", "library/alpine"),
        (rule("hub", "registry-1.docker.io", "docker-hub"), "hub/bitnami/redis", "bitnami/redis"),
        (rule("team", upstream_prefix="mirror"), "team/app", "mirror/app"),
        (rule(ROOT_PREFIX, upstream_prefix="mirror"), "app", "mirror/app"),
        (rule(ROOT_PREFIX), "some/app", "some/app"),
    ],
)
def test_local_names_map_to_upstream_names(the_rule: PullThroughRule, local: str, upstream: str) -> None:
    assert the_rule.upstream_repository(local) == upstream


def test_the_upstream_is_https_unless_the_rule_says_http() -> None:
    assert rule("q").base_url == "https://quay.io"
    assert rule("l", "http://127.0.0.1:5000/").base_url == "http://127.0.0.1:5000"
