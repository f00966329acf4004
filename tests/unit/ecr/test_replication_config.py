"""Replication rules: which repositories a rule covers, the destinations of a repository, and what
PutReplicationConfiguration checks beyond the model (ecr/replication.py)."""

from __future__ import annotations

from typing import Final

import pytest

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter
from pullcache.ecr.replication import MAX_UNIQUE_DESTINATIONS, check_configuration
from pullcache.ecr.replication_ports import (
    ReplicationConfiguration,
    ReplicationDestination,
    ReplicationRule,
    RepositoryFilter,
)

SOURCE: Final = RegistryScope("111122223333", "us-east-1")
WEST: Final = ReplicationDestination("us-west-2", "111122223333")
OTHER_ACCOUNT: Final = ReplicationDestination("eu-west-1", "444455556666")


@pytest.mark.parametrize(
    ("prefix", "repository", "covered"),
    [
        ("prod", "prod/api", True),
        ("prod", "production", True),  # a prefix of the name, not of its path components
        ("prod", "prod", True),
        ("prod", "dev/prod", False),
        ("prod/", "production", False),
    ],
)
def test_a_prefix_filter_covers_names_that_start_with_it(prefix: str, repository: str, covered: bool) -> None:
    assert ReplicationRule((WEST,), (RepositoryFilter(prefix),)).covers(repository) is covered


def test_a_rule_without_filters_covers_every_repository() -> None:
    assert ReplicationRule((WEST,)).covers("anything/at/all")


def test_a_rule_covers_a_repository_any_of_its_filters_covers() -> None:
    rule = ReplicationRule((WEST,), (RepositoryFilter("prod"), RepositoryFilter("team/")))
    assert rule.covers("team/app")
    assert rule.covers("prod-x")
    assert not rule.covers("dev")


def test_a_repository_goes_to_each_destination_of_the_rules_covering_it_once_in_order() -> None:
    configuration = ReplicationConfiguration(
        (
            ReplicationRule((WEST,), (RepositoryFilter("prod"),)),
            ReplicationRule((OTHER_ACCOUNT, WEST)),
            ReplicationRule((ReplicationDestination("ap-south-1", "111122223333"),), (RepositoryFilter("dev"),)),
        )
    )
    assert configuration.destinations_for("prod/api") == (WEST, OTHER_ACCOUNT)
    assert configuration.destinations_for("web") == (OTHER_ACCOUNT, WEST)


def test_no_rules_no_destinations() -> None:
    assert ReplicationConfiguration().destinations_for("prod/api") == ()


def test_a_configuration_of_other_regions_and_accounts_is_accepted() -> None:
    check_configuration(SOURCE, ReplicationConfiguration((ReplicationRule((WEST, OTHER_ACCOUNT)),)))


def test_the_source_registry_is_no_destination() -> None:
    source = ReplicationDestination(SOURCE.region, SOURCE.account_id)
    with pytest.raises(InvalidParameter) as raised:
        check_configuration(SOURCE, ReplicationConfiguration((ReplicationRule((WEST, source)),)))
    assert raised.value.message.startswith(
        "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: "
    )


def test_at_most_25_unique_destinations_across_all_rules() -> None:
    destinations = tuple(
        ReplicationDestination("us-west-2", f"{account:012d}") for account in range(1, MAX_UNIQUE_DESTINATIONS + 2)
    )
    # The same 25 named in two rules are 25 destinations.
    at_limit = ReplicationConfiguration(
        (ReplicationRule(destinations[:MAX_UNIQUE_DESTINATIONS]), ReplicationRule(destinations[:3]))
    )
    check_configuration(SOURCE, at_limit)
    over = ReplicationConfiguration(
        (ReplicationRule(destinations[:20]), ReplicationRule(destinations[20:]))  # 26 in all
    )
    with pytest.raises(InvalidParameter, match="at most 25 unique destinations"):
        check_configuration(SOURCE, over)


def test_delete_replication_enabled_is_refused_rather_than_ignored() -> None:
    check_configuration(SOURCE, ReplicationConfiguration((ReplicationRule((WEST,), (), False),)))
    with pytest.raises(InvalidParameter, match="deleteReplication is not supported"):
        check_configuration(SOURCE, ReplicationConfiguration((ReplicationRule((WEST,), (), True),)))
