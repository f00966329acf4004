"""The metadata schema. Alembic migrations in migrations/versions build it; a test keeps the two equal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pullcache.core.names import MAX_NAME_LENGTH


class UtcDateTime(sa.TypeDecorator[datetime]):
    """An instant, stored in UTC and read back time-zone aware on every dialect.

    SQLite has no time zones: a plain DateTime(timezone=True) drops the offset on the way in (storing local wall
    time) and returns naive values, so comparisons and round trips would disagree with PostgreSQL.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} is ambiguous; give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

# Every column that holds a repository name is this wide: the longest name core.names admits (revision 0008).
REPOSITORY_NAME_LENGTH = MAX_NAME_LENGTH

# A repository lives in one registry scope: (account_id, region). The ECR settings are stored as ECR names them
# (tag_mutability MUTABLE / IMMUTABLE / ..._WITH_EXCLUSION, encryption_type AES256 / KMS / KMS_DSSE); the exclusion
# filters are a JSON list of wildcard strings; policy is the repository policy's text as it was set.
repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(REPOSITORY_NAME_LENGTH), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("tag_mutability", sa.String(32), nullable=False),
    sa.Column("tag_mutability_filters", sa.JSON, nullable=True),
    sa.Column("scan_on_push", sa.Boolean, nullable=False),
    sa.Column("encryption_type", sa.String(16), nullable=False),
    sa.Column("kms_key", sa.String(2048), nullable=True),
    sa.Column("policy", sa.Text, nullable=True),
    sa.Column("pull_count", sa.BigInteger, nullable=False, server_default="0"),  # revision 0013
    sa.UniqueConstraint("account_id", "region", "name", name="uq_repositories_scope_name"),
)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

repository_blobs = sa.Table(
    "repository_blobs",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("digest", sa.String(200), sa.ForeignKey("blobs.digest"), primary_key=True),
    # When the blob was linked (revision 0013; null: before it). A link no manifest of the repository references is
    # collected once older than the grace period (registry/collection.py).
    sa.Column("linked_at", UtcDateTime, nullable=True),
    sa.Index("ix_repository_blobs_digest", "digest"),  # revision 0013: is a blob linked anywhere?
)

