"""The audit trail's side of the services' ports: each call they tell of, made an event and handed to a sink.

    AwsCallRecorder        aws/answered_calls.py's CallObserver: every ECR, IAM, STS and Secrets Manager call
    RegistryCallRecorder   registry/api/call_records.py's observer: /v2/ pushes, deletes (and pulls)
    RoleActivityRecorder   pullthrough's RoleActivity: imports made as the service-linked role
    RoleCreationRecorder   pullthrough's RoleCreations: the role a rule's creation created, as its caller's call
    DeletionTaskRecorder   IAM's DeletionTaskObserver: service-linked role deletions as they end

Which calls are kept: those that change something, failed ones too (with errorCode and errorMessage); reads
(Describe*, Get*, List*, BatchGet*, BatchCheck*, Simulate*) are not, except pulls when `pulls` is set.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from pullcache.audit.events import CallFacts, Event, new_event, user_identity
from pullcache.audit.redaction import Part, Redactor
from pullcache.aws.answered_calls import AnsweredCall
from pullcache.iam.model import DeletionStatus, DeletionTask
from pullcache.iam.service_linked_roles import ECR_PULL_THROUGH_CACHE_SERVICE
from pullcache.policy import RequestPrincipal
from pullcache.pullthrough.ports import RoleAct, RoleCreation
from pullcache.registry.api.call_records import RegistryCall

READ_ONLY_PREFIXES: Final = ("Describe", "Get", "List", "BatchGet", "BatchCheck", "Simulate")
# The reads that are pulls: kept with `pulls`.
PULLS: Final = frozenset({"BatchGetImage", "GetDownloadUrlForLayer"})
IAM: Final = "iam"
IAM_SERVICE: Final = "iam.amazonaws.com"
ECR_SERVICE: Final = "ecr.amazonaws.com"  # what invokes a service-linked role's creation for ECR
IAM_REGION: Final = "us-east-1"  # IAM is global: CloudTrail records its calls in us-east-1
CREATE_SERVICE_LINKED_ROLE: Final = "CreateServiceLinkedRole"
DELETE_CONFLICT: Final = "DeleteConflict"  # IAM's code for a role its service still uses


class AuditSink(Protocol):
    def record(self, event: Event) -> None:
        """Keep `event` (the sink owns it from now on); quick, never raises."""
        ...


def is_read_only(operation: str) -> bool:
    return operation.startswith(READ_ONLY_PREFIXES)


def _wanted(operation: str, pulls: bool) -> bool:
    return not is_read_only(operation) or (pulls and operation in PULLS)


class AwsCallRecorder:
    def __init__(self, sink: AuditSink, redactor: Redactor, *, pulls: bool = False) -> None:
        self._sink = sink
        self._redactor = redactor
        self._pulls = pulls

    def call_answered(self, call: AnsweredCall[RequestPrincipal]) -> None:
        outcome, context = call.outcome, call.context
        operation = outcome.operation
        if operation is None or not _wanted(operation, self._pulls):
            return
        facts = CallFacts(
            service=call.service,
            name=operation,
            # IAM is global: CloudTrail records it in us-east-1 whatever region signed; STS keeps the signing one.
            region=IAM_REGION if call.service == IAM else context.region,
            account=context.account,
            at=context.received_at,
            source_ip=context.source_ip,
            user_agent=call.user_agent,
            request_id=context.request_id,
            read_only=is_read_only(operation),
        )
        failed = outcome.error_code is not None
        event = new_event(
            facts,
            user_identity(context.principal, context.access_key_id, session_created_at=context.credentials_issued_at),
            self._redactor.redacted(call.service, operation, Part.REQUEST, outcome.params) or None,
            None if failed else self._redactor.response_elements(call.service, operation, outcome.output),
            outcome.error_code,
            outcome.error_message,
        )
        self._sink.record(event)


class RegistryCallRecorder:
    def __init__(self, sink: AuditSink, redactor: Redactor, *, pulls: bool = False) -> None:
        self._sink = sink
        self._redactor = redactor
        self.records_reads = pulls

    def call_answered(self, call: RegistryCall) -> None:
        if call.read_only and not self.records_reads:
            return
        facts = CallFacts(
            service="ecr",
            name=call.action,
            region=call.scope.region,
            account=call.scope.account_id,
            at=call.at,
            source_ip=call.source_ip,
            user_agent=call.user_agent,
            request_id=call.request_id,
            read_only=call.read_only,
        )
        parameters: dict[str, Any] = {"registryId": call.scope.account_id, **call.parameters}
        self._sink.record(
            new_event(
                facts,
                user_identity(call.principal, call.access_key_id),
                self._redactor.redacted("ecr", call.action, Part.REQUEST, parameters),
                None,
                call.error_code,
                call.error_message,
            )
        )


class RoleActivityRecorder:
    """Imports as AWS records them: the role's session as the caller, invoked by the pull through cache."""

    def __init__(self, sink: AuditSink, redactor: Redactor) -> None:
        self._sink = sink
        self._redactor = redactor

    def role_acted(self, act: RoleAct) -> None:
        facts = CallFacts(
            service="ecr",
            name=act.action,
            region=act.scope.region,
            account=act.scope.account_id,
            at=datetime.now(UTC),
            source_ip=ECR_PULL_THROUGH_CACHE_SERVICE,
            user_agent=ECR_PULL_THROUGH_CACHE_SERVICE,
            request_id=str(uuid.uuid4()),
        )
        parameters: dict[str, Any] = {"registryId": act.scope.account_id, **act.parameters}
        self._sink.record(
            new_event(
                facts,
                # The role's session is made for this one import, moments before: its start is the event's time.
                user_identity(act.session, invoked_by=ECR_PULL_THROUGH_CACHE_SERVICE, session_created_at=facts.at),
                self._redactor.redacted("ecr", act.action, Part.REQUEST, parameters),
                None,
                act.error_code,
                act.error_message,
            )
        )


