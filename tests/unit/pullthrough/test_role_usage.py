"""PullThroughRoleUsage: the rules of every region keep the service-linked role in use, recent imports keep the
service busy with it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pullcache.core.scopes import RegistryScope
from pullcache.iam.model import RegionUsage, RoleUsage
from pullcache.pullthrough.role_usage import PullThroughRoleUsage
from pullcache.pullthrough.rules import PullThroughRule

ACCOUNT = "123456789012"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _rule(region: str, prefix: str, account: str = ACCOUNT) -> PullThroughRule:
    return PullThroughRule(RegistryScope(account, region), prefix, "quay.io", "quay", NOW, NOW)


class FakeRules:
    """The two questions PullThroughRoleUsage asks of a PullThroughRuleStore; the rest is not its business."""

    def __init__(self, rules: Sequence[PullThroughRule], import_starts: Sequence[datetime] = ()) -> None:
        self.rules = list(rules)
        self.import_starts = list(import_starts)
        self.asked_since: datetime | None = None

    async def list_account_rules(self, account_id: str) -> Sequence[PullThroughRule]:
        chosen = [rule for rule in self.rules if rule.scope.account_id == account_id]
        return sorted(chosen, key=lambda rule: (rule.scope.region, rule.prefix))

    async def count_imports_since(self, account_id: str, since: datetime) -> int:
        self.asked_since = since
        return sum(1 for started in self.import_starts if started > since)


def _usage(rules: FakeRules, window: timedelta = timedelta(minutes=15)) -> PullThroughRoleUsage:
    return PullThroughRoleUsage(rules, window, clock=lambda: NOW)  # type: ignore[arg-type]


async def test_an_account_without_rules_or_imports_does_not_use_the_role() -> None:
    assert (
        await _usage(FakeRules([_rule("us-east-1", "hub", account="210987654321")])).find_role_usage(ACCOUNT)
        == RoleUsage()
    )


async def test_each_region_with_rules_is_named_with_the_arns_of_its_rules_repositories() -> None:
    rules = FakeRules([_rule("us-east-1", "ROOT"), _rule("eu-west-1", "quay"), _rule("eu-west-1", "hub")])

    usage = await _usage(rules).find_role_usage(ACCOUNT)

    east, west = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository", f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository"
    assert usage == RoleUsage(
        (RegionUsage("eu-west-1", (f"{west}/hub/*", f"{west}/quay/*")), RegionUsage("us-east-1", (f"{east}/*",))),
        busy=False,
    )


async def test_an_import_within_the_window_makes_the_service_busy() -> None:
    rules = FakeRules([], import_starts=[NOW - timedelta(minutes=5)])

    usage = await _usage(rules, timedelta(minutes=15)).find_role_usage(ACCOUNT)

    assert usage == RoleUsage(busy=True)
    assert rules.asked_since == NOW - timedelta(minutes=15)


async def test_an_import_older_than_the_window_died_with_its_process() -> None:
    rules = FakeRules([], import_starts=[NOW - timedelta(minutes=20)])

    assert (await _usage(rules, timedelta(minutes=15)).find_role_usage(ACCOUNT)).busy is False
