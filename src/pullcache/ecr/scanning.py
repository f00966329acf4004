"""Image scanning: the registry's scanning configuration and the repositories' scanOnPush flag, stored as ECR
stores them; scans themselves are not run, because no scanner is configured on this server.

PutRegistryScanningConfiguration is checked as ECR documents it: BASIC scanning scans on push or manually,
ENHANCED scanning on push or continuously; a rule per frequency (the model allows two rules). The repository
filters are kept as given (the model checks their pattern).

BatchGetRepositoryScanningConfiguration reports each repository's effective configuration (reasoned from the
documentation of the two levels, registry and repository): the frequency of the registry's rule whose WILDCARD
filters match the repository's name (CONTINUOUS_SCAN before SCAN_ON_PUSH), with the filters that matched; else
SCAN_ON_PUSH when the repository's own scanOnPush is set; else MANUAL (with the MANUAL rule's filters that match,
if any). scanOnPush is true when the repository's images would be scanned on push.

StartImageScan and DescribeImageScanFindings first answer for the repository and the image as ECR does
(RepositoryNotFoundException, ImageNotFoundException), then with the model's own error shapes for "there is
nothing to scan with": StartImageScan with UnsupportedImageTypeException ("the image is of a type that cannot be
scanned" - here, every type), a client error the SDKs do not retry, rather than LimitExceededException (retried as
throttling) or ServerException (retried, and a fault of the service); DescribeImageScanFindings with
ScanNotFoundException, which is exactly the case: no scan of the image exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter, RepositoryNotFound, ScanNotFound, UnsupportedImageType
from pullcache.ecr.images import EcrImages, ImageRequest
from pullcache.ecr.ports import RegistrySettingsStore, RepositoryRecords, ScanningConfiguration, TagStatus

BASIC = "BASIC"
ENHANCED = "ENHANCED"
SCAN_ON_PUSH = "SCAN_ON_PUSH"
CONTINUOUS_SCAN = "CONTINUOUS_SCAN"
MANUAL = "MANUAL"
FREQUENCIES = {BASIC: (SCAN_ON_PUSH, MANUAL), ENHANCED: (SCAN_ON_PUSH, CONTINUOUS_SCAN)}
NO_SCANNER = "no image scanner is configured on this registry"


@dataclass(frozen=True, slots=True)
class RepositoryScanning:
    """A repository's effective scanning configuration (BatchGetRepositoryScanningConfiguration)."""

    name: str
    scan_on_push: bool
    frequency: str
    applied_filters: tuple[str, ...]


class EcrScanning:
    def __init__(
        self,
        store: RegistrySettingsStore,
        repositories: RepositoryRecords,
        images: EcrImages,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._repositories = repositories
        self._images = images
        self._clock = clock

    async def put_registry_configuration(
        self, scope: RegistryScope, configuration: ScanningConfiguration
    ) -> ScanningConfiguration:
        """Raises InvalidParameter."""
        check_scanning_configuration(configuration)
        await self._store.set_scanning_configuration(scope, configuration, self._clock())
        return configuration

    async def get_registry_configuration(self, scope: RegistryScope) -> ScanningConfiguration:
        return await self._store.find_scanning_configuration(scope) or ScanningConfiguration()

    async def repository_configurations(
        self, scope: RegistryScope, names: Sequence[str]
    ) -> tuple[list[RepositoryScanning], list[str]]:
        """The effective configuration of each repository that exists, and the names of those that do not."""
        registry = await self.get_registry_configuration(scope)
        found: list[RepositoryScanning] = []
        missing: list[str] = []
        for name in dict.fromkeys(names):
            record = await self._repositories.find_repository(scope, name)
            if record is None:
                missing.append(name)
            else:
                found.append(effective_scanning(registry, name, record.settings.scan_on_push))
        return found, missing

    async def put_scan_on_push(self, scope: RegistryScope, name: str, scan_on_push: bool) -> None:
        """Raises RepositoryNotFound."""
        if not await self._store.set_scan_on_push(scope, name, scan_on_push):
            raise RepositoryNotFound(scope, name)

    async def start_image_scan(self, scope: RegistryScope, name: str, digest: str | None, tag: str | None) -> None:
        """Raises RepositoryNotFound, ImageNotFound, else UnsupportedImageType: there is no scanner."""
        await self._check_image(scope, name, digest, tag)
        raise UnsupportedImageType(f"The image cannot be scanned: {NO_SCANNER}")

    async def describe_findings(self, scope: RegistryScope, name: str, digest: str | None, tag: str | None) -> None:
        """Raises RepositoryNotFound, ImageNotFound, else ScanNotFound: no scan was ever made."""
        await self._check_image(scope, name, digest, tag)
        raise ScanNotFound(f"The specified image scan could not be found: {NO_SCANNER}")

    async def _check_image(self, scope: RegistryScope, name: str, digest: str | None, tag: str | None) -> None:
        """Raises RepositoryNotFound, ImageNotFound (as DescribeImages does for the same imageId)."""
        await self._images.describe_images(scope, name, [ImageRequest(digest, tag)], TagStatus.ANY, None, None)


def effective_scanning(registry: ScanningConfiguration, name: str, scan_on_push: bool) -> RepositoryScanning:
    """The frequency a repository is scanned at under `registry`, with the filters that select it."""
    matched = {
        rule.frequency: tuple(f for f in rule.filters if _wildcard(f).fullmatch(name)) for rule in registry.rules
    }
    for frequency in (CONTINUOUS_SCAN, SCAN_ON_PUSH):
        if matched.get(frequency):
            return RepositoryScanning(name, frequency == SCAN_ON_PUSH, frequency, matched[frequency])
    if scan_on_push:
        return RepositoryScanning(name, True, SCAN_ON_PUSH, ())
    return RepositoryScanning(name, False, MANUAL, matched.get(MANUAL, ()))


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def check_scanning_configuration(configuration: ScanningConfiguration) -> None:
    """Raises InvalidParameter for a frequency the scan type does not offer, or a frequency given twice."""
    allowed = FREQUENCIES[configuration.scan_type]
    seen: set[str] = set()
    for rule in configuration.rules:
        if rule.frequency not in allowed:
            # Reasoned: ECR's form for a parameter it refuses; the reason is pullcache's words.
            raise InvalidParameter(
                "Invalid parameter at 'scanFrequency' failed to satisfy constraint: 'scan frequency "
                f"{rule.frequency} is not supported for scan type {configuration.scan_type}: use one of "
                f"{', '.join(allowed)}'"
            )
        if rule.frequency in seen:
            raise InvalidParameter(
                "Invalid parameter at 'rules' failed to satisfy constraint: 'only one rule per scan frequency "
                f"is allowed; {rule.frequency} is given twice'"
            )
        seen.add(rule.frequency)
