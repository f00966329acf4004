"""Pull-through cache rules: the upstream role (upstreamRoleArn) of an Amazon ECR Public Premium upstream, the role
assumed through the rule's custom_role_arn; null for every other rule.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("pull_through_rules") as batch:
        batch.add_column(sa.Column("upstream_role_arn", sa.String(2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pull_through_rules") as batch:
        batch.drop_column("upstream_role_arn")
