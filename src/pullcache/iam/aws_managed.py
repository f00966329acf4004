"""The AWS managed policies pullcache knows: a read-only catalog shared by every account.

Each is AWS's current default version, with the id, dates, path and description IAM reports for it (ListPolicies,
GetPolicy and GetPolicyVersion as AWS answers them; the documents as the AWS managed policy reference shows them).
Accounts attach them by ARN; their attachment counts are per account and counted by the store. Only the default
version is known: ListPolicyVersions of one of these shows that version alone.

Policies under SERVICE_ROLE_POLICY_PATH belong to service-linked roles: IAM attaches them to those roles only
(permissions.py refuses attaching them to anything else).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pullcache.iam.arns import AWS_MANAGED_ACCOUNT, ROOT_PATH, policy_arn
from pullcache.iam.model import ManagedPolicy, PolicyVersion

SERVICE_ROLE_POLICY_PATH = "/aws-service-role/"
ECR_PULL_THROUGH_CACHE_POLICY_ARN = "arn:aws:iam::aws:policy/aws-service-role/AWSECRPullThroughCache_ServiceRolePolicy"


@dataclass(frozen=True, slots=True)
class AwsManagedPolicy:
    policy: ManagedPolicy  # counts zero: the catalog's entry, before any account attaches it
    version: PolicyVersion  # the default version

    @property
    def arn(self) -> str:
        return self.policy.arn


def is_service_role_policy(policy: ManagedPolicy) -> bool:
    """Whether `policy` is an AWS managed policy that only a service-linked role may have."""
    return policy.account is None and policy.path.startswith(SERVICE_ROLE_POLICY_PATH)


def _entry(
    name: str,
    policy_id: str,
    description: str,
    created: datetime,
    updated: datetime,
    version_id: str,
    statements: Sequence[Mapping[str, Any]],
    path: str = ROOT_PATH,
) -> AwsManagedPolicy:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=4)
    policy = ManagedPolicy(
        policy_id=policy_id,
        account=None,
        name=name,
        path=path,
        arn=policy_arn(AWS_MANAGED_ACCOUNT, path, name),
        default_version_id=version_id,
        created_at=created,
        updated_at=updated,
        description=description,
    )
    return AwsManagedPolicy(policy, PolicyVersion(version_id, document, updated, is_default=True))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_ECR_READ = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "ecr:GetLifecyclePolicy",
    "ecr:GetLifecyclePolicyPreview",
    "ecr:ListTagsForResource",
    "ecr:DescribeImageScanFindings",
]
_ECR_PUSH = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"]

AWS_MANAGED_POLICIES: tuple[AwsManagedPolicy, ...] = (
    _entry(
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.",
        _at("2015-02-06T18:39:46"),
        _at("2015-02-06T18:39:46"),
        "v1",
        [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    ),
    _entry(
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "Provides full access to IAM via the AWS Management Console.",
        _at("2015-02-06T18:40:38"),
        _at("2019-06-21T19:40:00"),
        "v2",
        [
            {
                "Effect": "Allow",
                "Action": [
                    "iam:*",
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                    "organizations:DescribePolicy",
                    "organizations:ListChildren",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                    "organizations:ListRoots",
                    "organizations:ListPolicies",
                    "organizations:ListTargetsForPolicy",
                ],
                "Resource": "*",
            }
        ],
    ),
    _entry(
        "IAMReadOnlyAccess",
        "ANPAJKSO7NDY4T57MWDSQ",
        "Provides read only access to IAM via the AWS Management Console.",
        _at("2015-02-06T18:40:39"),
        _at("2018-01-25T19:11:27"),
        "v4",
        [
            {
                "Effect": "Allow",
                "Action": [
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                ],
                "Resource": "*",
            }
        ],
    ),
    _entry(
        "AmazonEC2ContainerRegistryFullAccess",
        "ANPAIESRL7KD7IIVF6V4W",
        "Provides administrative access to Amazon ECR resources",
        _at("2015-12-21T17:06:48"),
        _at("2020-12-05T00:04:19"),
        "v3",
        [
            {"Effect": "Allow", "Action": ["ecr:*", "cloudtrail:LookupEvents"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["iam:CreateServiceLinkedRole"],
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": ["replication.ecr.amazonaws.com"]}},
            },
        ],
    ),
    _entry(
        "AmazonEC2ContainerRegistryPowerUser",
        "ANPAJDNE5PIHROIBGGDDW",
        "Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository "
        "deletion or policy changes.",
        _at("2015-12-21T17:05:33"),
        _at("2019-12-10T20:48:08"),
        "v3",
        [{"Effect": "Allow", "Action": [*_ECR_READ, *_ECR_PUSH], "Resource": "*"}],
    ),
    _entry(
        "AmazonEC2ContainerRegistryReadOnly",
        "ANPAIFYZPA37OOHVIH7KQ",
        "Provides read-only access to Amazon EC2 Container Registry repositories.",
        _at("2015-12-21T17:04:15"),
        _at("2019-12-10T20:56:32"),
        "v3",
        [{"Effect": "Allow", "Action": _ECR_READ, "Resource": "*"}],
    ),
    _entry(
        "AmazonEC2ContainerRegistryPullOnly",
        "ANPAZKAPJZG4ACPA6HO4Q",
        "Provides access to pull images from Amazon EC2 Container Registry repositories.",
        _at("2024-10-04T16:58:49"),
        _at("2024-10-04T16:58:49"),
        "v1",
        [
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchImportUpstreamImage",
                ],
                "Resource": "*",
            }
        ],
    ),
    # The service-linked role policy of ECR's pull through cache, at its first version (v1, 2021-11-26T21:51:09Z,
    # the document of ECR's service-linked role page, action for action). AWS has since added versions (v3 is its
    # default since 2025-03-06); pullcache keeps v1, whose UpdateDate is therefore its creation time. The policy
    # id is reasoned: AWS's was not found in public sources, so this one is pullcache's own in IAM's format.
    _entry(
        "AWSECRPullThroughCache_ServiceRolePolicy",
        "ANPAZKAPJZG4LXQ2VN7EB",
        "Enables access to AWS services and resources used or managed by AWS ECR pull through cache",
        _at("2021-11-26T21:51:09"),
        _at("2021-11-26T21:51:09"),
        "v1",
        [
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                ],
                "Resource": "*",
            }
        ],
        path=SERVICE_ROLE_POLICY_PATH,
    ),
)

_BY_ARN: Mapping[str, AwsManagedPolicy] = {entry.arn: entry for entry in AWS_MANAGED_POLICIES}


def find_aws_managed_policy(arn: str) -> AwsManagedPolicy | None:
    return _BY_ARN.get(arn)
