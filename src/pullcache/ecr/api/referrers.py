"""ListImageReferrers, joining ECR's table through `ecr_operations(..., extensions)`.

AWS documents it as needing `ecr:BatchGetImage` ("The IAM principal invoking this operation must have the
ecr:BatchGetImage permission"), so that is the action authorized, on the repository, its policy included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.wire import Params
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.api.ports import RepositoryAuthorizer
from pullcache.ecr.referrers import ACTIVE, ImageReferrers, Referrer

Handler = Callable[[Params, CallContext], Awaitable[Mapping[str, Any]]]
ACTION = "BatchGetImage"


class ReferrerOperations:
    def __init__(self, referrers: ImageReferrers, authorize: RepositoryAuthorizer) -> None:
        self._referrers = referrers
        self._authorize = authorize

    def handlers(self) -> dict[str, Handler]:
        return {"ListImageReferrers": self.list_image_referrers}

    def error_shapes(self) -> Mapping[type[Exception], str]:
        return {}  # ECR's own errors (ecr/errors.py), mapped by ecr/api/operations.py

    async def list_image_referrers(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = RegistryScope(params.get("registryId") or context.account, context.region)
        name = params["repositoryName"]
        await self._authorize(context, ACTION, scope, name)
        given = params.get("filter", {})
        found, token = await self._referrers.list_referrers(
            scope,
            name,
            params["subjectId"]["imageDigest"],
            given.get("artifactTypes", []),
            given.get("artifactStatus", ACTIVE),
            params.get("nextToken"),
            params.get("maxResults"),
        )
        return {"referrers": [_referrer_shape(r) for r in found], "nextToken": token}


def _referrer_shape(referrer: Referrer) -> dict[str, Any]:
    manifest = referrer.manifest
    return {
        "digest": str(manifest.digest),
        "mediaType": manifest.media_type,
        "artifactType": manifest.artifact_type,
        "size": referrer.size,
        "annotations": manifest.annotations or None,
        "artifactStatus": referrer.status,
    }