class RoleCreationRecorder:
    """The service-linked role a rule's creation created, as AWS records it: iam:CreateServiceLinkedRole by the
    rule's creator, invoked by ECR (sourceIPAddress and userAgent ECR's too), in IAM's region."""

    def __init__(self, sink: AuditSink, redactor: Redactor) -> None:
        self._sink = sink
        self._redactor = redactor

    def role_creation(self, creation: RoleCreation) -> None:
        context, role = creation.context, creation.role
        facts = CallFacts(
            service=IAM,
            name=CREATE_SERVICE_LINKED_ROLE,
            region=IAM_REGION,
            account=creation.account_id,
            at=context.received_at,
            source_ip=ECR_SERVICE,
            user_agent=ECR_SERVICE,
            request_id=context.request_id,
        )
        output = None
        if role is not None:
            output = {
                "Role": {
                    "Path": role.path,
                    "RoleName": role.name,
                    "RoleId": role.role_id,
                    "Arn": role.arn,
                    "CreateDate": role.created_at,
                }
            }
        self._sink.record(
            new_event(
                facts,
                user_identity(
                    context.principal,
                    context.access_key_id,
                    invoked_by=ECR_SERVICE,
                    session_created_at=context.credentials_issued_at,
                ),
                self._redactor.redacted(
                    IAM, CREATE_SERVICE_LINKED_ROLE, Part.REQUEST, {"AWSServiceName": ECR_PULL_THROUGH_CACHE_SERVICE}
                ),
                self._redactor.response_elements(IAM, CREATE_SERVICE_LINKED_ROLE, output),
                creation.error_code,
                creation.error_message,
            )
        )


class DeletionTaskRecorder:
    """A service-linked role's deletion, as IAM makes it: a DeleteRole call by the IAM service itself."""

    def __init__(self, sink: AuditSink) -> None:
        self._sink = sink

    def deletion_finished(self, task: DeletionTask) -> None:
        facts = CallFacts(
            service="iam",
            name="DeleteRole",
            region=IAM_REGION,
            account=task.account,
            at=task.updated_at,
            source_ip=IAM_SERVICE,
            user_agent=IAM_SERVICE,
            request_id=str(uuid.uuid4()),
        )
        failed = task.status is DeletionStatus.FAILED
        self._sink.record(
            new_event(
                facts,
                {"type": "AWSService", "invokedBy": IAM_SERVICE},
                {"roleName": task.role_name, "deletionTaskId": task.task_id},
                None,
                DELETE_CONFLICT if failed else None,
                task.reason if failed else None,
            )
        )
