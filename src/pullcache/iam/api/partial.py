"""What the IAM operations do not do of what IAM's model offers: the notes the README's compatibility table shows
for them (testkit/compatibility.py). Every operation not named here does all its model asks; a note names only an
operation the server serves (the table's generator refuses any other)."""

from __future__ import annotations

from collections.abc import Mapping

PARTIAL_OPERATIONS: Mapping[str, str] = {
    "CreateRole": "`MaxSigninSessionDuration` is not read",
    "UpdateRole": "`MaxSigninSessionDuration` and `ResetMaxSigninSessionDuration` are not read",
    "SimulateCustomPolicy": "`ResourceHandlingOption` and `OrderedOrganizationPolicyInputList` are not read",
    "SimulatePrincipalPolicy": "`ResourceHandlingOption` and `PolicyExclusionList` are not read",
}
