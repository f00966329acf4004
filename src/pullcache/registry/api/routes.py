"""Every endpoint of the OCI Distribution API, the ECR actions each needs, and the middlewares that check access
and render errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from pullcache.auth.registry_access import Access
from pullcache.registry.api import blobs, discovery, manifests, uploads
from pullcache.registry.api.access import ACCESS_CONTROL, GRANT_PARAMETER, condition_keys, now, set_principal
from pullcache.registry.api.context import repository, scope, set_scope
from pullcache.registry.api.errors import render, render_error
from pullcache.registry.api.mirror import answers_anyone, serve_mirrored
from pullcache.registry.errors import RegistryError, Unauthorized

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NAME = "/v2/{name:.+}"
API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")

# The actions AWS checks for each request to an ECR registry (ECR user guide, "Private registry authentication"
# and the managed policies): pulls need BatchGetImage and GetDownloadUrlForLayer; pushes BatchCheckLayerAvailability,
# InitiateLayerUpload, UploadLayerPart, CompleteLayerUpload and PutImage.
PULL_MANIFEST = Access(("ecr:BatchGetImage",))
PULL_BLOB = Access(("ecr:GetDownloadUrlForLayer",))
# A HEAD on a blob is how a puller checks a layer and how a pusher asks whether it must upload one.
CHECK_BLOB = Access(("ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"), any_of=True)
START_UPLOAD = Access(("ecr:InitiateLayerUpload",))
UPLOAD_PART = Access(("ecr:UploadLayerPart",))
COMPLETE_UPLOAD = Access(("ecr:CompleteLayerUpload",))
PUT_MANIFEST = Access(("ecr:PutImage",))
DELETE = Access(("ecr:BatchDeleteImage",))
LIST_TAGS = Access(("ecr:ListImages",))
CATALOG = Access(("ecr:DescribeRepositories",), on_registry=True)

PULL_BLOB_OR_CHECK = {"GET": PULL_BLOB, "HEAD": CHECK_BLOB}
ROUTE_ACCESS = web.AppKey("route_access", dict[tuple[str, str], Access])


def add_registry_routes(app: web.Application) -> None:
    """Register every endpoint with the access it needs; `/v2/` itself needs only an authenticated caller."""
    table: dict[tuple[str, str], Access] = {}

    def route(method: str, path: str, handler: Handler, access: Access | None, *, head: Access | None = None) -> None:
        """A GET answers HEAD too, with the same access unless `head` names another."""
        app.router.add_route(method, path, handler)
        if access is not None:
            table[(method, path)] = access
        if method == "GET" and handler is not uploads.upload_status:
            app.router.add_route("HEAD", path, handler)
            head_access = head or access
            if head_access is not None:
                table[("HEAD", path)] = head_access

    route("GET", "/v2/", discovery.version_check, None)
    route("GET", "/v2/_catalog", discovery.catalog, CATALOG)
    route("GET", f"{_NAME}/tags/list", discovery.list_tags, LIST_TAGS)
    route("GET", f"{_NAME}/referrers/{{digest}}", discovery.list_referrers, PULL_MANIFEST)
    for path in (f"{_NAME}/blobs/uploads/", f"{_NAME}/blobs/uploads"):
        route("POST", path, uploads.start_upload, START_UPLOAD)
    upload = f"{_NAME}/blobs/uploads/{{upload}}"
    route("GET", upload, uploads.upload_status, UPLOAD_PART)
    route("PATCH", upload, uploads.append_chunk, UPLOAD_PART)
    route("PUT", upload, uploads.complete_upload, COMPLETE_UPLOAD)
    route("DELETE", upload, uploads.cancel_upload, START_UPLOAD)
    blob = f"{_NAME}/blobs/{{digest}}"
    route("GET", blob, blobs.get_blob, PULL_BLOB, head=CHECK_BLOB)
    route("DELETE", blob, blobs.delete_blob, DELETE)
    manifest = f"{_NAME}/manifests/{{reference}}"
    route("GET", manifest, manifests.get_manifest, PULL_MANIFEST)
    route("PUT", manifest, manifests.put_manifest, PUT_MANIFEST)
    route("DELETE", manifest, manifests.delete_manifest, DELETE)
    app[ROUTE_ACCESS] = table


def access_for(request: web.Request) -> Access | None:
    """The access the request's endpoint needs; None for `/v2/` itself and for paths that match no endpoint."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    access = request.app[ROUTE_ACCESS].get((request.method, _path_of(resource.canonical)))
    if access is START_UPLOAD and "digest" in request.query:
        return access.also("ecr:UploadLayerPart", "ecr:CompleteLayerUpload")  # a whole blob in one POST
    return access


def _path_of(canonical: str) -> str:
    """The registered path of a resource (aiohttp's canonical form drops the name's pattern)."""
    return canonical.replace("/v2/{name}", _NAME, 1)


@web.middleware
async def registry_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate every /v2/ request and authorize it with the ECR actions of its endpoint."""
    if not request.path.startswith("/v2"):
        return await handler(request)
    control = request.app[ACCESS_CONTROL]
    moment = now()
    grant_text = request.query.get(GRANT_PARAMETER)
    blob_read = PULL_BLOB_OR_CHECK.get(request.method)
    if grant_text is not None and blob_read is not None and access_for(request) is blob_read:
        # A URL from GetDownloadUrlForLayer: the grant names the registry, repository and blob it opens.
        grant = control.find_grant(grant_text, moment)
        if grant is None or (grant.repository, grant.digest) != (repository(request), request.match_info["digest"]):
            raise Unauthorized()
        set_scope(request, grant.scope)
        return await handler(request)
    registry_scope = scope(request)
    claims = await control.identify(request.headers.get("Authorization"), registry_scope, moment)
    caller = claims.principal
    set_principal(request, caller, claims.access_key_id)
    await serve_mirrored(request, caller)  # a mirror's request is decided for the repository that serves it
    access = access_for(request)
    if access is not None:
        keys = condition_keys(request, moment)
        name = repository(request) if "name" in request.match_info else None
        await control.authorize(caller, registry_scope, name, access, keys)
    elif caller.account is None and not answers_anyone(request):
        raise Unauthorized()
    return await handler(request)


@web.middleware
async def registry_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure under /v2/ in the OCI error shape; never a traceback."""
    if not request.path.startswith("/v2"):
        return await handler(request)
    try:
        response = await handler(request)
    except RegistryError as error:
        response = render_error(error, realm=f"{request.scheme}://{request.host}/")
    except web.HTTPNotFound:
        response = render(404, "UNSUPPORTED", f"no endpoint at {request.path}")
    except web.HTTPMethodNotAllowed as error:
        response = render(405, "UNSUPPORTED", f"{request.method} is not supported at {request.path}")
        response.headers["Allow"] = ", ".join(sorted(error.allowed_methods))
    except web.HTTPException as error:
        response = render(error.status, "UNSUPPORTED", error.reason)
    except ConnectionError:
        raise  # the client went away: nobody to answer
    except Exception:
        request_id = request.get("request_id", "-")
        log.exception("unhandled error in %s %s (request %s)", request.method, request.path, request_id)
        response = render(500, "UNKNOWN", f"internal error; request id {request_id}")
    response.headers[API_VERSION[0]] = API_VERSION[1]
    return response
