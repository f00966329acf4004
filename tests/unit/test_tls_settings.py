"""The TLS settings: `--tls`, `--tls-cert`, `--tls-key`, `--tls-names` (and their environment twins) reach Settings;
contradictions stop start-up in one line; under TLS every URL the server hands out says https."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullcache import cli
from pullcache.config import ConfigError, Settings
from pullcache.core.scopes import RegistryScope

VARIABLES = ("PULLCACHE_TLS", "PULLCACHE_TLS_CERT", "PULLCACHE_TLS_KEY", "PULLCACHE_TLS_NAMES")


def test_by_default_the_server_speaks_plain_http(served: list[Settings]) -> None:
    cli.main(["serve"])

    [settings] = served
    assert not settings.tls_enabled
    assert settings.endpoint_url == "http://127.0.0.1:5000"


def test_the_flags_reach_the_settings(served: list[Settings]) -> None:
    cli.main(["serve", "--tls-cert", "cert.pem", "--tls-key", "key.pem"])
    cli.main(["serve", "--tls", "self-signed", "--tls-names", "registry.example, 10.0.0.5,,"])

    given, self_signed = served
    assert (given.tls_cert, given.tls_key, given.tls_enabled) == (Path("cert.pem"), Path("key.pem"), True)
    assert (self_signed.tls, self_signed.tls_names) == ("self-signed", ("registry.example", "10.0.0.5"))


def test_the_variables_reach_the_settings(served: list[Settings], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULLCACHE_TLS", "self-signed")
    monkeypatch.setenv("PULLCACHE_TLS_NAMES", "registry.example")

    cli.main(["serve"])

    [settings] = served
    assert (settings.tls, settings.tls_names) == ("self-signed", ("registry.example",))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tls-key", "key.pem"], "give both the TLS certificate file and its key file, or neither"),
        (["--tls", "on"], "--tls is off or self-signed, not 'on'"),
        (
            ["--tls", "self-signed", "--tls-cert", "c.pem", "--tls-key", "k.pem"],
            "give either a TLS certificate and key or --tls self-signed, not both",
        ),
        (["--tls-names", "localhost"], "TLS names are those of a self-signed certificate"),
        (["--tls", "self-signed", "--tls-names", "a_b.example"], "TLS names: 'a_b.example' is neither"),
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


def test_under_tls_the_endpoint_and_the_registry_urls_say_https() -> None:
    settings = Settings(port=5443, tls="self-signed")
    public = Settings(tls_cert=Path("c.pem"), tls_key=Path("k.pem"), public_host="registry.example")
    scope = RegistryScope("000000000000", "us-east-1")

    assert settings.endpoint_url == "https://127.0.0.1:5443"
    assert public.endpoint_url == "https://registry.example"
    assert settings.public_hosts.registry_url(scope, "127.0.0.1:5443") == "https://127.0.0.1:5443"
    assert Settings().public_hosts.registry_url(scope, "127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_a_settings_object_refuses_a_certificate_without_its_key() -> None:
    with pytest.raises(ConfigError, match="give both"):
        Settings(tls_cert=Path("c.pem"))
