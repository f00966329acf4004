"""Fixtures unit tests share."""

from __future__ import annotations

import pytest

from pullcache import cli
from pullcache.config import Settings


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> list[Settings]:
    """The settings `pullcache serve` would serve with (nothing is served), with the environment variables the test
    module lists in VARIABLES cleared, so that the machine's own do not count."""
    settings: list[Settings] = []
    monkeypatch.setattr(cli, "serve", settings.append)
    for variable in getattr(request.module, "VARIABLES", ()):
        monkeypatch.delenv(variable, raising=False)
    return settings
