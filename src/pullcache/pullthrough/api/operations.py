"""ECR's operations on pull-through cache rules and repository creation templates: the model's wire shapes in,
PullThroughRuleService and RepositoryTemplateService in between, and the mapping of their errors to the model's
error shapes. They join ECR's operation table (ecr/api/operations.py, `ecr_operations(..., extensions)`). The rule
operations' members, in and out, are named in rule_shapes.py, which a test holds to ECR's model.

Each call is authorized with `ecr:<Operation>` on the registry's repositories (`repository/*`), as ECR's registry-
wide operations are. Creating the first rule of an account also asks for `iam:CreateServiceLinkedRole` on the
service-linked role, with `iam:AWSServiceName` = pullthroughcache.ecr.amazonaws.com.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pullcache.auth.authorization import AccessDenied, AccessRequest, Authorizer
from pullcache.auth.call_context import CallContext
from pullcache.aws.wire import Params
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.api.shapes import encryption, mutability_rule, mutability_shape
from pullcache.iam.model import Role
from pullcache.pullthrough import rule_errors
from pullcache.pullthrough.api.rule_shapes import rule_shape
from pullcache.pullthrough.model import AppliedFor, Template, TemplateSettings
from pullcache.pullthrough.ports import RegistryAuthorizer, RoleCreation, RoleCreations
from pullcache.pullthrough.service import PullThroughRuleService, RuleRequest
from pullcache.pullthrough.templates import RepositoryTemplateService, TemplateChanges

log = logging.getLogger(__name__)

SERVICE_NAME = "pullthroughcache.ecr.amazonaws.com"
ROLE_NAME = "AWSServiceRoleForECRPullThroughCache"
IAM_ACCESS_DENIED = "AccessDenied"  # IAM's code for a refused call: a refused role creation is recorded with it

ERROR_SHAPES: dict[type[Exception], str] = {
    rule_errors.InvalidRuleParameter: "InvalidParameterException",
    rule_errors.RuleValidationError: "ValidationException",
    rule_errors.UnsupportedUpstreamRegistry: "UnsupportedUpstreamRegistryException",
    rule_errors.RuleAlreadyExists: "PullThroughCacheRuleAlreadyExistsException",
    rule_errors.RuleNotFound: "PullThroughCacheRuleNotFoundException",
    rule_errors.RuleLimitExceeded: "LimitExceededException",
    rule_errors.SecretNotFoundForRule: "SecretNotFoundException",
    rule_errors.UnableToAccessSecret: "UnableToAccessSecretException",
    rule_errors.TemplateAlreadyExists: "TemplateAlreadyExistsException",
    rule_errors.TemplateNotFound: "TemplateNotFoundException",
}

Handler = Callable[[Params, CallContext], Awaitable[Mapping[str, Any]]]


class PullThroughOperations:
    def __init__(
        self,
        rules: PullThroughRuleService,
        templates: RepositoryTemplateService,
        authorize: RegistryAuthorizer,
        authorizer: Authorizer,
        creations: RoleCreations | None = None,
    ) -> None:
        """`creations`: told of each service-linked role a rule's creation created, or was refused (the audit
        trail)."""
        self._creations = creations
        self._rules = rules
        self._templates = templates
        self._authorize = authorize
        self._authorizer = authorizer

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreatePullThroughCacheRule": self.create_rule,
            "DescribePullThroughCacheRules": self.describe_rules,
            "UpdatePullThroughCacheRule": self.update_rule,
            "DeletePullThroughCacheRule": self.delete_rule,
            "ValidatePullThroughCacheRule": self.validate_rule,
            "CreateRepositoryCreationTemplate": self.create_template,
            "DescribeRepositoryCreationTemplates": self.describe_templates,
            "UpdateRepositoryCreationTemplate": self.update_template,
            "DeleteRepositoryCreationTemplate": self.delete_template,
        }

    def error_shapes(self) -> Mapping[type[Exception], str]:
        return ERROR_SHAPES

    # -- pull-through cache rules --------------------------------------------------------------------------

    async def create_rule(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(params, context, "CreatePullThroughCacheRule")
        request = RuleRequest(
            params["ecrRepositoryPrefix"],
            params["upstreamRegistryUrl"],
            params.get("upstreamRegistry"),
            params.get("credentialArn"),
            params.get("customRoleArn"),
            params.get("upstreamRepositoryPrefix"),
            params.get("upstreamRoleArn"),
        )

        async def authorize_role_creation() -> None:
            try:
                await self._authorize_role_creation(context, scope.account_id)
            except AccessDenied as refused:
                self._tell(RoleCreation(context, scope.account_id, None, IAM_ACCESS_DENIED, str(refused)))
                raise

        def role_created(role: Role) -> None:
            self._tell(RoleCreation(context, scope.account_id, role))

        rule = await self._rules.create_rule(scope, request, authorize_role_creation, role_created)
        return rule_shape(rule, "CreatePullThroughCacheRule")

    async def describe_rules(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(params, context, "DescribePullThroughCacheRules")
        found, token = await self._rules.describe_rules(
            scope, params.get("ecrRepositoryPrefixes"), params.get("nextToken"), params.get("maxResults")
        )
        return {"pullThroughCacheRules": [rule_shape(rule) for rule in found], "nextToken": token}

    async def update_rule(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(params, context, "UpdatePullThroughCacheRule")
        rule = await self._rules.update_rule(
            scope,
            params["ecrRepositoryPrefix"],
            params.get("credentialArn"),
            params.get("customRoleArn"),
            params.get("upstreamRoleArn"),
        )
        return rule_shape(rule, "UpdatePullThroughCacheRule")

    async def delete_rule(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(params, context, "DeletePullThroughCacheRule")
        rule = await self._rules.delete_rule(scope, params["ecrRepositoryPrefix"])
        return rule_shape(rule, "DeletePullThroughCacheRule")

    async def validate_rule(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry(params, context, "ValidatePullThroughCacheRule")
        validation = await self._rules.validate_rule(scope, params["ecrRepositoryPrefix"])
        shape = rule_shape(validation.rule, "ValidatePullThroughCacheRule")
        return {**shape, "isValid": validation.is_valid, "failure": validation.failure}

    # -- repository creation templates ---------------------------------------------------------------------

    async def create_template(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry({}, context, "CreateRepositoryCreationTemplate")
        settings = TemplateSettings(
            applied_for=_applied_for(params["appliedFor"]),
            description=params.get("description"),
            encryption=encryption(params.get("encryptionConfiguration")),
            resource_tags=_tags(params.get("resourceTags", [])),
            tag_mutability=mutability_rule(params),
            repository_policy=params.get("repositoryPolicy"),
            lifecycle_policy=params.get("lifecyclePolicy"),
            custom_role_arn=params.get("customRoleArn"),
        )
        template = await self._templates.create_template(scope, params["prefix"], settings)
        return {"registryId": scope.account_id, "repositoryCreationTemplate": _template_shape(template)}

    async def describe_templates(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry({}, context, "DescribeRepositoryCreationTemplates")
        found, token = await self._templates.describe_templates(
            scope, params.get("prefixes"), params.get("nextToken"), params.get("maxResults")
        )
        return {
            "registryId": scope.account_id,
            "repositoryCreationTemplates": [_template_shape(template) for template in found],
            "nextToken": token,
        }

    async def update_template(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry({}, context, "UpdateRepositoryCreationTemplate")
        given_encryption = params.get("encryptionConfiguration")
        changes = TemplateChanges(
            applied_for=_applied_for(params["appliedFor"]) if "appliedFor" in params else None,
            description=params.get("description"),
            encryption=None if given_encryption is None else encryption(given_encryption),
            resource_tags=_tags(params["resourceTags"]) if "resourceTags" in params else None,
            tag_mutability=mutability_rule(params) if "imageTagMutability" in params else None,
            repository_policy=params.get("repositoryPolicy"),
            lifecycle_policy=params.get("lifecyclePolicy"),
            custom_role_arn=params.get("customRoleArn"),
        )
        template = await self._templates.update_template(scope, params["prefix"], changes)
        return {"registryId": scope.account_id, "repositoryCreationTemplate": _template_shape(template)}

    async def delete_template(self, params: Params, context: CallContext) -> Mapping[str, Any]:
        scope = await self._registry({}, context, "DeleteRepositoryCreationTemplate")
        template = await self._templates.delete_template(scope, params["prefix"])
        return {"registryId": scope.account_id, "repositoryCreationTemplate": _template_shape(template)}

    # -- authorization -------------------------------------------------------------------------------------

    async def _registry(self, params: Params, context: CallContext, operation: str) -> RegistryScope:
        scope = RegistryScope(params.get("registryId") or context.account, context.region)
        await self._authorize(context, operation, scope, None)
        return scope

    def _tell(self, creation: RoleCreation) -> None:
        if self._creations is None:
            return
        try:
            self._creations.role_creation(creation)
        except Exception:  # a record that cannot be kept never fails the call it records
            log.exception("recording the service-linked role's creation failed")

    async def _authorize_role_creation(self, context: CallContext, account_id: str) -> None:
        """Raises AccessDenied unless the caller may create the account's pull-through cache service-linked role."""
        keys = {
            "iam:AWSServiceName": SERVICE_NAME,
            "aws:SourceIp": context.source_ip,
            "aws:SecureTransport": "true" if context.secure_transport else "false",
            "aws:CurrentTime": context.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        resource = f"arn:aws:iam::{account_id}:role/aws-service-role/{SERVICE_NAME}/{ROLE_NAME}"
        await self._authorizer.authorize(
            AccessRequest(context.principal, "iam:CreateServiceLinkedRole", resource, account_id, None, keys)
        )


def _template_shape(template: Template) -> dict[str, Any]:
    settings = template.settings
    return {
        "prefix": template.prefix,
        "description": settings.description,
        "encryptionConfiguration": {
            "encryptionType": settings.encryption.encryption_type,
            "kmsKey": settings.encryption.kms_key,
        },
        "resourceTags": [{"Key": key, "Value": value} for key, value in settings.resource_tags],
        **mutability_shape(settings.tag_mutability),
        "repositoryPolicy": settings.repository_policy,
        "lifecyclePolicy": settings.lifecycle_policy,
        "appliedFor": [purpose.value for purpose in settings.applied_for],
        "customRoleArn": settings.custom_role_arn,
        "createdAt": template.created_at,
        "updatedAt": template.updated_at,
    }


def _applied_for(values: list[str]) -> tuple[AppliedFor, ...]:
    return tuple(AppliedFor(value) for value in dict.fromkeys(values))


def _tags(tags: list[Mapping[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((tag["Key"], tag["Value"]) for tag in tags)
