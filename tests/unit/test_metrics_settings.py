"""The metrics settings: `--metrics-port` and `--metrics-token` (and their environment twins) reach Settings, a
port out of range or the API's own stops start-up in one line, and the token is never printed."""

from __future__ import annotations

import pytest

from pullcache import cli
from pullcache.config import ConfigError, Settings

VARIABLES = ("PULLCACHE_METRICS_PORT", "PULLCACHE_METRICS_TOKEN")


def test_by_default_the_metrics_share_the_api_port_and_need_no_token(served: list[Settings]) -> None:
    cli.main(["serve"])

    [settings] = served
    assert (settings.metrics_port, settings.metrics_token) == (None, None)


def test_the_flags_reach_the_settings(served: list[Settings]) -> None:
    cli.main(["serve", "--metrics-port", "9102", "--metrics-token", "t0ken"])

    [settings] = served
    assert (settings.metrics_port, settings.metrics_token) == (9102, "t0ken")


def test_the_variables_reach_the_settings(served: list[Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULLCACHE_METRICS_PORT", "9103")
    monkeypatch.setenv("PULLCACHE_METRICS_TOKEN", "from-the-environment")

    cli.main(["serve"])

    [settings] = served
    assert (settings.metrics_port, settings.metrics_token) == (9103, "from-the-environment")


def test_the_token_is_neither_in_the_help_nor_in_the_settings_repr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PULLCACHE_METRICS_TOKEN", "sekrit-value")
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])

    assert "sekrit-value" not in capsys.readouterr().out
    assert "sekrit-value" not in repr(Settings(metrics_token="sekrit-value"))


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"metrics_port": 0}, "the metrics port must be 1-65535"),
        ({"metrics_port": 70000}, "the metrics port must be 1-65535"),
        ({"port": 5000, "metrics_port": 5000}, "and not the API's port"),
        ({"metrics_token": " "}, "the metrics token must not be empty"),
    ],
)
def test_a_bad_metrics_setting_is_a_config_error_naming_it(changes: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        Settings(**changes)  # type: ignore[arg-type]


def test_a_bad_metrics_port_stops_serve_in_one_line(served: list[Settings], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", "--port", "5000", "--metrics-port", "5000"])

    assert stopped.value.code != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "metrics port" in error
    assert served == []
