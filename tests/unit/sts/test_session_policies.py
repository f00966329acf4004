"""StsSessionPolicies: the session policies of a role session, found by its temporary access key id."""

from __future__ import annotations

from dataclasses import replace

from pullcache.iam.ports import SessionPolicyRefs
from pullcache.sts.session_policies import StsSessionPolicies
from tests.unit.sts.memory_sessions import MemorySessions, role_session

SESSION_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}'
IAM_READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"


async def test_a_sessions_policies_are_found_as_they_were_requested() -> None:
    given = replace(role_session("auditor", "audit"), session_policy=SESSION_POLICY, policy_arns=(IAM_READ_ONLY,))
    plain = role_session("auditor", "audit")
    source = StsSessionPolicies(MemorySessions.of(given, plain))

    assert await source.find_session_policies(given.access_key_id) == SessionPolicyRefs(
        SESSION_POLICY, (IAM_READ_ONLY,)
    )
    assert await source.find_session_policies(plain.access_key_id) == SessionPolicyRefs()


async def test_a_key_that_names_no_session_has_no_session_policies() -> None:
    source = StsSessionPolicies(MemorySessions.of(role_session("auditor", "audit")))
    assert await source.find_session_policies("ASIANOSUCHSESSION000") is None
