"""ECR's domain errors, named as ECR names them, carrying facts; the messages are ECR's texts.

EcrError
├── InvalidParameter, InvalidTagParameter, TooManyTags              (the request is not acceptable)
├── RepositoryNotFound, RepositoryPolicyNotFound, RegistryPolicyNotFound, ImageNotFound, UploadNotFound,
│   LifecyclePolicyNotFound
├── RepositoryAlreadyExists, RepositoryNotEmpty                      (the repository is not as required)
├── ImageAlreadyExists, ImageTagAlreadyExists, ImageDigestDoesNotMatch,
│   LayersNotFound, ReferencedImagesNotFound                        (PutImage refused)
├── InvalidLayerPart, InvalidLayer, LayerAlreadyExists, EmptyUpload  (the layer upload refused)
├── LifecyclePolicyPreviewNotFound, LifecyclePolicyPreviewInProgress (lifecycle policy previews)
├── ScanNotFound, UnsupportedImageType                              (no scanner: scans never exist)
└── ExclusionAlreadyExists, ExclusionNotFound, LimitExceeded        (registry settings)

operations.py maps each to the error shape of the same name in ECR's model.
"""

from __future__ import annotations

from collections.abc import Sequence

from pullcache.core.scopes import RegistryScope


class EcrError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(EcrError):
    pass


class InvalidTagParameter(EcrError):
    pass


class TooManyTags(EcrError):
    pass


class RepositoryNotFound(EcrError):
    def __init__(self, scope: RegistryScope, name: str) -> None:
        super().__init__(
            f"The repository with name '{name}' does not exist in the registry with id '{scope.account_id}'"
        )
        self.scope = scope
        self.name = name


class RepositoryAlreadyExists(EcrError):
    def __init__(self, scope: RegistryScope, name: str) -> None:
        super().__init__(
            f"The repository with name '{name}' already exists in the registry with id '{scope.account_id}'"
        )


class RepositoryNotEmpty(EcrError):
    def __init__(self, scope: RegistryScope, name: str) -> None:
        super().__init__(
            f"The repository with name '{name}' in registry with id '{scope.account_id}' cannot be deleted "
            "because it still contains images"
        )


class RepositoryPolicyNotFound(EcrError):
    def __init__(self, scope: RegistryScope, name: str) -> None:
        super().__init__(
            f"Repository policy does not exist for the repository with name '{name}' in the registry with id "
            f"'{scope.account_id}'"
        )


class LifecyclePolicyNotFound(EcrError):
    def __init__(self, scope: RegistryScope, name: str) -> None:
        # Reasoned: worded as RepositoryPolicyNotFound is.
        super().__init__(
            f"Lifecycle policy does not exist for the repository with name '{name}' in the registry with id "
            f"'{scope.account_id}'"
        )


class RegistryPolicyNotFound(EcrError):
    def __init__(self, scope: RegistryScope) -> None:
        super().__init__(f"Registry policy does not exist in the registry with id '{scope.account_id}'")


class ImageNotFound(EcrError):
    def __init__(self, scope: RegistryScope, name: str, digest: str | None, tag: str | None) -> None:
        super().__init__(
            f"The image with imageId {{imageDigest:'{digest or 'null'}', imageTag:'{tag or 'null'}'}} does not "
            f"exist within the repository with name '{name}' in the registry with id '{scope.account_id}'"
        )


class ImageAlreadyExists(EcrError):
    def __init__(self, scope: RegistryScope, name: str, digest: str, tag: str | None) -> None:
        super().__init__(
            f"Image with digest '{digest}' and tag '{tag or 'null'}' already exists in the repository with name "
            f"'{name}' in registry with id '{scope.account_id}'"
        )


class ImageTagAlreadyExists(EcrError):
    pass  # the message is the registry's TagImmutable text


class ImageDigestDoesNotMatch(EcrError):
    def __init__(self, given: str, computed: str) -> None:
        super().__init__(f"Provided image digest '{given}' does not match the calculated digest '{computed}'")


class LayersNotFound(EcrError):
    def __init__(self, scope: RegistryScope, name: str, digests: Sequence[str]) -> None:
        super().__init__(
            f"Layers with digests '[{', '.join(digests)}]' required for pushing image into repository with name "
            f"'{name}' in the registry with id '{scope.account_id}' do not exist"
        )


class ReferencedImagesNotFound(EcrError):
    def __init__(self, scope: RegistryScope, name: str, digests: Sequence[str]) -> None:
        super().__init__(
            f"Images with digests '[{', '.join(digests)}]' required for pushing image into repository with name "
            f"'{name}' in the registry with id '{scope.account_id}' do not exist"
        )


class UploadNotFound(EcrError):
    def __init__(self, scope: RegistryScope, name: str, upload_id: str) -> None:
        super().__init__(
            f"Upload with id '{upload_id}' does not exist in the repository with name '{name}' in the registry "
            f"with id '{scope.account_id}'"
        )


class InvalidLayerPart(EcrError):
    """A part that does not start where the upload ends; `last_valid_byte` is where it does end (-1: empty)."""

    def __init__(self, scope: RegistryScope, name: str, upload_id: str, first_byte: int, last_valid_byte: int) -> None:
        super().__init__(
            f"The layer part starting at byte {first_byte} is out of order; the last valid byte received for "
            f"upload '{upload_id}' is {last_valid_byte}"
        )
        self.registry_id = scope.account_id
        self.repository_name = name
        self.upload_id = upload_id
        self.last_valid_byte = last_valid_byte


class InvalidLayer(EcrError):
    pass


class LayerAlreadyExists(EcrError):
    def __init__(self, scope: RegistryScope, name: str, digest: str) -> None:
        super().__init__(
            f"The layer with digest '{digest}' already exists in the repository with name '{name}' in the registry "
            f"with id '{scope.account_id}'"
        )


class EmptyUpload(EcrError):
    def __init__(self, upload_id: str) -> None:
        super().__init__(f"The upload with id '{upload_id}' has no layer parts")


# -- lifecycle policy previews, scanning, registry settings ---------------------------------------------------


class LifecyclePolicyPreviewNotFound(EcrError):
    def __init__(self, scope: RegistryScope, name: str) -> None:
        # Reasoned: worded as LifecyclePolicyNotFound is.
        super().__init__(
            f"Lifecycle policy preview does not exist for the repository with name '{name}' in the registry with id "
            f"'{scope.account_id}'"
        )


class LifecyclePolicyPreviewInProgress(EcrError):
    def __init__(self, scope: RegistryScope, name: str) -> None:
        # The model's documentation of the error, with the repository named.
        super().__init__(
            f"The previous lifecycle policy preview request for the repository with name '{name}' in the registry "
            f"with id '{scope.account_id}' has not completed. Wait and try again."
        )


class ScanNotFound(EcrError):
    pass


class UnsupportedImageType(EcrError):
    pass


class ExclusionAlreadyExists(EcrError):
    def __init__(self, principal_arn: str) -> None:
        # Reasoned: the model's documentation of the error, with the principal named.
        super().__init__(f"The pull time update exclusion for '{principal_arn}' already exists for the registry")


class ExclusionNotFound(EcrError):
    def __init__(self, principal_arn: str) -> None:
        # Reasoned: the model's documentation of the error, with the principal named.
        super().__init__(f"The pull time update exclusion for '{principal_arn}' was not found")


class LimitExceeded(EcrError):
    pass
