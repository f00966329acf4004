"""What ECR's operation handlers need of one another: more operations joining ECR's table (EcrExtension), and the
authorization of a repository's operations that they share (RepositoryAuthorizer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler
from pullcache.core.scopes import RegistryScope


class RepositoryAuthorizer(Protocol):
    async def __call__(
        self, context: CallContext, operation: str, scope: RegistryScope | None, repository: str | None
    ) -> None: ...


class EcrExtension(Protocol):
    """More of ECR's operations, in a module of their own, with the errors they add to the table."""

    def handlers(self) -> Mapping[str, Handler[CallContext]]: ...

    def error_shapes(self) -> Mapping[type[Exception], str]: ...
