"""What the handlers take from the application and the request: the service, and the registry scope.

A request's scope comes from its Host when that has ECR's form (`<account>.dkr.ecr.<region>.<domain>`), else
it is the default scope of the server's settings.
"""

from aiohttp import web

from pullcache.core.scopes import RegistryScope, scope_of_registry_host
from pullcache.registry.service import RegistryService

REGISTRY = web.AppKey("registry", RegistryService)
DEFAULT_SCOPE = web.AppKey("default_scope", RegistryScope)
_SCOPE = "registry_scope"
_REPOSITORY = "repository"


def registry(request: web.Request) -> RegistryService:
    return request.app[REGISTRY]


def repository(request: web.Request) -> str:
    """The repository the request acts on: the one in its path, or the one a mirror request stands for."""
    found = request.get(_REPOSITORY)
    return found if isinstance(found, str) else request.match_info["name"]


def set_repository(request: web.Request, name: str) -> None:
    """Serve the request from `name` instead of the repository in its path (mirror.py)."""
    request[_REPOSITORY] = name


def scope(request: web.Request) -> RegistryScope:
    found = request.get(_SCOPE)
    if not isinstance(found, RegistryScope):
        found = scope_of_registry_host(request.host) or request.app[DEFAULT_SCOPE]
        request[_SCOPE] = found
    return found


def set_scope(request: web.Request, registry_scope: RegistryScope) -> None:
    """Fix the request's scope (a download grant names its own)."""
    request[_SCOPE] = registry_scope
