"""The IAM policy simulator over the wire, and the proof that it is the engine that decides real requests: the
simulator is asked first, then the same calls are made, and every decision agrees.

One server for the module; each test works on names of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from testkit.aws_clients import (
    ACCOUNT,
    ECR_FULL,
    IAM_READ_ONLY,
    cli_json,
    client,
    client_error,
    signed_by,
)
from testkit.servers import PullcacheServer

# AWS's own example (aws-cli, examples/iam/simulate-custom-policy.rst), with the answer AWS documents for it.
AWS_EXAMPLE_POLICY = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PullcacheServer]:
    running = PullcacheServer(tmp_path_factory.mktemp("simulation") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def iam(server: PullcacheServer) -> Any:
    return client(server, "iam")


def _document(*statements: dict[str, Any], indent: int | None = None) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=indent)


def _succeeds(call: Callable[[], Any]) -> bool:
    """Whether the real call is allowed: it succeeds, or fails for a reason other than being refused."""
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] not in ("AccessDenied", "AccessDeniedException")
    return True


def test_the_simulator_and_real_calls_agree_for_a_user_with_groups_a_deny_and_a_boundary(
    iam: Any, server: PullcacheServer
) -> None:
    user = iam.create_user(UserName="agreeable", PermissionsBoundary=ECR_FULL)["User"]
    iam.attach_user_policy(UserName="agreeable", PolicyArn=ECR_FULL)
    iam.create_group(GroupName="iam-readers")
    iam.attach_group_policy(GroupName="iam-readers", PolicyArn=IAM_READ_ONLY)
    iam.add_user_to_group(GroupName="iam-readers", UserName="agreeable")
    protected = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/kept"
    deny = _document({"Effect": "Deny", "Action": "ecr:DeleteRepository", "Resource": protected})
    iam.put_user_policy(UserName="agreeable", PolicyName="keep", PolicyDocument=deny)
    key = iam.create_access_key(UserName="agreeable")["AccessKey"]
    ecr, as_user = signed_by(server, "ecr", key), signed_by(server, "iam", key)
    client(server, "ecr").create_repository(repositoryName="kept")
    cases: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "ecr:CreateRepository",
            f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/made",
            lambda: ecr.create_repository(repositoryName="made"),
        ),
        ("ecr:DescribeRepositories", protected, lambda: ecr.describe_repositories(repositoryNames=["kept"])),
        ("ecr:DeleteRepository", protected, lambda: ecr.delete_repository(repositoryName="kept")),
        ("iam:ListUsers", f"arn:aws:iam::{ACCOUNT}:user/", as_user.list_users),  # the group's, but the boundary
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/new", lambda: as_user.create_user(UserName="new")),
    ]

    simulated = {
        (result["EvalActionName"], result["EvalResourceName"]): result
        for action, resource, _ in cases
        for result in iam.simulate_principal_policy(
            PolicySourceArn=user["Arn"], ActionNames=[action], ResourceArns=[resource]
        )["EvaluationResults"]
    }
    decisions = {action: simulated[(action, resource)]["EvalDecision"] for action, resource, _ in cases}
    real = {action: _succeeds(call) for action, _, call in cases}

    assert decisions == {
        "ecr:CreateRepository": "allowed",
        "ecr:DescribeRepositories": "allowed",
        "ecr:DeleteRepository": "explicitDeny",
        "iam:ListUsers": "implicitDeny",
        "iam:CreateUser": "implicitDeny",
    }
    assert real == {action: decision == "allowed" for action, decision in decisions.items()}
    listed = simulated[("iam:ListUsers", f"arn:aws:iam::{ACCOUNT}:user/")]
    assert listed["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    denied = simulated[("ecr:DeleteRepository", protected)]
    assert [(s["SourcePolicyId"], s["SourcePolicyType"]) for s in denied["MatchedStatements"]] == [("keep", "user")]
    allowed = simulated[("ecr:CreateRepository", f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/made")]
    assert [(s["SourcePolicyId"], s["SourcePolicyType"]) for s in allowed["MatchedStatements"]] == [
        (ECR_FULL, "aws-managed")
    ]


def test_the_simulator_and_assume_role_agree_on_a_trust_policy(iam: Any, server: PullcacheServer) -> None:
    trust = _document({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="simulated-trust", AssumeRolePolicyDocument=trust)["Role"]
    outcomes = {}
    for name, allowed in (("with-allow", True), ("without-allow", False)):
        user = iam.create_user(UserName=name)["User"]
        if allowed:
            allow = _document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]})
            iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=allow)
        sts = signed_by(server, "sts", iam.create_access_key(UserName=name)["AccessKey"])
        (result,) = iam.simulate_principal_policy(
            PolicySourceArn=user["Arn"],
            ActionNames=["sts:AssumeRole"],
            ResourceArns=[role["Arn"]],
            ResourcePolicy=trust,
        )["EvaluationResults"]
        real = _succeeds(partial(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="sim"))
        outcomes[name] = (result["EvalDecision"], real)

    assert outcomes == {"with-allow": ("allowed", True), "without-allow": ("implicitDeny", False)}


def test_simulate_custom_policy_answers_awss_example_as_aws_documents_it(iam: Any) -> None:
    entry = {
        "ContextKeyName": "aws:CurrentTime",
        "ContextKeyValues": ["2019-04-25T11:00:00Z"],
        "ContextKeyType": "date",
    }

    answer = iam.simulate_custom_policy(
        PolicyInputList=[AWS_EXAMPLE_POLICY], ActionNames=["dynamodb:CreateBackup"], ContextEntries=[entry]
    )

    assert answer["EvaluationResults"] == [
        {
            "EvalActionName": "dynamodb:CreateBackup",
            "EvalResourceName": "*",
            "EvalDecision": "allowed",
            "MatchedStatements": [
                {
                    "SourcePolicyId": "PolicyInputList.1",
                    "StartPosition": {"Line": 1, "Column": 38},
                    "EndPosition": {"Line": 1, "Column": 167},
                }
            ],
            "MissingContextValues": [],
        }
    ]
    assert answer["IsTruncated"] is False


def test_the_aws_cli_simulates_with_context_entries_and_names_missing_keys(server: PullcacheServer) -> None:
    early = cli_json(
        server,
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        AWS_EXAMPLE_POLICY,
        "--action-names",
        "dynamodb:CreateBackup",
        "--context-entries",
        "ContextKeyName='aws:CurrentTime',ContextKeyValues='2014-04-25T11:00:00Z',ContextKeyType=date",
    )
    unknown = cli_json(
        server,
        "iam",
        "simulate-custom-policy",
        "--policy-input-list",
        AWS_EXAMPLE_POLICY,
        "--action-names",
        "dynamodb:CreateBackup",
    )

    assert [(r["EvalDecision"], r["MatchedStatements"]) for r in early["EvaluationResults"]] == [("implicitDeny", [])]
    assert [r["MissingContextValues"] for r in unknown["EvaluationResults"]] == [["aws:CurrentTime"]]


def test_a_permissions_boundary_input_caps_the_custom_policies(iam: Any) -> None:
    everything = _document({"Effect": "Allow", "Action": "*", "Resource": "*"}, indent=2)
    pull_only = _document({"Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"})

    results = iam.simulate_custom_policy(
        PolicyInputList=[everything],
        PermissionsBoundaryPolicyInputList=[pull_only],
        ActionNames=["ecr:BatchGetImage", "ecr:PutImage"],
    )["EvaluationResults"]

    assert [(r["EvalDecision"], r["PermissionsBoundaryDecisionDetail"]) for r in results] == [
        ("allowed", {"AllowedByPermissionsBoundary": True}),
        ("implicitDeny", {"AllowedByPermissionsBoundary": False}),
    ]
    assert results[0]["MatchedStatements"][0]["StartPosition"] == {"Line": 4, "Column": 6}  # indented text


def test_results_are_paged_by_marker_and_max_items(iam: Any) -> None:
    actions = [f"ecr:Action{number}" for number in range(5)]
    policy = _document({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"})

    first = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=actions, MaxItems=2)
    pages = iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[policy], ActionNames=actions, PaginationConfig={"PageSize": 2}
    )

    assert (len(first["EvaluationResults"]), first["IsTruncated"]) == (2, True)
    assert first["Marker"]
    walked = [result["EvalActionName"] for page in pages for result in page["EvaluationResults"]]
    assert walked == actions


def test_resource_specific_results_come_with_named_resources(iam: Any) -> None:
    repository = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"
    policy = _document({"Effect": "Allow", "Action": "ecr:*", "Resource": repository})

    (result,) = iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["ecr:PutImage"], ResourceArns=[repository]
    )["EvaluationResults"]

    assert result["EvalResourceName"] == repository
    assert result["EvalDecisionDetails"] == {}
    assert [(r["EvalResourceName"], r["EvalResourceDecision"]) for r in result["ResourceSpecificResults"]] == [
        (repository, "allowed")
    ]


def test_simulator_errors_have_iams_codes(iam: Any) -> None:
    policy = _document({"Effect": "Allow", "Action": "*", "Resource": "*"})

    assert client_error(
        lambda: iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", ActionNames=["s3:GetObject"]
        )
    ) == (400, "InvalidInput", f"Invalid Entity Arn: arn:aws:sts::{ACCOUNT}:assumed-role/r/s")
    assert client_error(
        lambda: iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody", ActionNames=["s3:GetObject"]
        )
    ) == (404, "NoSuchEntity", "The user with name nobody cannot be found.")
    assert client_error(
        lambda: iam.simulate_custom_policy(
            PolicyInputList=[policy], ActionNames=["kms:Decrypt"], ResourceArns=["14a050d4-021e-4efe-84bb"]
        )
    ) == (400, "InvalidInput", "ResourceNames are not in a valid ARN format: 14a050d4-021e-4efe-84bb.")
    assert client_error(
        lambda: iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:GetObject"], ResourceOwner="me")
    ) == (400, "InvalidInput", "'me' is not a valid as a Resource Owner.")


def test_simulating_needs_the_simulate_permissions(iam: Any, server: PullcacheServer) -> None:
    target = iam.create_user(UserName="simulated")["User"]
    iam.create_user(UserName="curious")
    curious = signed_by(server, "iam", iam.create_access_key(UserName="curious")["AccessKey"])
    reader = iam.create_user(UserName="simulating-reader")["User"]
    iam.attach_user_policy(UserName=reader["UserName"], PolicyArn=IAM_READ_ONLY)
    simulator = signed_by(server, "iam", iam.create_access_key(UserName="simulating-reader")["AccessKey"])

    status, code, message = client_error(
        lambda: curious.simulate_principal_policy(PolicySourceArn=target["Arn"], ActionNames=["s3:GetObject"])
    )
    answer = simulator.simulate_principal_policy(PolicySourceArn=target["Arn"], ActionNames=["s3:GetObject"])

    assert (status, code) == (403, "AccessDenied")
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/curious is not authorized to perform: iam:SimulatePrincipalPolicy "
        f"on resource: {target['Arn']} because no identity-based policy allows the iam:SimulatePrincipalPolicy action"
    )
    assert [r["EvalDecision"] for r in answer["EvaluationResults"]] == ["implicitDeny"]