manifests = sa.Table(
    "manifests",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("artifact_type", sa.String(255), nullable=True),
    sa.Column("annotations", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),  # imagePushedAt
    sa.Column("pulled_at", UtcDateTime, nullable=True),  # lastRecordedPullTime
    # Imported by the pull-through cache (revision 0013): evictable under --cache-max-bytes; a push never is.
    sa.Column("cached", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_manifests_subject", "repository_id", "subject"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("digest", sa.String(200), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # When the upstream of a pull-through repository was last asked what the tag names (revision 0007).
    sa.Column("checked_at", UtcDateTime, nullable=True),
    sa.Index("ix_tags_digest", "repository_id", "digest"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("repository", sa.String(REPOSITORY_NAME_LENGTH), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Long-term access keys. user_id is the IAM user's unique id; NULL means the account's root user.
access_keys = sa.Table(
    "access_keys",
    metadata,
    sa.Column("access_key_id", sa.String(32), primary_key=True),
    sa.Column("secret_access_key", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Column("last_used_service", sa.String(64), nullable=True),
    sa.Column("last_used_region", sa.String(32), nullable=True),
    sa.Index("ix_access_keys_owner", "account_id", "user_id"),
)

# -- IAM (revision 0003) ---------------------------------------------------------------------------------------
# IAM is global: every row belongs to an account, none to a region. Names are unique per account ignoring case
# (`name_key` is the lower-cased name); `id` is the entity's unique id (AIDA..., AGPA..., AROA..., ANPA...).
# Inline policies, attachments and tags belong to a user, group or role (or a tag to a managed policy) by that id.
# Attachment and permissions-boundary counts are not stored: they are counted from the rows that make them.

iam_users = sa.Table(
    "iam_users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("name_key", sa.String(128), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(2048), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("permissions_boundary_arn", sa.String(2048), nullable=True),
    sa.Index("ix_iam_users_name", "account_id", "name_key", unique=True),
)

iam_groups = sa.Table(
    "iam_groups",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("name_key", sa.String(128), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(2048), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_iam_groups_name", "account_id", "name_key", unique=True),
)

iam_group_members = sa.Table(
    "iam_group_members",
    metadata,
    sa.Column("group_id", sa.String(32), sa.ForeignKey("iam_groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.String(32), sa.ForeignKey("iam_users.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_iam_group_members_user", "user_id"),
)

iam_roles = sa.Table(
    "iam_roles",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("name_key", sa.String(64), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(2048), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("assume_role_policy", sa.Text, nullable=False),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("max_session_duration", sa.Integer, nullable=False),
    sa.Column("permissions_boundary_arn", sa.String(2048), nullable=True),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Column("last_used_region", sa.String(32), nullable=True),
    sa.Index("ix_iam_roles_name", "account_id", "name_key", unique=True),
    sa.Index("ix_iam_roles_arn", "arn"),
)

iam_policies = sa.Table(
    "iam_policies",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("name_key", sa.String(128), nullable=False),
    sa.Column("path", sa.String(512), nullable=False),
    sa.Column("arn", sa.String(2048), nullable=False),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("default_version_id", sa.String(32), nullable=False),
    sa.Column("last_version_number", sa.Integer, nullable=False),  # version ids are never reused
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_iam_policies_name", "account_id", "name_key", unique=True),
    sa.Index("ix_iam_policies_arn", "arn", unique=True),
)

iam_policy_versions = sa.Table(
    "iam_policy_versions",
    metadata,
    sa.Column("policy_id", sa.String(32), sa.ForeignKey("iam_policies.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version_id", sa.String(32), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# entity_type: "user", "group" or "role"; entity_id: that entity's unique id.
iam_inline_policies = sa.Table(
    "iam_inline_policies",
    metadata,
    sa.Column("entity_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("entity_type", sa.String(8), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)

# policy_arn names a customer managed policy of the account or an AWS managed one (arn:aws:iam::aws:policy/...).
iam_attachments = sa.Table(
    "iam_attachments",
    metadata,
    sa.Column("entity_id", sa.String(32), primary_key=True),
    sa.Column("policy_arn", sa.String(2048), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("entity_type", sa.String(8), nullable=False),
    sa.Column("attached_at", UtcDateTime, nullable=False),
    sa.Index("ix_iam_attachments_policy", "account_id", "policy_arn"),
)

# Tags of users, roles and managed policies; keys are unique per entity ignoring case (key_folded).
iam_tags = sa.Table(
    "iam_tags",
    metadata,
    sa.Column("entity_id", sa.String(32), primary_key=True),
    sa.Column("key_folded", sa.String(128), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("value", sa.String(256), nullable=False),
)

# -- registry scopes and ECR (revision 0004) ------------------------------------------------------------------

# A repository's resource tags (TagResource), in the order they were first set.
repository_tags = sa.Table(
    "repository_tags",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
)

# The registry policy of each registry (PutRegistryPolicy).
registry_policies = sa.Table(
    "registry_policies",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Secret keys the server signs with (registry tokens, download URLs), created on first start; every worker
# reads them once at start, so verifying a signature needs no database round trip.
signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# -- STS (revision 0005) --------------------------------------------------------------------------------------
# The temporary credentials of role sessions (AssumeRole), by their access key id (ASIA...). account_id is the
# role's account; role_arn the role's ARN when it was assumed, role_id its unique id. The session's policies and
# tags are kept as requested (policy_arns: JSON list of ARNs; tags: JSON list of [key, value]). A row outlives
# its session by a day (see sts/service.py), so expired credentials are told apart from unknown ones.
sts_sessions = sa.Table(
    "sts_sessions",
    metadata,
    sa.Column("access_key_id", sa.String(32), primary_key=True),
    sa.Column("secret_access_key", sa.String(64), nullable=False),
    sa.Column("session_token", sa.Text, nullable=False),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role_id", sa.String(32), nullable=False),
    sa.Column("role_arn", sa.String(2048), nullable=False),
    sa.Column("session_name", sa.String(64), nullable=False),
    sa.Column("caller_arn", sa.String(2048), nullable=False),
    sa.Column("session_policy", sa.Text, nullable=True),
    sa.Column("policy_arns", sa.JSON, nullable=True),
    sa.Column("tags", sa.JSON, nullable=True),
    sa.Column("transitive_tag_keys", sa.JSON, nullable=True),
    sa.Column("source_identity", sa.String(256), nullable=True),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index("ix_sts_sessions_expires", "expires_at"),
)

# GetSessionToken's sessions (revision 0009): they sign for an IAM user (user_id) or the root user (user_id null).
sts_user_sessions = sa.Table(
    "sts_user_sessions",
    metadata,
    sa.Column("access_key_id", sa.String(32), primary_key=True),
    sa.Column("secret_access_key", sa.String(64), nullable=False),
    sa.Column("session_token", sa.Text, nullable=False),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_arn", sa.String(2048), nullable=False),
    sa.Column("user_id", sa.String(32), nullable=True),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index("ix_sts_user_sessions_expires", "expires_at"),
)

# -- Secrets Manager (revision 0006) --------------------------------------------------------------------------
# Secrets belong to an account in a region; names are unique there. tags: JSON list of [key, value]. deleted_at
# and deletion_date are set while a secret waits out its recovery window (DeleteSecret).
secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("arn", sa.String(2048), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("tags", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_changed_at", UtcDateTime, nullable=False),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.Column("deletion_date", UtcDateTime, nullable=True),
    sa.Column("resource_policy", sa.Text, nullable=True),  # revision 0009: the secret's resource-based policy
    sa.UniqueConstraint("account_id", "region", "name", name="uq_secrets_name"),
)

# A secret's versions. sealed is the value encrypted with AES-GCM (see secrets/cipher.py), never the value;
# stages: JSON list of staging labels (AWSCURRENT, AWSPREVIOUS, ...).
secret_versions = sa.Table(
    "secret_versions",
    metadata,
    sa.Column("secret_arn", sa.String(2048), sa.ForeignKey("secrets.arn", ondelete="CASCADE"), primary_key=True),
    sa.Column("version_id", sa.String(64), primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("stages", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# -- The pull-through cache and the service-linked role (revision 0007) ----------------------------------------
# A rule per (account, region, prefix). upstream_registry is ECR's kind (quay, docker-hub, ...), NULL for any other
# OCI registry; tag_ttl_seconds: how long a cached tag is served before the upstream is asked again.
pull_through_rules = sa.Table(
    "pull_through_rules",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("prefix", sa.String(256), primary_key=True),
    sa.Column("upstream_url", sa.String(2048), nullable=False),
    sa.Column("upstream_registry", sa.String(64), nullable=True),
    sa.Column("credential_arn", sa.String(2048), nullable=True),
    sa.Column("custom_role_arn", sa.String(2048), nullable=True),
    sa.Column("upstream_repository_prefix", sa.String(256), nullable=True),
    sa.Column("tag_ttl_seconds", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("upstream_role_arn", sa.String(2048), nullable=True),  # revision 0011: ecr-public-premium
)

# Imports running now, as the service-linked role: while one is, the role is in use and cannot be deleted.
pull_through_imports = sa.Table(
    "pull_through_imports",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("repository", sa.String(REPOSITORY_NAME_LENGTH), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Index("ix_pull_through_imports_account", "account_id", "started_at"),
)

# Repository creation templates: what a repository created on the fly gets. applied_for: JSON list
# (PULL_THROUGH_CACHE, REPLICATION, CREATE_ON_PUSH); resource_tags: JSON list of [key, value].
repository_creation_templates = sa.Table(
    "repository_creation_templates",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("prefix", sa.String(256), primary_key=True),
    sa.Column("description", sa.String(256), nullable=True),
    sa.Column("encryption_type", sa.String(16), nullable=False),
    sa.Column("kms_key", sa.String(2048), nullable=True),
    sa.Column("resource_tags", sa.JSON, nullable=True),
    sa.Column("tag_mutability", sa.String(32), nullable=False),
    sa.Column("tag_mutability_filters", sa.JSON, nullable=True),
    sa.Column("repository_policy", sa.Text, nullable=True),
    sa.Column("lifecycle_policy", sa.Text, nullable=True),
    sa.Column("applied_for", sa.JSON, nullable=False),
    sa.Column("custom_role_arn", sa.String(2048), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Lifecycle policies of repositories (the text as it was set).
lifecycle_policies = sa.Table(
    "lifecycle_policies",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# -- ECR replication (revision 0010) --------------------------------------------------------------------------
# A registry's replication configuration: rules is a JSON list of {"destinations": [{"region", "registryId"}],
# "repositoryFilters": [{"filter", "filterType"}], "deleteReplication": bool (when given)}, as ECR spells them.
replication_configurations = sa.Table(
    "replication_configurations",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# One image's replication to one destination (DescribeImageReplicationStatus); those IN_PROGRESS are the work a
# restart resumes (ecr/replicator.py). status: IN_PROGRESS, COMPLETE, FAILED; tag: the tag pushed with the image.
image_replications = sa.Table(
    "image_replications",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("repository", sa.String(REPOSITORY_NAME_LENGTH), primary_key=True),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("destination_account_id", sa.String(12), primary_key=True),
    sa.Column("destination_region", sa.String(32), primary_key=True),
    sa.Column("tag", sa.String(300), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_image_replications_status", "status"),
)

# DeleteServiceLinkedRole's tasks. status: NOT_STARTED, IN_PROGRESS, SUCCEEDED, FAILED; usage: JSON list of
# {"region": ..., "resources": [...]} when it failed because the role is in use.
iam_role_deletion_tasks = sa.Table(
    "iam_role_deletion_tasks",
    metadata,
    sa.Column("id", sa.String(1024), primary_key=True),
    sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role_name", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("usage", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# -- ECR registry settings and lifecycle policy previews (revision 0012) --------------------------------------

# A repository's latest lifecycle policy preview. status: IN_PROGRESS, COMPLETE, FAILED; results: JSON list of
# {"digest", "tags", "pushed_at" (ISO 8601), "rule_priority", "action"}, null while in progress.
lifecycle_policy_previews = sa.Table(
    "lifecycle_policy_previews",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("results", sa.JSON, nullable=True),
)

# A registry's scanning configuration (PutRegistryScanningConfiguration): rules is a JSON list of
# {"scanFrequency", "repositoryFilters": [filter, ...]} (every filter of type WILDCARD).
registry_scanning_configurations = sa.Table(
    "registry_scanning_configurations",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("scan_type", sa.String(16), nullable=False),
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# ECR's account settings (PutAccountSetting), per registry scope.
ecr_account_settings = sa.Table(
    "ecr_account_settings",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# The principals whose pulls do not update pull times (RegisterPullTimeUpdateExclusion), per registry scope.
pull_time_update_exclusions = sa.Table(
    "pull_time_update_exclusions",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("principal_arn", sa.String(200), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
