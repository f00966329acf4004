"""The ECR operations pullcache answers: the wire shapes of ECR's model in, the EcrService in between, and the
one table from domain errors to the model's error shapes.

Every call is authorized before it is served, with the IAM action `ecr:<Operation>` on the repository's ARN (the
repository policy as the resource policy), or on `*` for operations of the registry as a whole. `registryId`,
where an operation takes it, picks another account's registry in the caller's region.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from botocore.model import ServiceModel

from pullcache.auth.authorization import AccessDenied, AccessRequest, Authorizer
from pullcache.auth.call_context import CallContext
from pullcache.auth.registry_tokens import basic_credentials
from pullcache.aws.errors import ErrorReply
from pullcache.aws.operations import OperationTable
from pullcache.aws.wire import Params
from pullcache.core.public_hosts import PublicHosts
from pullcache.core.scopes import RegistryScope
from pullcache.ecr import errors
from pullcache.ecr.api.ports import EcrExtension
from pullcache.ecr.api.shapes import (
    encryption,
    failure_shape,
    image_detail_shape,
    image_id_shape,
    image_request,
    image_shape,
    mutability_rule,
    mutability_shape,
    repository_shape,
    tag_status,
)
from pullcache.ecr.images import EcrImages
from pullcache.ecr.layers import PART_SIZE, EcrLayers
from pullcache.ecr.ports import RepositoryRecord, RepositorySettings
from pullcache.ecr.service import EcrService, repository_of_arn
from pullcache.policy import MalformedPolicyDocument, PolicyKind, PolicySourceType, SourcedPolicy, parse_policy
from pullcache.registry.errors import StorageFull, UploadDiscarded

# Each domain error is the model's error shape of the same name.
ERROR_SHAPES: dict[type[Exception], str] = {
    errors.InvalidParameter: "InvalidParameterException",
    errors.InvalidTagParameter: "InvalidTagParameterException",
    errors.TooManyTags: "TooManyTagsException",
    errors.RepositoryNotFound: "RepositoryNotFoundException",
    errors.RepositoryAlreadyExists: "RepositoryAlreadyExistsException",
    errors.RepositoryNotEmpty: "RepositoryNotEmptyException",
    errors.RepositoryPolicyNotFound: "RepositoryPolicyNotFoundException",
    errors.RegistryPolicyNotFound: "RegistryPolicyNotFoundException",
    errors.LifecyclePolicyNotFound: "LifecyclePolicyNotFoundException",
    errors.ImageNotFound: "ImageNotFoundException",
    errors.ImageAlreadyExists: "ImageAlreadyExistsException",
    errors.ImageTagAlreadyExists: "ImageTagAlreadyExistsException",
    errors.ImageDigestDoesNotMatch: "ImageDigestDoesNotMatchException",
    errors.LayersNotFound: "LayersNotFoundException",
    errors.ReferencedImagesNotFound: "ReferencedImagesNotFoundException",
    errors.UploadNotFound: "UploadNotFoundException",
    errors.InvalidLayerPart: "InvalidLayerPartException",
    errors.InvalidLayer: "InvalidLayerException",
    errors.LayerAlreadyExists: "LayerAlreadyExistsException",
    errors.EmptyUpload: "EmptyUploadException",
    errors.LifecyclePolicyPreviewNotFound: "LifecyclePolicyPreviewNotFoundException",
    errors.LifecyclePolicyPreviewInProgress: "LifecyclePolicyPreviewInProgressException",
    errors.ScanNotFound: "ScanNotFoundException",
    errors.UnsupportedImageType: "UnsupportedImageTypeException",
    errors.ExclusionAlreadyExists: "ExclusionAlreadyExistsException",
    errors.ExclusionNotFound: "ExclusionNotFoundException",
    errors.LimitExceeded: "LimitExceededException",
    # A full disk. ECR itself never runs out of room, so its model has no shape for it. The SDKs retry both a
    # ServerException (a 500) and a LimitExceededException (botocore counts it as throttling), so the error a client
    # finally sees is that of the last try: a write that cost an upload (a layer part, CompleteLayerUpload) is
    # answered what any retry of it would be, UploadNotFoundException, its message saying why the upload is gone;
    # any other write (InitiateLayerUpload, PutImage, CreateRepository ...) LimitExceededException, ECR's answer to
    # a write past a limit - here the registry's storage - which the SDKs retry with backoff, then raise with it.
    UploadDiscarded: "UploadNotFoundException",
    StorageFull: "LimitExceededException",
}
# ECR's model has no shape for it; every AWS JSON service answers it alike (HTTP 400).
COMMON_ERRORS: dict[type[Exception], tuple[int, str]] = {AccessDenied: (400, "AccessDeniedException")}
INVALID_REPOSITORY_POLICY = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
)
INVALID_REGISTRY_POLICY = (
    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided'"
)
REGISTRY_WIDE = "*"

Handler = Callable[[Params, CallContext], Awaitable[Mapping[str, Any]]]


class EcrOperationTable(OperationTable[CallContext]):
    """ECR's table: AccessDenied has no shape in the model, and InvalidLayerPartException carries fields."""

    def __init__(self, model: ServiceModel, error_shapes: Mapping[type[Exception], str]) -> None:
        super().__init__(model, error_shapes, COMMON_ERRORS)

    def find_reply(self, error: Exception) -> ErrorReply | None:
        reply = super().find_reply(error)
        if reply is not None and isinstance(error, errors.InvalidLayerPart):
            fields = {
                "registryId": error.registry_id,
                "repositoryName": error.repository_name,
                "uploadId": error.upload_id,
                "lastValidByteReceived": error.last_valid_byte,
            }
            return ErrorReply(reply.http_status, reply.error_code, reply.message, fields)
        return reply


