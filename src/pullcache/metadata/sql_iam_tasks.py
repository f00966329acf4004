"""DeleteServiceLinkedRole's tasks in SQL: SqlRoleDeletionTaskStore is the RoleDeletionTasks of iam/ports.py.

Claiming a task is a compare-and-set on its status and update time, so of two workers that read the same task
only one runs it. `usage` is stored as a JSON list of {"region": ..., "resources": [...]}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.iam.model import DeletionStatus, DeletionTask, RegionUsage
from pullcache.metadata.engine import writer
from pullcache.metadata.schema import iam_role_deletion_tasks as tasks

_PENDING = [DeletionStatus.NOT_STARTED.value, DeletionStatus.IN_PROGRESS.value]


class SqlRoleDeletionTaskStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)

    async def add_or_find_pending(self, task: DeletionTask) -> DeletionTask:
        pending = (
            sa.select(tasks)
            .where(
                tasks.c.account_id == task.account,
                sa.func.lower(tasks.c.role_name) == task.role_name.lower(),
                tasks.c.status.in_(_PENDING),
            )
            .order_by(tasks.c.created_at)
            .limit(1)
        )
        async with self._writer.begin() as connection:
            row = (await connection.execute(pending)).first()
            if row is not None:
                return _task(row._mapping)
            await connection.execute(sa.insert(tasks).values(**_row(task)))
        return task

    async def find_task(self, account: str, task_id: str) -> DeletionTask | None:
        query = sa.select(tasks).where(tasks.c.account_id == account, tasks.c.id == task_id)
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _task(row._mapping)

    async def claim_task(self, task: DeletionTask, at: datetime) -> bool:
        statement = (
            sa.update(tasks)
            .where(
                tasks.c.id == task.task_id,
                tasks.c.status == task.status.value,
                tasks.c.updated_at == task.updated_at,
            )
            .values(status=DeletionStatus.IN_PROGRESS.value, updated_at=at)
        )
        async with self._writer.begin() as connection:
            return (await connection.execute(statement)).rowcount == 1

    async def finish_task(self, task: DeletionTask) -> None:
        row = _row(task)
        values = {key: row[key] for key in ("status", "reason", "usage", "updated_at")}
        async with self._writer.begin() as connection:
            await connection.execute(sa.update(tasks).where(tasks.c.id == task.task_id).values(**values))


def _row(task: DeletionTask) -> dict[str, Any]:
    return {
        "id": task.task_id,
        "account_id": task.account,
        "role_name": task.role_name,
        "status": task.status.value,
        "reason": task.reason,
        "usage": [{"region": u.region, "resources": list(u.resources)} for u in task.usage] or None,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def _task(row: Any) -> DeletionTask:
    return DeletionTask(
        task_id=row["id"],
        account=row["account_id"],
        role_name=row["role_name"],
        status=DeletionStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        reason=row["reason"],
        usage=tuple(RegionUsage(u["region"], tuple(u["resources"])) for u in row["usage"] or ()),
    )
