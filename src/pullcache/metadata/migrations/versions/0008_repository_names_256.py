"""Repository names up to 256 characters, ECR's limit (core.names), in every column that holds one.

SQLite does not enforce a VARCHAR length, but its batch mode copies each table to change the declared type (with
foreign keys off while migrations run: see engine.migrate), so the declared schema stays the one schema.py states;
PostgreSQL widens a VARCHAR in place, without rewriting the table. A downgrade narrows them back, and fails on a
database that holds a 256-character name rather than cut it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

# (table, column) holding a repository name; the widths as they were and as they are now, fixed here for good.
NAME_COLUMNS = (("repositories", "name"), ("uploads", "repository"), ("pull_through_imports", "repository"))
OLD_LENGTH = 255
NEW_LENGTH = 256


def upgrade() -> None:
    _resize(OLD_LENGTH, NEW_LENGTH)


def downgrade() -> None:
    _resize(NEW_LENGTH, OLD_LENGTH)


def _resize(old: int, new: int) -> None:
    for table, column in NAME_COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(old), type_=sa.String(new), existing_nullable=False)
