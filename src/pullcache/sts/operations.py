"""The STS operations pullcache answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import ServiceModel

from pullcache.aws.context import CallContext
from pullcache.aws.operations import OperationTable
from pullcache.aws.wire import Params


def sts_operations(model: ServiceModel) -> OperationTable[CallContext]:
    table = OperationTable[CallContext](model)
    table.register("GetCallerIdentity", get_caller_identity)
    return table


async def get_caller_identity(_params: Params, context: CallContext) -> Mapping[str, Any]:
    principal = context.principal
    return {"UserId": principal.user_id, "Account": principal.account, "Arn": principal.arn}
