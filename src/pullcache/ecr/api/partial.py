"""What ECR's own operations do not do of what ECR's model offers: the notes the README's compatibility table shows
for them (testkit/compatibility.py). Every operation not named here does all its model asks; a note names only an
operation the server serves (the table's generator refuses any other). The pull-through cache's operations keep
their notes beside their handlers (pullthrough/api/partial.py)."""

from __future__ import annotations

from collections.abc import Mapping

_NO_SCANNER = "no image scanner is configured: an image that exists answers"

PARTIAL_OPERATIONS: Mapping[str, str] = {
    "CreateRepository": "`encryptionConfiguration` is kept and reported; blobs are not encrypted with a KMS key",
    "PutLifecyclePolicy": "no archival (`transition`); `lastEvaluatedAt` is not reported",
    "StartImageScan": f"{_NO_SCANNER} `UnsupportedImageTypeException`",
    "DescribeImageScanFindings": f"{_NO_SCANNER} `ScanNotFoundException`",
    "PutReplicationConfiguration": "`deleteReplication` enabled is refused (deletions are not replicated); images "
    "are copied to the accounts this server holds, a destination in any other fails (`RegistryNotFound`)",
}
