"""The pull-through cache: rules, when cached tags were last checked upstream, imports in flight, repository
creation templates, lifecycle policies, and the deletion tasks of service-linked roles.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("tags") as batch:
        batch.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "pull_through_rules",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("prefix", sa.String(256), primary_key=True),
        sa.Column("upstream_url", sa.String(2048), nullable=False),
        sa.Column("upstream_registry", sa.String(64), nullable=True),
        sa.Column("credential_arn", sa.String(2048), nullable=True),
        sa.Column("custom_role_arn", sa.String(2048), nullable=True),
        sa.Column("upstream_repository_prefix", sa.String(256), nullable=True),
        sa.Column("tag_ttl_seconds", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pull_through_imports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_pull_through_imports_account", "account_id", "started_at"),
    )
    op.create_table(
        "repository_creation_templates",
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "lifecycle_policies",
        sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "iam_role_deletion_tasks",
        sa.Column("id", sa.String(1024), primary_key=True),
        sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role_name", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("usage", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("iam_role_deletion_tasks")
    op.drop_table("lifecycle_policies")
    op.drop_table("repository_creation_templates")
    op.drop_table("pull_through_imports")
    op.drop_table("pull_through_rules")
    with op.batch_alter_table("tags") as batch:
        batch.drop_column("checked_at")
