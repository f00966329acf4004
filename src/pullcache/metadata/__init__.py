"""Registry metadata in SQL (SQLAlchemy Core): schema, migrations and the store adapters."""
