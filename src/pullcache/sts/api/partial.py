"""What the STS operations do not do of what STS's model offers: the notes the README's compatibility table shows
for them (testkit/compatibility.py). Every operation not named here does all its model asks; a note names only an
operation the server serves (the table's generator refuses any other)."""

from __future__ import annotations

from collections.abc import Mapping

PARTIAL_OPERATIONS: Mapping[str, str] = {
    "AssumeRole": "`ProvidedContexts` and `MinimumSessionTokenSize` are not read",
    "GetSessionToken": "`MinimumSessionTokenSize` is not read; no MFA devices exist, so `SerialNumber`/`TokenCode` "
    "are always refused",
    "DecodeAuthorizationMessage": "no operation here returns an encoded authorization message (as on AWS, none of "
    "ECR, IAM, STS and Secrets Manager does), so every message is refused (`InvalidAuthorizationMessageException`)",
}
