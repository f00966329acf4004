"""The shape of an audit event, as CloudTrail writes a record (eventVersion 1.08).

    {"eventVersion": "1.08", "userIdentity": {...}, "eventTime": "2026-01-02T03:04:05Z",
     "eventSource": "ecr.amazonaws.com", "eventName": "CreateRepository", "awsRegion": "us-east-1",
     "sourceIPAddress": "127.0.0.1", "userAgent": "Boto3/1.35", "requestParameters": {...},
     "responseElements": {...}, "requestID": "...", "eventID": "...", "readOnly": false,
     "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "123456789012",
     "eventCategory": "Management"}

A failed call carries `errorCode` and `errorMessage` too. `userIdentity` is the caller as CloudTrail names it: Root,
IAMUser (with userName) or AssumedRole (with sessionContext.sessionIssuer, the role), with the access key that
signed; a write the pull-through cache made as its service-linked role names the service in `invokedBy`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pullcache.policy import PrincipalType, RequestPrincipal

EVENT_VERSION: Final = "1.08"
API_CALL: Final = "AwsApiCall"
SERVICE_EVENT: Final = "AwsServiceEvent"
Event = dict[str, Any]

# The caller types CloudTrail writes, by the policy engine's principal types.
_IDENTITY_TYPES: Final[Mapping[PrincipalType, str]] = {
    PrincipalType.ACCOUNT: "Root",
    PrincipalType.USER: "IAMUser",
    PrincipalType.ASSUMED_ROLE: "AssumedRole",
    PrincipalType.FEDERATED_USER: "FederatedUser",
}
# What CloudTrail writes for a caller without credentials.
ANONYMOUS_IDENTITY: Final[Mapping[str, str]] = {
    "type": "AWSAccount",
    "principalId": "",
    "accountId": "ANONYMOUS_PRINCIPAL",
}


def event_source(service: str) -> str:
    """`ecr` -> `ecr.amazonaws.com`: the service as CloudTrail's eventSource names it."""
    return f"{service}.amazonaws.com"


def event_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def user_identity(
    principal: RequestPrincipal | None,
    access_key_id: str | None = None,
    invoked_by: str | None = None,
    session_created_at: datetime | None = None,
) -> dict[str, Any]:
    """The caller as CloudTrail's userIdentity element shows it; None: a caller no credentials named.
    `session_created_at`: when the caller's session began (sessionContext.attributes.creationDate), if known."""
    if principal is None or principal.type is PrincipalType.ANONYMOUS:
        return dict(ANONYMOUS_IDENTITY)
    identity: dict[str, Any] = {
        "type": _IDENTITY_TYPES.get(principal.type, str(principal.type)),
        "principalId": principal.user_id or "",
        "arn": principal.arn,
        "accountId": principal.account or "",
    }
    key = access_key_id or principal.session_id
    if key:
        identity["accessKeyId"] = key
    if principal.type is PrincipalType.USER and principal.user_name is not None:
        identity["userName"] = principal.user_name
    if principal.role_arn is not None:
        role_id = (principal.user_id or "").split(":", 1)[0]
        identity["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": principal.role_arn,
                "accountId": principal.account or "",
                "userName": principal.role_arn.rsplit("/", 1)[-1],
            },
            "attributes": _session_attributes(session_created_at),
        }
    elif principal.session_id is not None:  # a GetSessionToken session of a user
        identity["sessionContext"] = {"attributes": _session_attributes(session_created_at)}
    if invoked_by is not None:
        identity["invokedBy"] = invoked_by
    return identity


def _session_attributes(created_at: datetime | None) -> dict[str, str]:
    """A session's attributes as CloudTrail writes them: its creation (when known), and no MFA (none is asked)."""
    attributes = {} if created_at is None else {"creationDate": event_time(created_at)}
    attributes["mfaAuthenticated"] = "false"
    return attributes


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What every event says of its call beyond the caller and its parameters."""

    service: str
    name: str
    region: str
    account: str  # the account whose resources the call acted on
    at: datetime
    source_ip: str
    user_agent: str
    request_id: str
    read_only: bool = False
    event_type: str = API_CALL


def new_event(
    facts: CallFacts,
    identity: Mapping[str, Any],
    request_parameters: Mapping[str, Any] | None,
    response_elements: Mapping[str, Any] | None,
    error_code: str | None = None,
    error_message: str | None = None,
) -> Event:
    """One event, its fields in CloudTrail's order; errorCode and errorMessage only for a failed call."""
    event: Event = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": dict(identity),
        "eventTime": event_time(facts.at),
        "eventSource": event_source(facts.service),
        "eventName": facts.name,
        "awsRegion": facts.region,
        "sourceIPAddress": facts.source_ip,
        "userAgent": facts.user_agent,
    }
    if error_code is not None:
        event["errorCode"] = error_code
        event["errorMessage"] = error_message or ""
    event.update(
        {
            "requestParameters": request_parameters,
            "responseElements": response_elements,
            "requestID": facts.request_id,
            "eventID": str(uuid.uuid4()),
            "readOnly": facts.read_only,
            "eventType": facts.event_type,
            "managementEvent": True,
            "recipientAccountId": facts.account,
            "eventCategory": "Management",
        }
    )
    return event
