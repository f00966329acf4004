"""The upstream bounds and circuit breaker settings: flags and their environment twins reach Settings, and a
bound out of range stops start-up with a message naming it."""

from __future__ import annotations

import pytest

from pullcache import cli
from pullcache.config import ConfigError, Settings

FLAGS = {
    "--upstream-connect-timeout": ("upstream_connect_timeout", "1.5", 1.5),
    "--upstream-first-byte-timeout": ("upstream_first_byte_timeout", "2", 2.0),
    "--upstream-idle-timeout": ("upstream_idle_timeout", "3", 3.0),
    "--upstream-request-timeout": ("upstream_request_timeout", "4", 4.0),
    "--upstream-tag-check-timeout": ("upstream_tag_check_timeout", "0.5", 0.5),
    "--upstream-breaker-failures": ("upstream_breaker_failures", "7", 7),
    "--upstream-breaker-cooldown": ("upstream_breaker_cooldown", "12", 12.0),
}


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `pullcache serve` would serve with (nothing is served)."""
    settings: list[Settings] = []
    monkeypatch.setattr(cli, "serve", settings.append)
    for flag in FLAGS:
        monkeypatch.delenv("PULLCACHE_" + flag.removeprefix("--").replace("-", "_").upper(), raising=False)
    return settings


def test_the_defaults_are_seconds_not_minutes() -> None:
    settings = Settings()

    bounds = (
        settings.upstream_connect_timeout,
        settings.upstream_first_byte_timeout,
        settings.upstream_idle_timeout,
        settings.upstream_request_timeout,
        settings.upstream_tag_check_timeout,
    )
    assert all(0 < bound <= 30 for bound in bounds)
    assert settings.upstream_tag_check_timeout < settings.upstream_request_timeout


def test_every_flag_reaches_the_settings(served: list[Settings]) -> None:
    cli.main(["serve", *(part for flag, (_, text, _) in FLAGS.items() for part in (flag, text))])

    [settings] = served
    assert {field: getattr(settings, field) for field, _, _ in FLAGS.values()} == {
        field: value for field, _, value in FLAGS.values()
    }


def test_every_flag_has_an_environment_twin(served: list[Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    for flag, (_, text, _) in FLAGS.items():
        monkeypatch.setenv("PULLCACHE_" + flag.removeprefix("--").replace("-", "_").upper(), text)

    cli.main(["serve"])

    [settings] = served
    assert {field: getattr(settings, field) for field, _, _ in FLAGS.values()} == {
        field: value for field, _, value in FLAGS.values()
    }


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"upstream_connect_timeout": 0.0}, "the upstream connect timeout must be above 0"),
        ({"upstream_first_byte_timeout": -1.0}, "the upstream first byte timeout must be above 0"),
        ({"upstream_idle_timeout": 7200.0}, "the upstream idle timeout must be above 0 and at most 3600 s"),
        ({"upstream_request_timeout": 0.0}, "the upstream request timeout"),
        ({"upstream_tag_check_timeout": 0.0}, "the upstream tag check timeout"),
        ({"upstream_breaker_failures": 0}, "the upstream breaker opens after at least 1 failure"),
        ({"upstream_breaker_cooldown": -1.0}, "the upstream breaker's cool-down must be 0-3600 s"),
    ],
)
def test_a_bound_out_of_range_is_a_config_error_naming_it(changes: dict[str, float], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        Settings(**changes)  # type: ignore[arg-type]
