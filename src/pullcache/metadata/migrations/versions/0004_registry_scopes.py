"""Registry scopes: repositories per account and region; ECR repository settings and policies.

Repositories and upload sessions that exist already move to the registry of the account created on first start
(the only account there is; the default account when there is none or several) in the default region, with ECR's
default settings: MUTABLE tags, no scan on push, AES256 encryption.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

# The defaults of pullcache's settings when this revision was written; a revision never changes afterwards.
DEFAULT_ACCOUNT_ID = "000000000000"
DEFAULT_REGION = "us-east-1"
SCOPE_COLUMNS = ("account_id", "region")
SETTINGS = {"tag_mutability": "MUTABLE", "scan_on_push": False, "encryption_type": "AES256"}


def upgrade() -> None:
    connection = op.get_bind()
    account = _existing_account(connection)
    _scope_repositories(connection, account)
    _scope_uploads(account)
    op.add_column("manifests", sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "repository_tags",
        sa.Column(
            "repository_id",
            sa.Integer,
            sa.ForeignKey("repositories.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "registry_policies",
        sa.Column("account_id", sa.String(12), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("policy", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "signing_keys",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def _existing_account(connection: sa.Connection) -> str:
    accounts = list(connection.execute(sa.text("SELECT id FROM accounts")).scalars())
    return str(accounts[0]) if len(accounts) == 1 else DEFAULT_ACCOUNT_ID


def _scope_repositories(connection: sa.Connection, account: str) -> None:
    with op.batch_alter_table("repositories") as batch:
        batch.add_column(sa.Column("account_id", sa.String(12), nullable=True))
        batch.add_column(sa.Column("region", sa.String(32), nullable=True))
        batch.add_column(sa.Column("tag_mutability", sa.String(32), nullable=True))
        batch.add_column(sa.Column("tag_mutability_filters", sa.JSON, nullable=True))
        batch.add_column(sa.Column("scan_on_push", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("encryption_type", sa.String(16), nullable=True))
        batch.add_column(sa.Column("kms_key", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("policy", sa.Text, nullable=True))
    repositories = sa.table("repositories", *(sa.column(name) for name in (*SCOPE_COLUMNS, *SETTINGS)))
    op.execute(repositories.update().values(account_id=account, region=DEFAULT_REGION, **SETTINGS))
    # The unique name of revision 0001 was declared inline, without a name: SQLite reflects it under the naming
    # convention below, PostgreSQL names it <table>_<column>_key.
    old_unique = "uq_repositories_name" if connection.dialect.name == "sqlite" else "repositories_name_key"
    with op.batch_alter_table("repositories", naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}) as batch:
        batch.drop_constraint(old_unique, type_="unique")
        batch.alter_column("account_id", existing_type=sa.String(12), nullable=False)
        batch.alter_column("region", existing_type=sa.String(32), nullable=False)
        batch.alter_column("tag_mutability", existing_type=sa.String(32), nullable=False)
        batch.alter_column("scan_on_push", existing_type=sa.Boolean, nullable=False)
        batch.alter_column("encryption_type", existing_type=sa.String(16), nullable=False)
        batch.create_unique_constraint("uq_repositories_scope_name", ["account_id", "region", "name"])


def _scope_uploads(account: str) -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("account_id", sa.String(12), nullable=True))
        batch.add_column(sa.Column("region", sa.String(32), nullable=True))
    uploads = sa.table("uploads", *(sa.column(name) for name in SCOPE_COLUMNS))
    op.execute(uploads.update().values(account_id=account, region=DEFAULT_REGION))
    with op.batch_alter_table("uploads") as batch:
        batch.alter_column("account_id", existing_type=sa.String(12), nullable=False)
        batch.alter_column("region", existing_type=sa.String(32), nullable=False)


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_table("registry_policies")
    op.drop_table("repository_tags")
    op.drop_column("manifests", "pulled_at")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("region")
        batch.drop_column("account_id")
    with op.batch_alter_table("repositories") as batch:
        batch.drop_constraint("uq_repositories_scope_name", type_="unique")
        for name in ("policy", "kms_key", "encryption_type", "scan_on_push", "tag_mutability_filters"):
            batch.drop_column(name)
        for name in ("tag_mutability", "region", "account_id"):
            batch.drop_column(name)
        batch.create_unique_constraint("uq_repositories_name", ["name"])
