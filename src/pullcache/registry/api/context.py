"""What the handlers take from the application: the service, wired by the composition root."""

from aiohttp import web

from pullcache.registry.service import RegistryService

REGISTRY = web.AppKey("registry", RegistryService)


def registry(request: web.Request) -> RegistryService:
    return request.app[REGISTRY]


def repository(request: web.Request) -> str:
    return request.match_info["name"]
