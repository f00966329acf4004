"""Content discovery: the API version check, tags list, catalog and referrers."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from pullcache.core.mediatypes import OCI_INDEX
from pullcache.registry.api.context import registry, repository, scope
from pullcache.registry.errors import Unsupported
from pullcache.registry.service import Page, referrers_index

# A page larger than this is cut to it, whatever `n` asks for.
MAX_PAGE = 10_000


async def version_check(_request: web.Request) -> web.Response:
    return _json({})


async def list_tags(request: web.Request) -> web.Response:
    name = repository(request)
    limit, after = _pagination(request)
    page = await registry(request).list_tags(scope(request), name, limit, after)
    # The next page is asked as this one was: a mirror's request by the path it used, its `ns` kept (mirror.py).
    kept = {key: request.query[key] for key in ("ns",) if key in request.query}
    path = f"/v2/{request.match_info['name']}/tags/list"
    return _paged({"name": name, "tags": list(page.items)}, page, path, limit, kept)


async def catalog(request: web.Request) -> web.Response:
    limit, after = _pagination(request)
    page = await registry(request).list_repositories(scope(request), limit, after)
    return _paged({"repositories": list(page.items)}, page, "/v2/_catalog", limit)


async def list_referrers(request: web.Request) -> web.Response:
    artifact_type = request.query.get("artifactType")
    referrers = await registry(request).list_referrers(
        scope(request), repository(request), request.match_info["digest"], artifact_type
    )
    response = web.Response(body=json.dumps(referrers_index(referrers)).encode(), content_type=OCI_INDEX)
    if artifact_type is not None:
        response.headers["OCI-Filters-Applied"] = "artifactType"
    return response


def _pagination(request: web.Request) -> tuple[int | None, str | None]:
    text = request.query.get("n")
    if text is None:
        return None, request.query.get("last")
    if not (text.isascii() and text.isdigit()):  # str.isdigit takes "①" and "²", which int() refuses
        raise Unsupported(f"n must be a non-negative integer, not {text!r}")
    return min(int(text), MAX_PAGE), request.query.get("last")


def _paged(
    body: dict[str, object], page: Page, path: str, limit: int | None, kept: dict[str, str] | None = None
) -> web.Response:
    """`kept`: query parameters the next page's link carries as this request did."""
    response = _json(body)
    if page.last is not None and limit is not None:
        query = urlencode({**(kept or {}), "n": limit, "last": page.last})
        response.headers["Link"] = f'<{path}?{query}>; rel="next"'
    return response


def _json(body: object) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), content_type="application/json")
