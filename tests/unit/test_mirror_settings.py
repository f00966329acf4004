"""The Docker Hub mirror's settings: `--docker-hub-mirror` and `--docker-hub-mirror-port` (and their environment
twins) reach Settings together; a bad prefix, one without the other, or a port the server already uses stops
start-up in one line."""

from __future__ import annotations

import pytest

from pullcache import cli
from pullcache.config import Settings

VARIABLES = ("PULLCACHE_DOCKER_HUB_MIRROR", "PULLCACHE_DOCKER_HUB_MIRROR_PORT", "PULLCACHE_METRICS_PORT")


def test_by_default_there_is_no_docker_hub_mirror(served: list[Settings]) -> None:
    cli.main(["serve"])

    [settings] = served
    assert (settings.docker_hub_mirror, settings.docker_hub_mirror_port) == (None, None)


def test_the_flags_and_the_variables_reach_the_settings(
    served: list[Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.main(["serve", "--docker-hub-mirror", "docker-hub", "--docker-hub-mirror-port", "5001"])
    monkeypatch.setenv("PULLCACHE_DOCKER_HUB_MIRROR", "hub/official")
    monkeypatch.setenv("PULLCACHE_DOCKER_HUB_MIRROR_PORT", "5002")
    cli.main(["serve"])

    flags, variables = served
    assert (flags.docker_hub_mirror, flags.docker_hub_mirror_port) == ("docker-hub", 5001)
    assert (variables.docker_hub_mirror, variables.docker_hub_mirror_port) == ("hub/official", 5002)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--docker-hub-mirror", "Docker Hub!", "--docker-hub-mirror-port", "5001"], "not 'Docker Hub!'"),
        (["--docker-hub-mirror", "/hub", "--docker-hub-mirror-port", "5001"], "not '/hub'"),
        (["--docker-hub-mirror", "docker-hub"], "give the Docker Hub mirror's rule prefix and its port together"),
        (["--docker-hub-mirror-port", "5001"], "give the Docker Hub mirror's rule prefix and its port together"),
        (["--docker-hub-mirror", "hub", "--docker-hub-mirror-port", "5000"], "a port of its own, not 5000"),
        (
            ["--docker-hub-mirror", "hub", "--docker-hub-mirror-port", "9100", "--metrics-port", "9100"],
            "a port of its own, not 9100",
        ),
        (["--docker-hub-mirror", "hub", "--docker-hub-mirror-port", "70000"], "must be 1-65535"),
    ],
)
def test_contradictions_stop_the_start_in_one_line(
    served: list[Settings], capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", *arguments])

    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert message in line
    assert served == []
