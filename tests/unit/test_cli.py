"""The admin commands on the command line (`pullcache accounts create`, `rules`, `repositories`): exit codes, and
what they print (never the secret)."""

from __future__ import annotations

import asyncio
import configparser
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pullcache.cli import main
from pullcache.core.digests import Digest
from pullcache.core.mediatypes import OCI_MANIFEST
from pullcache.core.scopes import RegistryScope
from pullcache.registry.ports import ManifestRecord
from pullcache.registry.pull_records import ImagePulls
from tests.stores import sqlite_metadata_store, sqlite_repositories


@pytest.fixture(autouse=True)
def no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULLCACHE_DATABASE_URL", raising=False)
    monkeypatch.delenv("PULLCACHE_DATA_DIR", raising=False)


def test_accounts_create_prints_where_the_files_are_and_not_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["accounts", "create", "111122223333", "--data-dir", str(tmp_path)])

    printed = capsys.readouterr().out
    credentials = tmp_path.resolve() / "accounts" / "111122223333" / "credentials"
    parser = configparser.ConfigParser()
    parser.read(credentials)
    key_id, secret = parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]
    assert printed.splitlines()[:3] == [
        f"account 111122223333: root access key {key_id} (created)",
        f"credentials: {credentials}",
        f"config: {credentials.with_name('config')}",
    ]
    assert secret not in printed


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["111122"], "an account id is 12 digits, not '111122'"),
        (["111122223333", "--region", "mars-1"], "'mars-1' is not a region name like us-east-1"),
        (["111122223333", "--endpoint-url", "localhost:5000"], "'localhost:5000' is not an endpoint URL"),
    ],
)
def test_accounts_create_with_a_malformed_value_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], complaint: str
) -> None:
    data_dir = tmp_path / "data"

    with pytest.raises(SystemExit) as exited:
        main(["accounts", "create", *arguments, "--data-dir", str(data_dir)])

    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err
    assert not data_dir.exists()


def test_accounts_without_a_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["accounts"])

    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def _data_dir_of_a_server(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A data dir with its database, as a server leaves it (what `accounts create` makes too)."""
    main(["accounts", "create", "000000000000", "--data-dir", str(data_dir)])
    capsys.readouterr()


def test_rules_set_tag_ttl_of_an_unknown_prefix_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _data_dir_of_a_server(tmp_path, capsys)
    with pytest.raises(SystemExit) as exited:
        main(["rules", "set-tag-ttl", "quay", "0", "--data-dir", str(tmp_path)])

    assert exited.value.code == 2
    assert "no pull-through cache rule with prefix 'quay' in 000000000000 us-east-1" in capsys.readouterr().err


def test_rules_set_tag_ttl_refuses_a_negative_ttl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rules", "set-tag-ttl", "quay", "-5", "--data-dir", str(tmp_path)])

    assert exited.value.code == 2
    assert "a tag TTL is not negative" in capsys.readouterr().err


def test_rules_list_of_a_fresh_data_dir_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _data_dir_of_a_server(tmp_path, capsys)
    main(["rules", "list", "--data-dir", str(tmp_path), "--region", "eu-west-1"])

    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("command", [["rules", "list"], ["rules", "set-tag-ttl", "quay", "5"]])
def test_rules_of_a_data_dir_without_a_database_exit_2_in_one_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--data-dir", str(tmp_path / "not-there")])

    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "no database in" in line
    assert not (tmp_path / "not-there").exists()


def test_repositories_of_a_data_dir_without_a_database_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["repositories", "--data-dir", str(tmp_path / "not-there")])

    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "no database in" in line
    assert not (tmp_path / "not-there").exists()


def test_repositories_lists_images_pull_counts_and_last_pulls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _data_dir_of_a_server(tmp_path, capsys)
    scope = RegistryScope("000000000000", "us-east-1")
    asyncio.run(_repositories_with_pulls(tmp_path, scope))

    main(["repositories", "--data-dir", str(tmp_path)])

    assert capsys.readouterr().out.splitlines() == [
        "team/app\t1 images\t3 pulls\tlast pull 2026-05-01T12:00:00+00:00",
        "team/idle\t0 images\t0 pulls\tlast pull never",
    ]


async def _repositories_with_pulls(data_dir: Path, scope: RegistryScope) -> None:
    async with sqlite_metadata_store(data_dir) as store, sqlite_repositories(data_dir) as repositories:
        await repositories.create(scope, "team/app", "team/idle")
        content = b'{"schemaVersion": 2}'
        await store.put_manifest(scope, "team/app", ManifestRecord(Digest.of(content), OCI_MANIFEST, content), "v1")
        pulled = datetime(2026, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
        await store.record_pulls([ImagePulls(scope, "team/app", Digest.of(content), pulled, 3)])
