"""The server's signing keys in SQL: created once, read by every worker at start."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.metadata.engine import writer
from pullcache.metadata.schema import signing_keys


class SqlSigningKeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._writer = writer(engine)
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def ensure_signing_key(self, name: str, candidate: str) -> str:
        async with self._writer.begin() as connection:
            await connection.execute(
                self._insert(signing_keys)
                .values(name=name, secret=candidate, created_at=datetime.now(UTC))
                .on_conflict_do_nothing()
            )
            stored = (
                await connection.execute(sa.select(signing_keys.c.secret).where(signing_keys.c.name == name))
            ).scalar_one()
        return str(stored)
