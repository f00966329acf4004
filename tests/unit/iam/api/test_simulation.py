"""The policy simulator's operations are served from the IAM operation table."""

from __future__ import annotations

from pathlib import Path

from pullcache.auth.authorization import Authorizer, NoPrincipalPolicies
from pullcache.aws.models import load_service_models
from pullcache.iam.api.operations import iam_operations
from pullcache.iam.service import IamService
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql_iam import SqlIamStore
from tests.stores import sqlite_url


def test_simulate_principal_policy_and_simulate_custom_policy_have_handlers(tmp_path: Path) -> None:
    store = SqlIamStore(create_engine(sqlite_url(tmp_path / "unused.db")))
    table = iam_operations(
        load_service_models(["iam"]).get("iam"), IamService.over(store), Authorizer(NoPrincipalPolicies())
    )

    assert table.find_handler("SimulatePrincipalPolicy") is not None
    assert table.find_handler("SimulateCustomPolicy") is not None
