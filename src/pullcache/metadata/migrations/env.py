"""Alembic runs migrations on the connection pullcache hands it (see pullcache.metadata.engine.migrate)."""

from alembic import context

from pullcache.metadata.schema import metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
