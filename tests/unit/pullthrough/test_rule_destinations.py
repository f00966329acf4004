"""PullThroughRuleService and the DestinationPolicy: a rule naming a refused upstream is refused when it is created
or updated (by its URL as written, without a lookup); validation reports a connection the policy refused."""

from __future__ import annotations

import json

import pytest

from pullcache.pullthrough.destinations import DestinationPolicy
from pullcache.pullthrough.errors import UpstreamRefused
from pullcache.pullthrough.rule_errors import UnsupportedUpstreamRegistry
from pullcache.pullthrough.service import UPSTREAM_REFUSED, PullThroughRuleService, RuleRequest
from tests.unit.pullthrough.test_rule_service import (
    NOW,
    SCOPE,
    SECRET_ARN,
    TOKEN,
    FakeRoles,
    FakeSecrets,
    FakeUpstream,
    MemoryRules,
)


async def allow() -> None:
    pass


def service(policy: DestinationPolicy | None = None, store: MemoryRules | None = None) -> PullThroughRuleService:
    secrets = FakeSecrets()
    secrets.values[SECRET_ARN] = json.dumps({"username": "puller", "accessToken": TOKEN})
    return PullThroughRuleService(
        store or MemoryRules(), secrets, FakeUpstream(), FakeRoles(), clock=lambda: NOW, destinations=policy
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254",
        "169.254.169.254:80",
        "http://[fe80::1]:5000",
        "https://[fd00:ec2::254]",
        "http://2852039166",  # 169.254.169.254 as one number
    ],
)
async def test_a_rule_to_a_link_local_address_is_refused_by_default(url: str) -> None:
    rules = service()

    with pytest.raises(UnsupportedUpstreamRegistry, match="not an allowed destination"):
        await rules.create_rule(SCOPE, RuleRequest("meta", url), allow)

    assert await rules.describe_rules(SCOPE, None, None, None) == ([], None)


async def test_a_rule_to_a_denied_address_or_name_is_refused() -> None:
    rules = service(DestinationPolicy(deny=["127.0.0.2/32", "internal.example"]))

    for url in ("http://127.0.0.2:5000", "https://internal.example", "internal.example:443"):
        with pytest.raises(UnsupportedUpstreamRegistry, match="not an allowed destination"):
            await rules.create_rule(SCOPE, RuleRequest("p", url), allow)
    created = await rules.create_rule(SCOPE, RuleRequest("p", "http://127.0.0.1:5000"), allow)

    assert created.upstream_url == "http://127.0.0.1:5000"


async def test_a_name_is_not_looked_up_at_creation() -> None:
    """`localhost` resolves to a loopback address outside the allow list: only a connection can tell."""
    rules = service(DestinationPolicy(allow=["127.0.0.2/32"]))

    with pytest.raises(UnsupportedUpstreamRegistry):
        await rules.create_rule(SCOPE, RuleRequest("one", "http://127.0.0.1:5000"), allow)
    created = await rules.create_rule(SCOPE, RuleRequest("named", "http://localhost:5000"), allow)

    assert created.upstream_url == "http://localhost:5000"


async def test_an_update_of_a_rule_the_policy_now_refuses_is_refused() -> None:
    store = MemoryRules()
    await service(store=store).create_rule(SCOPE, RuleRequest("lab", "http://127.0.0.2:5000"), allow)
    tightened = service(DestinationPolicy(deny=["127.0.0.0/8"]), store)

    with pytest.raises(UnsupportedUpstreamRegistry, match="not an allowed destination"):
        await tightened.update_rule(SCOPE, "lab", SECRET_ARN, None)

    assert (await tightened.get_rule(SCOPE, "lab")).credential_arn is None


async def test_validation_reports_a_refused_connection() -> None:
    upstream = FakeUpstream(failure=UpstreamRefused("the upstream destination registry.example is refused"))
    validating = PullThroughRuleService(MemoryRules(), FakeSecrets(), upstream, FakeRoles(), clock=lambda: NOW)
    await validating.create_rule(SCOPE, RuleRequest("lab", "http://registry.example"), allow)

    validation = await validating.validate_rule(SCOPE, "lab")

    assert (validation.is_valid, validation.failure) == (False, UPSTREAM_REFUSED)
