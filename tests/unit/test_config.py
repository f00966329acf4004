"""Settings: a bad value stops start-up with ConfigError naming it; values at the limits are accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pullcache.config import ConfigError, Settings


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"port": -1}, "port"),
        ({"port": 65536}, "port"),
        ({"workers": 0}, "workers"),
        ({"workers": -3}, "workers"),
        ({"max_manifest_bytes": 1023}, "manifest"),
        ({"max_manifest_bytes": 0}, "manifest"),
        ({"log_level": "verbose"}, "log level"),
        ({"log_level": ""}, "log level"),
        ({"shutdown_timeout": -0.5}, "shutdown"),
        ({"upload_expiry": 0}, "expiry"),
        ({"upload_expiry": -1.0}, "expiry"),
        ({"pull_flush_interval": 0}, "pull flush interval"),
        ({"pull_flush_interval": 3600.5}, "pull flush interval"),
        ({"lifecycle_interval": -1.0}, "lifecycle interval"),
        ({"workers": 2, "port": 0}, "fixed port"),
        ({"public_host": "http://registry.example"}, "public host"),
        ({"public_host": "registry.example/v2"}, "public host"),
        ({"registry_domain": "example internal"}, "registry domain"),
        ({"registry_domain": "https://example.internal"}, "registry domain"),
        ({"audit_max_bytes": 1023}, "audit file"),
        ({"audit_keep": -1}, "audit file"),
    ],
)
def test_setting_out_of_range_raises_config_error_naming_it(changes: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        Settings(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"port": 0},
        {"port": 65535},
        {"workers": 1},
        {"workers": 8, "port": 5000},
        {"max_manifest_bytes": 1024},
        {"log_level": "DEBUG"},
        {"log_level": "warning"},
        {"shutdown_timeout": 0.0},
        {"upload_expiry": 0.001},
        {"pull_flush_interval": 0.001},
        {"pull_flush_interval": 3600.0},
        {"lifecycle_interval": 0.0},
        {"audit_max_bytes": 1024, "audit_keep": 0},
    ],
)
def test_setting_at_its_limit_is_accepted(changes: dict[str, Any]) -> None:
    settings = Settings(**changes)

    for name, value in changes.items():
        assert getattr(settings, name) == value


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_defaults_are_valid() -> None:
    Settings()


def test_database_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    url = Settings(data_dir=tmp_path).resolved_database_url

    assert url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'metadata.db'}"


def test_database_url_given_is_used_as_is(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://registry@db/pullcache"

    assert Settings(data_dir=tmp_path, database_url=url).resolved_database_url == url


def test_settings_are_frozen() -> None:
    settings = Settings()

    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("host", ["registry.example", "registry.example:8443", "10.0.0.5:5000", "[::1]:5000"])
def test_a_public_host_is_a_host_with_an_optional_port(host: str) -> None:
    assert Settings(public_host=host, registry_domain=host).public_host == host


def test_the_client_files_point_at_the_public_host_when_one_is_set() -> None:
    assert Settings(port=5001).endpoint_url == "http://127.0.0.1:5001"
    assert Settings(port=5001, public_host="registry.example:8080").endpoint_url == "http://registry.example:8080"
