"""STS's GetSessionToken sessions, and Secrets Manager's resource policies.

sts_user_sessions: the temporary credentials of GetSessionToken sessions (an IAM user's or the root user's), kept
apart from the role sessions of sts_sessions: a user session has no role, session name or session policies,
and signs for its user (user_id null for the root user).

secrets.resource_policy: a secret's resource-based policy (PutResourcePolicy), null when it has none.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "sts_user_sessions",
        sa.Column("access_key_id", sa.String(32), primary_key=True),
        sa.Column("secret_access_key", sa.String(64), nullable=False),
        sa.Column("session_token", sa.Text, nullable=False),
        sa.Column("account_id", sa.String(12), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_arn", sa.String(2048), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sts_user_sessions_expires", "sts_user_sessions", ["expires_at"])
    with op.batch_alter_table("secrets") as table:
        table.add_column(sa.Column("resource_policy", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("secrets") as table:
        table.drop_column("resource_policy")
    op.drop_table("sts_user_sessions")
