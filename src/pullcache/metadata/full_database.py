"""A database that has no room left to write, raised as the registry's StorageFull.

SQLite answers a write on a full disk (or past its max_page_count) with SQLITE_FULL, "database or disk is full";
every write transaction of pullcache goes through engine.Writer, which raises StorageFull in its place, so each
protocol edge answers a full database as it answers a full blob store (one mapping per protocol), not as an
internal error. Any other database error passes unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from pullcache.registry.errors import StorageFull

# The primary result code: extended codes keep it in their low byte.
_PRIMARY_CODE = 0xFF


@contextmanager
def storage_full_raised() -> Iterator[None]:
    """Raise StorageFull for a database error that says the database is full."""
    try:
        yield
    except DBAPIError as error:
        if not is_database_full(error):
            raise
        raise StorageFull() from error


def is_database_full(error: DBAPIError) -> bool:
    """SQLite's SQLITE_FULL. (PostgreSQL's disk_full, SQLSTATE 53100, belongs here once pullcache runs on it.)"""
    cause = error.orig
    if not isinstance(cause, sqlite3.Error):
        return False
    code = getattr(cause, "sqlite_errorcode", None)
    return code is not None and code & _PRIMARY_CODE == sqlite3.SQLITE_FULL
