"""IAM's wire shapes: parameters read into domain values and entities written as the model's output structures.

Which members an operation shows follows IAM: a created or fetched user or role shows its tags and permissions
boundary, a listed one does not; GetRole adds RoleLastUsed (empty when never used) and MaxSessionDuration, which
CreateRole leaves out; listed policies have no Description or Tags. Policy documents go out URL-encoded, as IAM
sends them (SDKs decode them). Members set to None are left out by the protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any
from urllib.parse import quote

from pullcache.aws.wire import Params
from pullcache.iam.model import AccessKey, Group, ManagedPolicy, PolicyVersion, Role, Tag, User
from pullcache.iam.pagination import Page

PERMISSIONS_BOUNDARY_POLICY = "PermissionsBoundaryPolicy"
NOT_AVAILABLE = "N/A"  # GetAccessKeyLastUsed's service and region of a key never used


class RoleView(Enum):
    CREATED = "created"
    FETCHED = "fetched"
    LISTED = "listed"


# -- parameters -----------------------------------------------------------------------------------------------


def read_tags(params: Params) -> list[Tag]:
    return [Tag(tag["Key"], tag["Value"]) for tag in params.get("Tags", [])]


def read_page(params: Params) -> tuple[str | None, int | None]:
    """(Marker, MaxItems)."""
    return params.get("Marker"), params.get("MaxItems")


def tag_condition_keys(tags: Sequence[Tag]) -> dict[str, str | list[str]]:
    """aws:RequestTag/<key> and aws:TagKeys of a request that sets `tags`."""
    keys: dict[str, str | list[str]] = {f"aws:RequestTag/{tag.key}": tag.value for tag in tags}
    if tags:
        keys["aws:TagKeys"] = [tag.key for tag in tags]
    return keys


# -- outputs --------------------------------------------------------------------------------------------------


def policy_document(document: str) -> str:
    """A policy document as IAM sends it: URL-encoded."""
    return quote(document, safe="*")


def page_fields(page: Page[Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"IsTruncated": page.is_truncated}
    if page.marker is not None:
        fields["Marker"] = page.marker
    return fields


def tag_list(tags: Sequence[Tag]) -> list[dict[str, str]]:
    return [{"Key": tag.key, "Value": tag.value} for tag in tags]


def boundary_shape(arn: str | None) -> dict[str, str] | None:
    if arn is None:
        return None
    return {"PermissionsBoundaryType": PERMISSIONS_BOUNDARY_POLICY, "PermissionsBoundaryArn": arn}


def user_shape(user: User, *, listed: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": user.created_at,
    }
    if not listed:
        shape["PermissionsBoundary"] = boundary_shape(user.permissions_boundary_arn)
        shape["Tags"] = tag_list(user.tags) or None
    return shape


def group_shape(group: Group) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.group_id,
        "Arn": group.arn,
        "CreateDate": group.created_at,
    }


def role_shape(role: Role, view: RoleView) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created_at,
        "AssumeRolePolicyDocument": policy_document(role.assume_role_policy),
        "Description": role.description,
    }
    if view is not RoleView.CREATED:
        shape["MaxSessionDuration"] = role.max_session_duration
    if view is not RoleView.LISTED:
        shape["PermissionsBoundary"] = boundary_shape(role.permissions_boundary_arn)
        shape["Tags"] = tag_list(role.tags) or None
    if view is RoleView.FETCHED:
        shape["RoleLastUsed"] = role_last_used(role)
    return shape


def role_last_used(role: Role) -> dict[str, Any]:
    if role.last_used_at is None:
        return {}
    return {"LastUsedDate": role.last_used_at, "Region": role.last_used_region}


def policy_shape(policy: ManagedPolicy, *, listed: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version_id,
        "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": policy.permissions_boundary_usage_count,
        "IsAttachable": True,
        "CreateDate": policy.created_at,
        "UpdateDate": policy.updated_at,
    }
    if not listed:
        shape["Description"] = policy.description
        shape["Tags"] = tag_list(policy.tags) or None
    return shape


def version_shape(version: PolicyVersion, *, document: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.is_default,
        "CreateDate": version.created_at,
    }
    if document:
        shape["Document"] = policy_document(version.document)
    return shape


def access_key_shape(key: AccessKey, *, secret: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "UserName": key.user_name,
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": key.created_at,
    }
    if secret:
        shape["SecretAccessKey"] = key.secret_access_key
    return shape