def ecr_operations(
    model: ServiceModel, operations: EcrOperations, extensions: Sequence[EcrExtension] = ()
) -> OperationTable[CallContext]:
    table = EcrOperationTable(model, ERROR_SHAPES | {k: v for e in extensions for k, v in e.error_shapes().items()})
    for handlers in (operations.handlers(), *(extension.handlers() for extension in extensions)):
        for name, handler in handlers.items():
            table.register(name, handler)
    return table


class EcrOperations:
    """The handlers; `hosts` says where clients reach each registry (repositoryUri, proxyEndpoint, downloadUrl)."""

    def __init__(
        self,
        service: EcrService,
        images: EcrImages,
        layers: EcrLayers,
        authorizer: Authorizer,
        hosts: PublicHosts,
    ) -> None:
        self._service = service
        self._images = images
        self._layers = layers
        self._authorizer = authorizer
        self._hosts = hosts

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateRepository": self.create_repository,
            "DescribeRepositories": self.describe_repositories,
            "DeleteRepository": self.delete_repository,
            "PutImageTagMutability": self.put_image_tag_mutability,
            "SetRepositoryPolicy": self.set_repository_policy,
            "GetRepositoryPolicy": self.get_repository_policy,
            "DeleteRepositoryPolicy": self.delete_repository_policy,
            "PutRegistryPolicy": self.put_registry_policy,
            "GetRegistryPolicy": self.get_registry_policy,
            "DeleteRegistryPolicy": self.delete_registry_policy,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "ListImages": self.list_images,
            "DescribeImages": self.describe_images,
            "BatchGetImage": self.batch_get_image,
            "BatchDeleteImage": self.batch_delete_image,
            "PutImage": self.put_image,
            "BatchCheckLayerAvailability": self.batch_check_layer_availability,
            "InitiateLayerUpload": self.initiate_layer_upload,
            "UploadLayerPart": self.upload_layer_part,
            "CompleteLayerUpload": self.complete_layer_upload,
            "GetDownloadUrlForLayer": self.get_download_url_for_layer,
            "GetAuthorizationToken": self.get_authorization_token,
        }

    # -- repositories --------------------------------------------------------------------------------------

    async def create_repository(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "CreateRepository")
        settings = RepositorySettings(
            mutability_rule(params),
            bool(params.get("imageScanningConfiguration", {}).get("scanOnPush", False)),
            encryption(params.get("encryptionConfiguration")),
        )
        tags = [(tag["Key"], tag["Value"]) for tag in params.get("tags", [])]
        created = await self._service.create_repository(scope, name, settings, tags)
        return {"repository": self._repository_shape(created, context)}

    async def describe_repositories(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = _scope(params, context)
        names = params.get("repositoryNames")
        for name in names or [None]:
            await self._authorize(context, "DescribeRepositories", scope, name)
        found, token = await self._service.describe_repositories(
            scope, names, params.get("nextToken"), params.get("maxResults")
        )
        return {"repositories": [self._repository_shape(r, context) for r in found], "nextToken": token}

    async def delete_repository(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "DeleteRepository")
        deleted = await self._service.delete_repository(scope, name, bool(params.get("force", False)))
        return {"repository": self._repository_shape(deleted, context)}

    def _repository_shape(self, record: RepositoryRecord, context: CallContext) -> dict[str, Any]:
        return repository_shape(record, self._hosts.repository_uri(record.scope, record.name, context.host))

    async def put_image_tag_mutability(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "PutImageTagMutability")
        rule = mutability_rule(params)
        await self._service.put_tag_mutability(scope, name, rule)
        return {"registryId": scope.account_id, "repositoryName": name, **mutability_shape(rule)}

    # -- policies ------------------------------------------------------------------------------------------

    async def set_repository_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "SetRepositoryPolicy")
        text = params["policyText"]
        _validate_policy(text, INVALID_REPOSITORY_POLICY)
        await self._service.set_repository_policy(scope, name, text)
        return {"registryId": scope.account_id, "repositoryName": name, "policyText": text}

    async def get_repository_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "GetRepositoryPolicy")
        text = await self._service.get_repository_policy(scope, name)
        return {"registryId": scope.account_id, "repositoryName": name, "policyText": text}

    async def delete_repository_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "DeleteRepositoryPolicy")
        text = await self._service.delete_repository_policy(scope, name)
        return {"registryId": scope.account_id, "repositoryName": name, "policyText": text}

    async def put_registry_policy(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "PutRegistryPolicy")
        text = params["policyText"]
        _validate_policy(text, INVALID_REGISTRY_POLICY)
        await self._service.put_registry_policy(scope, text)
        return {"registryId": scope.account_id, "policyText": text}

    async def get_registry_policy(self, _params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "GetRegistryPolicy")
        return {"registryId": scope.account_id, "policyText": await self._service.get_registry_policy(scope)}

    async def delete_registry_policy(self, _params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "DeleteRegistryPolicy")
        return {"registryId": scope.account_id, "policyText": await self._service.delete_registry_policy(scope)}

    # -- resource tags -------------------------------------------------------------------------------------

    async def tag_resource(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        await self._resource(params, context, "TagResource")
        tags = [(tag["Key"], tag["Value"]) for tag in params["tags"]]
        await self._service.tag_resource(params["resourceArn"], tags)
        return {}

    async def untag_resource(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        await self._resource(params, context, "UntagResource")
        await self._service.untag_resource(params["resourceArn"], params["tagKeys"])
        return {}

    async def list_tags_for_resource(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        await self._resource(params, context, "ListTagsForResource")
        tags = await self._service.list_tags_for_resource(params["resourceArn"])
        return {"tags": [{"Key": key, "Value": value} for key, value in tags]}

    # -- images --------------------------------------------------------------------------------------------

    async def list_images(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "ListImages")
        found, token = await self._images.list_images(
            scope, name, tag_status(params), params.get("nextToken"), params.get("maxResults")
        )
        return {"imageIds": [image_id_shape(image) for image in found], "nextToken": token}

    async def describe_images(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "DescribeImages")
        requests = [image_request(image_id) for image_id in params.get("imageIds", [])]
        found, token = await self._images.describe_images(
            scope, name, requests, tag_status(params), params.get("nextToken"), params.get("maxResults")
        )
        return {"imageDetails": [image_detail_shape(scope, name, d) for d in found], "nextToken": token}

    async def batch_get_image(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "BatchGetImage")
        requests = [image_request(image_id) for image_id in params["imageIds"]]
        found, failures = await self._images.batch_get_image(
            scope, name, requests, params.get("acceptedMediaTypes"), context.principal.principal_arn
        )
        return {
            "images": [image_shape(scope, name, item.manifest, item.request.tag) for item in found],
            "failures": [failure_shape(failure) for failure in failures],
        }

    async def batch_delete_image(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "BatchDeleteImage")
        requests = [image_request(image_id) for image_id in params["imageIds"]]
        deleted, failures = await self._images.batch_delete_image(scope, name, requests)
        return {
            "imageIds": [image_id_shape(image) for image in deleted],
            "failures": [failure_shape(failure) for failure in failures],
        }

    async def put_image(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "PutImage")
        tag = params.get("imageTag")
        stored = await self._images.put_image(
            scope,
            name,
            params["imageManifest"],
            params.get("imageManifestMediaType"),
            tag,
            params.get("imageDigest"),
        )
        return {"image": image_shape(scope, name, stored, tag)}

    # -- layers --------------------------------------------------------------------------------------------

    async def batch_check_layer_availability(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "BatchCheckLayerAvailability")
        checks = await self._layers.check_layers(scope, name, params["layerDigests"])
        return {
            "layers": [
                {"layerDigest": c.digest, "layerAvailability": "AVAILABLE", "layerSize": c.size}
                for c in checks
                if c.failure is None
            ],
            "failures": [
                {"layerDigest": c.digest, "failureCode": c.failure[0], "failureReason": c.failure[1]}
                for c in checks
                if c.failure is not None
            ],
        }

    async def initiate_layer_upload(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "InitiateLayerUpload")
        return {"uploadId": await self._layers.initiate_layer_upload(scope, name), "partSize": PART_SIZE}

    async def upload_layer_part(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "UploadLayerPart")
        upload_id = params["uploadId"]
        last = await self._layers.upload_layer_part(
            scope, name, upload_id, params["partFirstByte"], params["partLastByte"], params["layerPartBlob"]
        )
        return {
            "registryId": scope.account_id,
            "repositoryName": name,
            "uploadId": upload_id,
            "lastByteReceived": last,
        }

    async def complete_layer_upload(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "CompleteLayerUpload")
        upload_id = params["uploadId"]
        digest = await self._layers.complete_layer_upload(scope, name, upload_id, params["layerDigests"])
        return {
            "registryId": scope.account_id,
            "repositoryName": name,
            "uploadId": upload_id,
            "layerDigest": str(digest),
        }

    async def get_download_url_for_layer(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "GetDownloadUrlForLayer")
        digest = params["layerDigest"]
        path = await self._layers.download_path(scope, name, digest)
        return {"downloadUrl": self._hosts.registry_url(scope, context.host) + path, "layerDigest": digest}

    # -- authorization tokens ------------------------------------------------------------------------------

    async def get_authorization_token(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        await self._authorize(context, "GetAuthorizationToken", None, None)
        issued = self._service.authorization_token(
            context.principal, context.access_key_id, context.credentials_expire_at
        )
        data = {
            "authorizationToken": basic_credentials(issued.token),
            "expiresAt": issued.expires_at,
            # The caller's own registry in the call's region, as ECR's is https://<account>.dkr.ecr.<region>...
            "proxyEndpoint": self._hosts.registry_url(RegistryScope(context.account, context.region), context.host),
        }
        return {"authorizationData": [data for _ in params.get("registryIds") or [None]]}

    # -- authorization -------------------------------------------------------------------------------------

    async def _repository(self, params: Params, context: CallContext, operation: str) -> tuple[RegistryScope, str]:
        scope, name = _scope(params, context), params["repositoryName"]
        await self._authorize(context, operation, scope, name)
        return scope, name

    async def _registry(self, context: CallContext, operation: str) -> RegistryScope:
        scope = RegistryScope(context.account, context.region)
        await self._authorize(context, operation, None, None)
        return scope

    async def _resource(self, params: Params, context: CallContext, operation: str) -> None:
        scope, name = repository_of_arn(params["resourceArn"])
        await self._authorize(context, operation, scope, name)

    async def authorize(
        self, context: CallContext, operation: str, scope: RegistryScope | None, repository: str | None
    ) -> None:
        """Raises AccessDenied unless `ecr:<operation>` is allowed: on `*` without a scope, on the scope's
        `repository/*` without a repository, else on the repository (its policy as the resource policy)."""
        await self._authorize(context, operation, scope, repository)

    async def _authorize(
        self, context: CallContext, operation: str, scope: RegistryScope | None, repository: str | None
    ) -> None:
        """Raises AccessDenied. Without a repository the resource is the registry as a whole."""
        policy = None
        if scope is None:
            resource, account = REGISTRY_WIDE, context.account
        elif repository is None:
            resource, account = scope.repository_arn("*"), scope.account_id
        else:
            resource, account = scope.repository_arn(repository), scope.account_id
            policy = await self._repository_policy(scope, repository, resource)
        keys = {
            "aws:SourceIp": context.source_ip,
            "aws:SecureTransport": "true" if context.secure_transport else "false",
            "aws:CurrentTime": context.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:RequestedRegion": context.region,
        }
        await self._authorizer.authorize(
            AccessRequest(context.principal, f"ecr:{operation}", resource, account, policy, keys)
        )

    async def _repository_policy(self, scope: RegistryScope, name: str, arn: str) -> SourcedPolicy | None:
        text = await self._service.find_repository_policy(scope, name)
        if text is None:
            return None
        try:
            return SourcedPolicy(parse_policy(text, PolicyKind.RESOURCE), arn, PolicySourceType.RESOURCE)
        except MalformedPolicyDocument:
            return None


def _scope(params: Params, context: CallContext) -> RegistryScope:
    return RegistryScope(params.get("registryId") or context.account, context.region)


def _validate_policy(text: str, message: str) -> None:
    try:
        parse_policy(text, PolicyKind.RESOURCE)
    except MalformedPolicyDocument:
        raise errors.InvalidParameter(message) from None
