"""What garbage collection and the pull bookkeeping need: when each blob was linked into its repository (a link no
manifest references is collected once it is older than the grace period; null: linked before this revision), and
how many pulls each repository has served; an index that tells whether a blob is linked anywhere; and which
manifests the pull-through cache imported (`cached`: evictable under a size cap; a push never is), those already
in repositories under a rule's prefix counted as imported.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    with op.batch_alter_table("repository_blobs") as batch:
        batch.add_column(sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_repository_blobs_digest", "repository_blobs", ["digest"])
    with op.batch_alter_table("repositories") as batch:
        batch.add_column(sa.Column("pull_count", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("manifests") as batch:
        batch.add_column(sa.Column("cached", sa.Boolean, nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE manifests SET cached = true WHERE repository_id IN ("
        " SELECT r.id FROM repositories r JOIN pull_through_rules p"
        " ON r.account_id = p.account_id AND r.region = p.region"
        " AND substr(r.name, 1, length(p.prefix) + 1) = p.prefix || '/')"
    )


def downgrade() -> None:
    with op.batch_alter_table("manifests") as batch:
        batch.drop_column("cached")
    with op.batch_alter_table("repositories") as batch:
        batch.drop_column("pull_count")
    op.drop_index("ix_repository_blobs_digest", "repository_blobs")
    with op.batch_alter_table("repository_blobs") as batch:
        batch.drop_column("linked_at")
