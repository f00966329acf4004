"""STS: temporary credentials of role sessions.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "sts_sessions",
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
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sts_sessions_expires", "sts_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("sts_sessions")
