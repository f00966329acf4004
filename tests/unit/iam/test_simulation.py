"""The policy simulator's decisions: the engine's, with the statements they rest on and the keys they miss."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pullcache.iam.errors import InvalidInput
from pullcache.iam.simulation import InputPolicy, MatchedStatement, Simulation, simulate
from pullcache.iam.statement_positions import Position
from pullcache.policy import EvalDecision, MalformedPolicyDocument, PolicySourceType, RequestPrincipal

ACCOUNT = "111122223333"
OTHER = "444455556666"
ALICE = RequestPrincipal.user(f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAALICEEXAMPLE")
BOB = RequestPrincipal.user(f"arn:aws:iam::{OTHER}:user/bob", "AIDABOBEXAMPLE")
REPOSITORY = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def inputs(*texts: str) -> list[InputPolicy]:
    return [InputPolicy(text, f"PolicyInputList.{number}") for number, text in enumerate(texts, 1)]


def test_each_action_is_decided_for_each_resource_actions_first() -> None:
    simulation = Simulation(ALICE, inputs(document(allow("ecr:BatchGetImage", REPOSITORY))))

    results = simulate(simulation, ["ecr:BatchGetImage", "ecr:PutImage"], [REPOSITORY, "*"])

    assert [(r.action, r.resource, r.decision) for r in results] == [
        ("ecr:BatchGetImage", REPOSITORY, EvalDecision.ALLOWED),
        ("ecr:BatchGetImage", "*", EvalDecision.IMPLICIT_DENY),
        ("ecr:PutImage", REPOSITORY, EvalDecision.IMPLICIT_DENY),
        ("ecr:PutImage", "*", EvalDecision.IMPLICIT_DENY),
    ]


def test_without_resources_the_resource_is_everything() -> None:
    results = simulate(Simulation(ALICE, inputs(document(allow("ecr:*")))), ["ecr:PutImage"], [])

    assert [(r.resource, r.decision) for r in results] == [("*", EvalDecision.ALLOWED)]


def test_an_allow_names_its_statements_with_positions_an_implicit_deny_none() -> None:
    text = document(allow("ecr:BatchGetImage"), allow("ecr:*"))
    simulation = Simulation(ALICE, [InputPolicy(text, "pull", PolicySourceType.USER)])

    allowed, denied = simulate(simulation, ["ecr:BatchGetImage", "s3:GetObject"], [])

    first = text.index('{"Effect"')
    second = text.index('{"Effect"', first + 1)
    first_end, second_end = text.rindex("}", 0, second), text.rindex("}", 0, len(text) - 2)
    assert allowed.matched_statements == (  # columns just past each brace, counted from 1
        MatchedStatement("pull", PolicySourceType.USER, Position(1, first + 2), Position(1, first_end + 2)),
        MatchedStatement("pull", PolicySourceType.USER, Position(1, second + 2), Position(1, second_end + 2)),
    )
    assert (denied.decision, denied.matched_statements) == (EvalDecision.IMPLICIT_DENY, ())


def test_an_explicit_deny_names_only_the_deny_statements() -> None:
    policies = inputs(document(allow("*")), document(deny("ecr:PutImage", REPOSITORY)))

    (result,) = simulate(Simulation(ALICE, policies), ["ecr:PutImage"], [REPOSITORY])

    assert result.decision is EvalDecision.EXPLICIT_DENY
    assert [m.source_id for m in result.matched_statements] == ["PolicyInputList.2"]


def test_a_permissions_boundary_caps_the_identity_policies_and_says_so() -> None:
    simulation = Simulation(
        ALICE,
        inputs(document(allow("*"))),
        permissions_boundary=InputPolicy(document(allow("ecr:BatchGetImage")), "PermissionsBoundaryPolicyInputList.1"),
    )

    pull, push = simulate(simulation, ["ecr:BatchGetImage", "ecr:PutImage"], [])

    assert (pull.decision, pull.allowed_by_permissions_boundary) == (EvalDecision.ALLOWED, True)
    assert (push.decision, push.allowed_by_permissions_boundary) == (EvalDecision.IMPLICIT_DENY, False)
    assert (
        simulate(Simulation(ALICE, inputs(document(allow("*")))), ["ecr:PutImage"], [])[
            0
        ].allowed_by_permissions_boundary
        is None
    )


def test_context_entries_decide_conditions_and_missing_keys_are_listed() -> None:
    text = document(allow("dynamodb:*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2018-08-16T12:00:00Z"}}))
    late = Simulation(ALICE, inputs(text), keys={"aws:CurrentTime": "2019-04-25T11:00:00Z"})
    early = Simulation(ALICE, inputs(text), keys={"aws:CurrentTime": "2014-04-25T11:00:00Z"})
    unknown = Simulation(ALICE, inputs(text))

    (allowed,) = simulate(late, ["dynamodb:CreateBackup"], [])
    (denied,) = simulate(early, ["dynamodb:CreateBackup"], [])
    (missing,) = simulate(unknown, ["dynamodb:CreateBackup"], [])

    assert (allowed.decision, allowed.missing_context_values) == (EvalDecision.ALLOWED, ())
    assert (denied.decision, denied.missing_context_values) == (EvalDecision.IMPLICIT_DENY, ())
    assert (missing.decision, missing.missing_context_values) == (EvalDecision.IMPLICIT_DENY, ("aws:CurrentTime",))


def test_keys_the_caller_supplies_and_keys_of_other_actions_are_not_missing() -> None:
    text = document(
        allow("ecr:*", Condition={"StringEquals": {"aws:username": "alice", "ecr:ResourceTag/team": "blue"}}),
        allow("s3:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    )

    (result,) = simulate(Simulation(ALICE, inputs(text)), ["ecr:PutImage"], [])

    assert result.missing_context_values == ("ecr:ResourceTag/team",)


def test_a_resource_policy_grants_another_accounts_user_only_with_its_own_allow() -> None:
    grant = InputPolicy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": BOB.arn}, "Action": "ecr:BatchGetImage"}],
            }
        ),
        "ResourcePolicy",
        PolicySourceType.RESOURCE,
    )
    with_allow = Simulation(BOB, inputs(document(allow("ecr:BatchGetImage"))), resource_policy=grant)
    without_allow = Simulation(BOB, (), resource_policy=grant)

    (allowed,) = simulate(with_allow, ["ecr:BatchGetImage"], [REPOSITORY])
    (denied,) = simulate(without_allow, ["ecr:BatchGetImage"], [REPOSITORY])

    assert (allowed.decision, allowed.cross_account) == (EvalDecision.ALLOWED, True)
    assert [m.source_type for m in allowed.matched_statements] == [PolicySourceType.NONE, PolicySourceType.RESOURCE]
    assert denied.decision is EvalDecision.IMPLICIT_DENY


def test_resource_owner_is_the_account_of_resources_whose_arn_names_none() -> None:
    simulation = Simulation(ALICE, inputs(document(allow("s3:*"))), resource_owner=OTHER)

    (bucket,) = simulate(simulation, ["s3:GetObject"], ["arn:aws:s3:::bucket/key"])
    (repository,) = simulate(simulation, ["ecr:PutImage"], [REPOSITORY])

    assert (bucket.cross_account, repository.cross_account) == (True, False)


def test_a_trust_policy_must_allow_assume_role_as_in_the_real_call() -> None:
    trust_account = InputPolicy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
            }
        ),
        "ResourcePolicy",
        PolicySourceType.RESOURCE,
    )

    (without_identity,) = simulate(Simulation(ALICE, (), resource_policy=trust_account), ["sts:AssumeRole"], [ROLE])
    (with_identity,) = simulate(
        Simulation(ALICE, inputs(document(allow("sts:AssumeRole", ROLE))), resource_policy=trust_account),
        ["sts:AssumeRole"],
        [ROLE],
    )

    assert (without_identity.decision, with_identity.decision) == (EvalDecision.IMPLICIT_DENY, EvalDecision.ALLOWED)


def test_a_resource_that_is_no_arn_is_invalid_input_with_iams_text() -> None:
    with pytest.raises(InvalidInput) as raised:
        simulate(Simulation(ALICE), ["kms:Decrypt"], ["14a050d4-021e-4efe-84bb-0871bf6d0fda"])

    assert raised.value.message == "ResourceNames are not in a valid ARN format: 14a050d4-021e-4efe-84bb-0871bf6d0fda."


def test_a_malformed_input_policy_is_malformed_policy_document() -> None:
    with pytest.raises(MalformedPolicyDocument):
        simulate(Simulation(ALICE, inputs("{nope")), ["ecr:PutImage"], [])
