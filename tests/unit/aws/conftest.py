"""Fixtures for the AWS protocol tests: botocore's models, loaded once per session."""

from __future__ import annotations

import pytest

from pullcache.aws.models import ServiceModels, load_service_models


@pytest.fixture(scope="session")
def models() -> ServiceModels:
    return load_service_models()
