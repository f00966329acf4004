"""IAM: users, groups, roles, managed and inline policies, attachments, tags.

Revision ID: 0003
Revises: 0002
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

_TABLES = (
    "iam_tags",
    "iam_attachments",
    "iam_inline_policies",
    "iam_policy_versions",
    "iam_policies",
    "iam_roles",
    "iam_group_members",
    "iam_groups",
    "iam_users",
)


def _account() -> sa.Column[str]:
    return sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)


def _named_entity(name_length: int) -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.String(32), primary_key=True),
        _account(),
        sa.Column("name", sa.String(name_length), nullable=False),
        sa.Column("name_key", sa.String(name_length), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "iam_users",
        *_named_entity(128),
        sa.Column("permissions_boundary_arn", sa.String(2048), nullable=True),
    )
    op.create_index("ix_iam_users_name", "iam_users", ["account_id", "name_key"], unique=True)
    op.create_table("iam_groups", *_named_entity(128))
    op.create_index("ix_iam_groups_name", "iam_groups", ["account_id", "name_key"], unique=True)
    op.create_table(
        "iam_group_members",
        sa.Column("group_id", sa.String(32), sa.ForeignKey("iam_groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("iam_users.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_iam_group_members_user", "iam_group_members", ["user_id"])
    op.create_table(
        "iam_roles",
        *_named_entity(64),
        sa.Column("assume_role_policy", sa.Text, nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("max_session_duration", sa.Integer, nullable=False),
        sa.Column("permissions_boundary_arn", sa.String(2048), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_region", sa.String(32), nullable=True),
    )
    op.create_index("ix_iam_roles_name", "iam_roles", ["account_id", "name_key"], unique=True)
    op.create_index("ix_iam_roles_arn", "iam_roles", ["arn"])
    op.create_table(
        "iam_policies",
        sa.Column("id", sa.String(32), primary_key=True),
        _account(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("name_key", sa.String(128), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("arn", sa.String(2048), nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("default_version_id", sa.String(32), nullable=False),
        sa.Column("last_version_number", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_iam_policies_name", "iam_policies", ["account_id", "name_key"], unique=True)
    op.create_index("ix_iam_policies_arn", "iam_policies", ["arn"], unique=True)
    op.create_table(
        "iam_policy_versions",
        sa.Column("policy_id", sa.String(32), sa.ForeignKey("iam_policies.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version_id", sa.String(32), primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "iam_inline_policies",
        sa.Column("entity_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        _account(),
        sa.Column("entity_type", sa.String(8), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_table(
        "iam_attachments",
        sa.Column("entity_id", sa.String(32), primary_key=True),
        sa.Column("policy_arn", sa.String(2048), primary_key=True),
        _account(),
        sa.Column("entity_type", sa.String(8), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_iam_attachments_policy", "iam_attachments", ["account_id", "policy_arn"])
    op.create_table(
        "iam_tags",
        sa.Column("entity_id", sa.String(32), primary_key=True),
        sa.Column("key_folded", sa.String(128), primary_key=True),
        _account(),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
    )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
