"""ECR's scanning operations: PutRegistryScanningConfiguration, GetRegistryScanningConfiguration,
BatchGetRepositoryScanningConfiguration, PutImageScanningConfiguration, StartImageScan, DescribeImageScanFindings
(ecr/scanning.py says why the last two answer UnsupportedImageTypeException and ScanNotFoundException).

The registry's configuration is authorized on `*`, the others as every repository operation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pullcache.auth.call_context import CallContext
from pullcache.aws.operations import Handler
from pullcache.aws.wire import Params
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.api.ports import RepositoryAuthorizer
from pullcache.ecr.ports import ScanningConfiguration, ScanningRule
from pullcache.ecr.scanning import EcrScanning

WILDCARD = "WILDCARD"


class ScanningOperations:
    def __init__(self, scanning: EcrScanning, authorize: RepositoryAuthorizer) -> None:
        self._scanning = scanning
        self._authorize = authorize

    def handlers(self) -> Mapping[str, Handler[CallContext]]:
        return {
            "PutRegistryScanningConfiguration": self.put_registry_scanning_configuration,
            "GetRegistryScanningConfiguration": self.get_registry_scanning_configuration,
            "PutImageScanningConfiguration": self.put_image_scanning_configuration,
            "BatchGetRepositoryScanningConfiguration": self.batch_get_repository_scanning_configuration,
            "StartImageScan": self.start_image_scan,
            "DescribeImageScanFindings": self.describe_image_scan_findings,
        }

    def error_shapes(self) -> Mapping[type[Exception], str]:
        return {}  # ECR's own errors (ecr/errors.py), mapped by ecr/api/operations.py

    async def put_registry_scanning_configuration(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "PutRegistryScanningConfiguration")
        rules = tuple(
            ScanningRule(rule["scanFrequency"], tuple(f["filter"] for f in rule["repositoryFilters"]))
            for rule in params.get("rules") or ()
        )
        stored = await self._scanning.put_registry_configuration(
            scope, ScanningConfiguration(params.get("scanType", "BASIC"), rules)
        )
        return {"registryScanningConfiguration": _configuration_shape(stored)}

    async def get_registry_scanning_configuration(self, _params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(context, "GetRegistryScanningConfiguration")
        configuration = await self._scanning.get_registry_configuration(scope)
        return {"registryId": scope.account_id, "scanningConfiguration": _configuration_shape(configuration)}

    async def batch_get_repository_scanning_configuration(
        self, params: Params, context: CallContext
    ) -> Mapping[str, Any]:
        scope = RegistryScope(context.account, context.region)
        names = params["repositoryNames"]
        for name in names:
            await self._authorize(context, "BatchGetRepositoryScanningConfiguration", scope, name)
        found, missing = await self._scanning.repository_configurations(scope, names)
        return {
            "scanningConfigurations": [
                {
                    "repositoryArn": scope.repository_arn(item.name),
                    "repositoryName": item.name,
                    "scanOnPush": item.scan_on_push,
                    "scanFrequency": item.frequency,
                    "appliedScanFilters": [{"filter": f, "filterType": WILDCARD} for f in item.applied_filters],
                }
                for item in found
            ],
            "failures": [
                # Reasoned: the failure code is the model's only one; the reason says it in words.
                {
                    "repositoryName": name,
                    "failureCode": "REPOSITORY_NOT_FOUND",
                    "failureReason": f"The repository with name '{name}' does not exist in the registry with id "
                    f"'{scope.account_id}'",
                }
                for name in missing
            ],
        }

    async def put_image_scanning_configuration(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "PutImageScanningConfiguration")
        scan_on_push = bool(params["imageScanningConfiguration"].get("scanOnPush", False))
        await self._scanning.put_scan_on_push(scope, name, scan_on_push)
        return {
            "registryId": scope.account_id,
            "repositoryName": name,
            "imageScanningConfiguration": {"scanOnPush": scan_on_push},
        }

    async def start_image_scan(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "StartImageScan")
        image_id = params["imageId"]
        await self._scanning.start_image_scan(scope, name, image_id.get("imageDigest"), image_id.get("imageTag"))
        return {}  # not reached: there is no scanner to start

    async def describe_image_scan_findings(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope, name = await self._repository(params, context, "DescribeImageScanFindings")
        image_id = params["imageId"]
        await self._scanning.describe_findings(scope, name, image_id.get("imageDigest"), image_id.get("imageTag"))
        return {}  # not reached: no scan exists

    async def _registry(self, context: CallContext, operation: str) -> RegistryScope:
        await self._authorize(context, operation, None, None)
        return RegistryScope(context.account, context.region)

    async def _repository(self, params: Params, context: CallContext, operation: str) -> tuple[RegistryScope, str]:
        scope = RegistryScope(params.get("registryId") or context.account, context.region)
        name = params["repositoryName"]
        await self._authorize(context, operation, scope, name)
        return scope, name


def _configuration_shape(configuration: ScanningConfiguration) -> dict[str, Any]:
    return {
        "scanType": configuration.scan_type,
        "rules": [
            {
                "scanFrequency": rule.frequency,
                "repositoryFilters": [{"filter": f, "filterType": WILDCARD} for f in rule.filters],
            }
            for rule in configuration.rules
        ],
    }
