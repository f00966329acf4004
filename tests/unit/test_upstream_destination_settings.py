"""--upstream-allow / --upstream-deny and their environment twins: repeatable or comma-separated, the flags over
the environment, and an entry that cannot be read stopping start-up with a message naming it."""

from __future__ import annotations

import pytest

from pullcache import cli
from pullcache.config import ConfigError, Settings


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `pullcache serve` would serve with (nothing is served)."""
    settings: list[Settings] = []
    monkeypatch.setattr(cli, "serve", settings.append)
    monkeypatch.delenv("PULLCACHE_UPSTREAM_ALLOW", raising=False)
    monkeypatch.delenv("PULLCACHE_UPSTREAM_DENY", raising=False)
    return settings


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"upstream_deny": ("10.0.0.0/33",)}, "upstream deny list: '10.0.0.0/33' is not a network"),
        ({"upstream_allow": ("10.0.0.1/8",)}, "upstream allow list: '10.0.0.1/8' .*host bits set"),
        ({"upstream_allow": ("not a host!",)}, "upstream allow list: 'not a host!' is not a network"),
    ],
)
def test_an_unreadable_destination_is_a_config_error_naming_it(
    changes: dict[str, tuple[str, ...]], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        Settings(**changes)  # type: ignore[arg-type]


def test_the_flags_are_repeatable_and_comma_separated(served: list[Settings]) -> None:
    cli.main(
        [
            "serve",
            "--upstream-deny",
            "127.0.0.2/32, 10.0.0.0/8",
            "--upstream-deny",
            "internal.example",
            "--upstream-allow",
            "*.registry.example",
        ]
    )

    [settings] = served
    assert settings.upstream_deny == ("127.0.0.2/32", "10.0.0.0/8", "internal.example")
    assert settings.upstream_allow == ("*.registry.example",)


def test_the_environment_twins_are_comma_separated_and_the_flags_win(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULLCACHE_UPSTREAM_DENY", "127.0.0.2/32,internal.example")
    monkeypatch.setenv("PULLCACHE_UPSTREAM_ALLOW", "127.0.0.0/8")

    cli.main(["serve"])
    cli.main(["serve", "--upstream-allow", "127.0.0.3"])

    assert (served[0].upstream_deny, served[0].upstream_allow) == (
        ("127.0.0.2/32", "internal.example"),
        ("127.0.0.0/8",),
    )
    assert served[1].upstream_allow == ("127.0.0.3",)


def test_without_lists_only_link_local_is_refused(served: list[Settings]) -> None:
    cli.main(["serve"])

    policy = served[0].upstream_destinations
    assert policy.refusal("169.254.169.254") is not None
    assert policy.refusal("127.0.0.1") is None


def test_a_bad_cidr_stops_serve_with_exit_2_naming_it(
    served: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", "--upstream-deny", "10.0.0.0/8,192.168.0.0/33"])

    assert stopped.value.code == 2
    assert "upstream deny list: '192.168.0.0/33' is not a network" in capsys.readouterr().err
    assert served == []
