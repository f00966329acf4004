"""What the Secrets Manager operations do not do of what its model offers: the notes the README's compatibility
table shows for them (testkit/compatibility.py). Every operation not named here does all its model asks; a note
names only an operation the server serves (the table's generator refuses any other)."""

from __future__ import annotations

from collections.abc import Mapping

_NO_KMS = "`KmsKeyId` is not read (values are sealed with the server's own key)"

PARTIAL_OPERATIONS: Mapping[str, str] = {
    "CreateSecret": f"{_NO_KMS}; no replicas (`AddReplicaRegions`); `Type` and `CrossAccountPrimaryARN` are not read",
    "UpdateSecret": f"{_NO_KMS}; `Type` is not read",
    "PutSecretValue": "`RotationToken` is not read (no rotation)",
    "ListSecretVersionIds": "`LastAccessedDate` and `KmsKeyIds` are not returned; deprecated versions are all kept",
    "TagResource": "the limit of 50 tags and the reserved `aws:` prefix are not enforced",
    "PutResourcePolicy": "`PolicyName` is not read (one policy per secret); broad access is judged by a stated "
    "rule (every principal, no account or organization condition), not AWS's automated reasoning",
    "GetResourcePolicy": "`PolicyName` is not read (one policy per secret)",
    "DeleteResourcePolicy": "`PolicyName` is not read (one policy per secret)",
    "ValidateResourcePolicy": "checks the grammar and broad access only (not lockout)",
}
