"""ECR's lifecycle policy preview operations: StartLifecyclePolicyPreview, GetLifecyclePolicyPreview.

Authorized as every repository operation (`ecr:<Operation>` on the repository, its policy as the resource policy);
they join ECR's table through `ecr_operations(..., extensions)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler
from pullcache.aws.wire import Params
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.api.ports import RepositoryAuthorizer
from pullcache.ecr.api.shapes import image_request, tag_status
from pullcache.ecr.lifecycle_preview import LifecyclePolicyPreviews, PreviewImageFilter
from pullcache.ecr.ports import PreviewResult, PreviewStatus


class LifecyclePreviewOperations:
    def __init__(self, previews: LifecyclePolicyPreviews, authorize: RepositoryAuthorizer) -> None:
        self._previews = previews
        self._authorize = authorize

    def handlers(self) -> Mapping[str, Handler[CallContext]]:
        return {
            "StartLifecyclePolicyPreview": self.start_lifecycle_policy_preview,
            "GetLifecyclePolicyPreview": self.get_lifecycle_policy_preview,
        }

    def error_shapes(self) -> Mapping[type[Exception], str]:
        return {}  # ECR's own errors (ecr/errors.py), mapped by ecr/api/operations.py

    async def start_lifecycle_policy_preview(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "StartLifecyclePolicyPreview")
        preview = await self._previews.start_preview(scope, name, params.get("lifecyclePolicyText"))
        return {
            "registryId": scope.account_id,
            "repositoryName": name,
            "lifecyclePolicyText": preview.text,
            "status": preview.status.value,
        }

    async def get_lifecycle_policy_preview(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "GetLifecyclePolicyPreview")
        requests = [image_request(image_id) for image_id in params.get("imageIds") or ()]
        chosen = PreviewImageFilter(
            frozenset(r.digest for r in requests if r.digest),
            frozenset(r.tag for r in requests if r.tag),
            tag_status(params),
        )
        page = await self._previews.get_preview(scope, name, chosen, params.get("nextToken"), params.get("maxResults"))
        complete = page.preview.status is PreviewStatus.COMPLETE
        return {
            "registryId": scope.account_id,
            "repositoryName": name,
            "lifecyclePolicyText": page.preview.text,
            "status": page.preview.status.value,
            "nextToken": page.next_token,
            "previewResults": [_result_shape(result) for result in page.results],
            "summary": {"expiringImageTotalCount": page.expiring_total} if complete else None,
        }

    async def _repository(self, params: Params, context: CallContext, operation: str) -> tuple[RegistryScope, str]:
        scope = RegistryScope(params.get("registryId") or context.account, context.region)
        name = params["repositoryName"]
        await self._authorize(context, operation, scope, name)
        return scope, name


def _result_shape(result: PreviewResult) -> dict[str, Any]:
    return {
        "imageTags": list(result.tags),
        "imageDigest": str(result.digest),
        "imagePushedAt": result.pushed_at,
        "action": {"type": result.action.upper()},
        "appliedRulePriority": result.rule_priority,
        "storageClass": "STANDARD",
    }
