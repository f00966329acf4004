"""IAM over a real store for the tests: a migrated SQLite file with accounts in it, and policy documents."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.metadata.sql_iam import SqlIamStore
from tests.stores import sqlite_url

ACCOUNT: Final = "123456789012"
OTHER_ACCOUNT: Final = "210987654321"
READ_ONLY_ARN: Final = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
PULL_ONLY_ARN: Final = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"


@asynccontextmanager
async def sqlite_iam(scratch: Path) -> AsyncIterator[tuple[SqlIamStore, SqlAccountStore]]:
    """The IAM store and the account store over one migrated database holding ACCOUNT and OTHER_ACCOUNT."""
    engine = create_engine(sqlite_url(scratch / "metadata.db"))
    try:
        await migrate(engine)
        accounts = SqlAccountStore(engine)
        for account in (ACCOUNT, OTHER_ACCOUNT):
            await accounts.ensure_account(account)
        yield SqlIamStore(engine), accounts
    finally:
        await engine.dispose()


def identity_policy(*actions: str, resource: str = "*", effect: str = "Allow", **extra: Any) -> str:
    statement = {"Effect": effect, "Action": list(actions) or ["ecr:*"], "Resource": resource, **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def trust_policy(service: str = "ec2.amazonaws.com") -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
