"""The pull-through cache's stores in SQL: rules and imports in flight (PullThroughRuleStore), and repository
creation templates (TemplateStore)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.ports import Encryption
from pullcache.metadata.engine import writer
from pullcache.metadata.schema import pull_through_imports, pull_through_rules, repository_creation_templates
from pullcache.pullthrough.model import AppliedFor, Template, TemplateSettings
from pullcache.pullthrough.rules import PullThroughRule
from pullcache.registry.tag_mutability import TagMutability, TagMutabilityRule


class SqlPullThroughStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reader = engine
        self._writer = writer(engine)
        # The record of imports in flight is read by nothing that caches reads (read_cache.py): writing it leaves
        # every cache alone, which matters as a cold pull writes it in bursts.
        self._ledger = writer(engine, touches=())

    # -- rules ---------------------------------------------------------------------------------------------

    async def add_rule(self, rule: PullThroughRule) -> bool:
        try:
            async with self._writer.begin() as connection:
                await connection.execute(sa.insert(pull_through_rules).values(**_rule_row(rule)))
        except sa.exc.IntegrityError:
            return False
        return True

    async def find_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule | None:
        query = sa.select(pull_through_rules).where(*_rule_key(scope, prefix))
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _rule(row._mapping)

    async def list_rules(self, scope: RegistryScope) -> Sequence[PullThroughRule]:
        query = (
            sa.select(pull_through_rules)
            .where(pull_through_rules.c.account_id == scope.account_id, pull_through_rules.c.region == scope.region)
            .order_by(pull_through_rules.c.prefix)
        )
        async with self._reader.connect() as connection:
            return [_rule(row._mapping) for row in await connection.execute(query)]

    async def list_account_rules(self, account_id: str) -> Sequence[PullThroughRule]:
        query = (
            sa.select(pull_through_rules)
            .where(pull_through_rules.c.account_id == account_id)
            .order_by(pull_through_rules.c.region, pull_through_rules.c.prefix)
        )
        async with self._reader.connect() as connection:
            return [_rule(row._mapping) for row in await connection.execute(query)]

    async def replace_rule(self, rule: PullThroughRule) -> bool:
        values = _rule_row(rule)
        for key in ("account_id", "region", "prefix", "created_at"):
            del values[key]
        async with self._writer.begin() as connection:
            result = await connection.execute(
                sa.update(pull_through_rules).where(*_rule_key(rule.scope, rule.prefix)).values(**values)
            )
            return result.rowcount > 0

    async def delete_rule(self, scope: RegistryScope, prefix: str) -> PullThroughRule | None:
        async with self._writer.begin() as connection:
            row = (await connection.execute(sa.select(pull_through_rules).where(*_rule_key(scope, prefix)))).first()
            if row is None:
                return None
            await connection.execute(sa.delete(pull_through_rules).where(*_rule_key(scope, prefix)))
        return _rule(row._mapping)

    # -- imports in flight ---------------------------------------------------------------------------------

    async def begin_import(self, scope: RegistryScope, repository: str, started_at: datetime) -> str:
        import_id = str(uuid.uuid4())
        async with self._ledger.begin() as connection:
            await connection.execute(
                sa.insert(pull_through_imports).values(
                    id=import_id,
                    account_id=scope.account_id,
                    region=scope.region,
                    repository=repository,
                    started_at=started_at,
                )
            )
        return import_id

    async def end_import(self, import_id: str) -> None:
        async with self._ledger.begin() as connection:
            await connection.execute(sa.delete(pull_through_imports).where(pull_through_imports.c.id == import_id))

    async def count_imports_since(self, account_id: str, since: datetime) -> int:
        query = sa.select(sa.func.count()).where(
            pull_through_imports.c.account_id == account_id, pull_through_imports.c.started_at > since
        )
        async with self._reader.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    # -- repository creation templates ---------------------------------------------------------------------

    async def add_template(self, template: Template) -> bool:
        try:
            async with self._writer.begin() as connection:
                await connection.execute(sa.insert(repository_creation_templates).values(**_template_row(template)))
        except sa.exc.IntegrityError:
            return False
        return True

    async def find_template(self, scope: RegistryScope, prefix: str) -> Template | None:
        query = sa.select(repository_creation_templates).where(*_template_key(scope, prefix))
        async with self._reader.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _template(row._mapping)

    async def list_templates(self, scope: RegistryScope) -> Sequence[Template]:
        table = repository_creation_templates
        query = (
            sa.select(table)
            .where(table.c.account_id == scope.account_id, table.c.region == scope.region)
            .order_by(table.c.prefix)
        )
        async with self._reader.connect() as connection:
            return [_template(row._mapping) for row in await connection.execute(query)]

    async def replace_template(self, template: Template) -> bool:
        values = _template_row(template)
        for key in ("account_id", "region", "prefix", "created_at"):
            del values[key]
        async with self._writer.begin() as connection:
            result = await connection.execute(
                sa.update(repository_creation_templates)
                .where(*_template_key(template.scope, template.prefix))
                .values(**values)
            )
            return result.rowcount > 0

    async def delete_template(self, scope: RegistryScope, prefix: str) -> Template | None:
        table = repository_creation_templates
        async with self._writer.begin() as connection:
            row = (await connection.execute(sa.select(table).where(*_template_key(scope, prefix)))).first()
            if row is None:
                return None
            await connection.execute(sa.delete(table).where(*_template_key(scope, prefix)))
        return _template(row._mapping)


def _rule_key(scope: RegistryScope, prefix: str) -> tuple[sa.ColumnElement[bool], ...]:
    table = pull_through_rules
    return (table.c.account_id == scope.account_id, table.c.region == scope.region, table.c.prefix == prefix)


def _template_key(scope: RegistryScope, prefix: str) -> tuple[sa.ColumnElement[bool], ...]:
    table = repository_creation_templates
    return (table.c.account_id == scope.account_id, table.c.region == scope.region, table.c.prefix == prefix)


def _rule_row(rule: PullThroughRule) -> dict[str, Any]:
    return {
        "account_id": rule.scope.account_id,
        "region": rule.scope.region,
        "prefix": rule.prefix,
        "upstream_url": rule.upstream_url,
        "upstream_registry": rule.upstream_registry,
        "credential_arn": rule.credential_arn,
        "custom_role_arn": rule.custom_role_arn,
        "upstream_repository_prefix": rule.upstream_repository_prefix,
        "upstream_role_arn": rule.upstream_role_arn,
        "tag_ttl_seconds": int(rule.tag_ttl.total_seconds()),
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def _rule(row: Any) -> PullThroughRule:
    return PullThroughRule(
        RegistryScope(row["account_id"], row["region"]),
        row["prefix"],
        row["upstream_url"],
        row["upstream_registry"],
        row["created_at"],
        row["updated_at"],
        credential_arn=row["credential_arn"],
        custom_role_arn=row["custom_role_arn"],
        upstream_repository_prefix=row["upstream_repository_prefix"],
        upstream_role_arn=row["upstream_role_arn"],
        tag_ttl=timedelta(seconds=row["tag_ttl_seconds"]),
    )


def _template_row(template: Template) -> dict[str, Any]:
    settings = template.settings
    return {
        "account_id": template.scope.account_id,
        "region": template.scope.region,
        "prefix": template.prefix,
        "description": settings.description,
        "encryption_type": settings.encryption.encryption_type,
        "kms_key": settings.encryption.kms_key,
        "resource_tags": [list(tag) for tag in settings.resource_tags] or None,
        "tag_mutability": settings.tag_mutability.mutability.value,
        "tag_mutability_filters": list(settings.tag_mutability.exclusion_filters) or None,
        "repository_policy": settings.repository_policy,
        "lifecycle_policy": settings.lifecycle_policy,
        "applied_for": [purpose.value for purpose in settings.applied_for],
        "custom_role_arn": settings.custom_role_arn,
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }


def _template(row: Any) -> Template:
    settings = TemplateSettings(
        applied_for=tuple(AppliedFor(purpose) for purpose in row["applied_for"]),
        description=row["description"],
        encryption=Encryption(row["encryption_type"], row["kms_key"]),
        resource_tags=tuple((key, value) for key, value in row["resource_tags"] or ()),
        tag_mutability=TagMutabilityRule(
            TagMutability(row["tag_mutability"]), tuple(row["tag_mutability_filters"] or ())
        ),
        repository_policy=row["repository_policy"],
        lifecycle_policy=row["lifecycle_policy"],
        custom_role_arn=row["custom_role_arn"],
    )
    return Template(
        RegistryScope(row["account_id"], row["region"]), row["prefix"], settings, row["created_at"], row["updated_at"]
    )
