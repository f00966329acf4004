"""The registry scanning configuration ECR accepts, and each repository's effective configuration under it."""

from __future__ import annotations

import pytest

from pullcache.ecr.errors import InvalidParameter
from pullcache.ecr.ports import ScanningConfiguration, ScanningRule
from pullcache.ecr.scanning import RepositoryScanning, check_scanning_configuration, effective_scanning

ENHANCED = ScanningConfiguration(
    "ENHANCED",
    (ScanningRule("SCAN_ON_PUSH", ("team/*", "prod-*")), ScanningRule("CONTINUOUS_SCAN", ("prod-*",))),
)


@pytest.mark.parametrize(
    "configuration",
    [
        ScanningConfiguration(),
        ScanningConfiguration("BASIC", (ScanningRule("SCAN_ON_PUSH", ("*",)), ScanningRule("MANUAL", ("a",)))),
        ENHANCED,
    ],
)
def test_the_frequencies_each_scan_type_offers_are_accepted(configuration: ScanningConfiguration) -> None:
    check_scanning_configuration(configuration)


@pytest.mark.parametrize(
    ("configuration", "reason"),
    [
        (ScanningConfiguration("BASIC", (ScanningRule("CONTINUOUS_SCAN", ("*",)),)), "not supported for scan type"),
        (ScanningConfiguration("ENHANCED", (ScanningRule("MANUAL", ("*",)),)), "not supported for scan type"),
        (
            ScanningConfiguration(
                "BASIC", (ScanningRule("SCAN_ON_PUSH", ("a",)), ScanningRule("SCAN_ON_PUSH", ("b",)))
            ),
            "only one rule per scan frequency",
        ),
    ],
)
def test_other_frequencies_are_invalid_parameters(configuration: ScanningConfiguration, reason: str) -> None:
    with pytest.raises(InvalidParameter, match=reason):
        check_scanning_configuration(configuration)


def test_the_effective_frequency_is_the_matching_rules_continuous_first_then_the_repositorys_own() -> None:
    assert effective_scanning(ENHANCED, "prod-api", False) == RepositoryScanning(
        "prod-api", False, "CONTINUOUS_SCAN", ("prod-*",)
    )
    assert effective_scanning(ENHANCED, "team/app", False) == RepositoryScanning(
        "team/app", True, "SCAN_ON_PUSH", ("team/*",)
    )
    assert effective_scanning(ENHANCED, "teamapp", False) == RepositoryScanning("teamapp", False, "MANUAL", ())
    assert effective_scanning(ScanningConfiguration(), "any", True) == RepositoryScanning(
        "any", True, "SCAN_ON_PUSH", ()
    )
