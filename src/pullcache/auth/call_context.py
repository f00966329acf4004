"""The context of an AWS call as every operation handler takes it: the gateway's CallContext (aws/context.py),
its caller a principal of the policy engine, as the credential stores (auth/ports.py) resolve access keys."""

from __future__ import annotations

from typing import TypeAlias

from pullcache.aws.context import CallContext as AwsCallContext
from pullcache.policy import RequestPrincipal

CallContext: TypeAlias = AwsCallContext[RequestPrincipal]
