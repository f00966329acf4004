"""One rule for repository names: ECR's model (which validates every ECR call's repositoryName) and core.names
(which the registry, the pull-through cache and EcrService apply) admit exactly the same names."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import pytest
from botocore.model import ServiceModel

from pullcache.auth.registry_tokens import RegistryTokens
from pullcache.aws.models import load_service_models
from pullcache.aws.patterns import compile_java_pattern
from pullcache.core.names import MAX_NAME_LENGTH, MIN_NAME_LENGTH, is_valid_repository_name
from pullcache.core.scopes import RegistryScope
from pullcache.ecr.errors import InvalidParameter
from pullcache.ecr.ports import RepositorySettings
from pullcache.ecr.service import EcrService
from pullcache.metadata.engine import create_engine, migrate
from pullcache.metadata.sql_ecr import SqlEcrStore
from tests.stores import sqlite_url
from tests.unit.core.test_names import INVALID_NAMES, VALID_NAMES

SCOPE: Final = RegistryScope("123456789012", "us-east-1")
LONGEST: Final = "bb" + "/".join(["a" * 50] * 5)


def sample_names() -> list[str]:
    """Every name core.names' tests try, and names at and past each length limit."""
    return [*VALID_NAMES, *INVALID_NAMES, LONGEST, LONGEST + "c", "x" * 300]


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return load_service_models(["ecr"]).get("ecr")


def test_the_models_length_limits_are_core_names(model: ServiceModel) -> None:
    shape: Any = model.shape_for("RepositoryName")

    assert (shape.metadata["min"], shape.metadata["max"]) == (MIN_NAME_LENGTH, MAX_NAME_LENGTH)


@pytest.mark.parametrize("name", sample_names())
def test_the_model_and_core_names_agree_on_every_name(model: ServiceModel, name: str) -> None:
    shape: Any = model.shape_for("RepositoryName")
    by_model = (
        shape.metadata["min"] <= len(name) <= shape.metadata["max"]
        and compile_java_pattern(shape.metadata["pattern"]).fullmatch(name) is not None
    )

    assert by_model == is_valid_repository_name(name)


@pytest.mark.parametrize("name", ["a", LONGEST + "c", "Team/App"])
async def test_ecr_creates_no_repository_whose_name_core_names_refuses(tmp_path: Path, name: str) -> None:
    """The door the model does not guard (a repository created on first pull through a rule) refuses it too."""
    engine = create_engine(sqlite_url(tmp_path / "metadata.db"))
    try:
        await migrate(engine)
        service = EcrService(SqlEcrStore(engine), RegistryTokens(b"k" * 32))

        with pytest.raises(InvalidParameter, match="repositoryName"):
            await service.create_repository(SCOPE, name, RepositorySettings(), ())
        created = await service.create_repository(SCOPE, LONGEST, RepositorySettings(), ())
        assert created.name == LONGEST
    finally:
        await engine.dispose()
