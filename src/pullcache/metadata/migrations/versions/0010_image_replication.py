"""ECR's private image replication: each registry's replication configuration, and the replication of each pushed
image to each destination (its status, and the work a restart resumes).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "replication_configurations",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("rules", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "image_replications",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("repository", sa.String(256), primary_key=True),
        sa.Column("digest", sa.String(200), primary_key=True),
        sa.Column("destination_account_id", sa.String(12), primary_key=True),
        sa.Column("destination_region", sa.String(32), primary_key=True),
        sa.Column("tag", sa.String(300), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_image_replications_status", "status"),
    )


def downgrade() -> None:
    op.drop_table("image_replications")
    op.drop_table("replication_configurations")
