"""admin.create_account over a real SQLite data dir: it migrates, creates, and the key it writes is one the server's
credential lookup resolves to the new account's root."""

from __future__ import annotations

import asyncio
import configparser
from pathlib import Path

import pytest

from pullcache import admin
from pullcache.auth.accounts import InvalidAccountId
from pullcache.auth.ports import Credentials
from pullcache.config import Settings
from pullcache.metadata.engine import create_engine
from pullcache.metadata.sql_accounts import SqlAccountStore
from pullcache.policy import RequestPrincipal


def written_key(credentials: Path) -> tuple[str, str]:
    parser = configparser.ConfigParser()
    parser.read(credentials)
    return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]


def written_config(config: Path) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read(config)
    return dict(parser["default"])


async def lookup(data_dir: Path, access_key_id: str) -> Credentials | None:
    engine = create_engine(Settings(data_dir=data_dir).resolved_database_url)
    try:
        return await SqlAccountStore(engine).find_credentials(access_key_id)
    finally:
        await engine.dispose()


def test_an_account_created_in_a_fresh_data_dir_signs_as_its_root(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    created = admin.create_account(data_dir, "111122223333")

    key_id, secret = written_key(created.credentials_file)
    found = asyncio.run(lookup(data_dir, key_id))
    assert found is not None
    assert (found.secret_access_key, found.principal, found.active) == (
        secret,
        RequestPrincipal.root("111122223333"),
        True,
    )
    assert written_config(created.config_file) == {
        "region": "us-east-1",
        "endpoint_url": "http://127.0.0.1:5000",
        "cli_follow_urlparam": "false",
    }


def test_region_and_endpoint_come_from_the_data_dirs_config_unless_given(tmp_path: Path) -> None:
    tmp_path.joinpath("config").write_text("[default]\nregion = eu-west-1\nendpoint_url = http://10.0.0.5:5000\n")

    from_config = admin.create_account(tmp_path, "111122223333")
    given = admin.create_account(tmp_path, "222233334444", region="ap-south-1", endpoint_url="https://r.example")

    assert written_config(from_config.config_file) == {
        "region": "eu-west-1",
        "endpoint_url": "http://10.0.0.5:5000",
        "cli_follow_urlparam": "false",
    }
    assert written_config(given.config_file) == {
        "region": "ap-south-1",
        "endpoint_url": "https://r.example",
        "cli_follow_urlparam": "false",
    }


def test_two_accounts_get_keys_of_their_own_and_a_repeat_keeps_the_first(tmp_path: Path) -> None:
    first = admin.create_account(tmp_path, "111122223333")
    second = admin.create_account(tmp_path, "222233334444")
    repeat = admin.create_account(tmp_path, "111122223333")

    assert first.access_key_id != second.access_key_id
    assert (repeat.access_key_id, repeat.key_created) == (first.access_key_id, False)
    found = asyncio.run(lookup(tmp_path, second.access_key_id))
    assert found is not None
    assert found.principal == RequestPrincipal.root("222233334444")


def test_a_malformed_account_id_touches_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    with pytest.raises(InvalidAccountId):
        admin.create_account(data_dir, "1234")

    assert not data_dir.exists()


def test_the_ca_bundle_of_the_data_dirs_config_goes_along_with_an_https_endpoint(tmp_path: Path) -> None:
    tmp_path.joinpath("config").write_text(
        "[default]\nregion = us-east-1\nendpoint_url = https://127.0.0.1:5443\nca_bundle = /srv/pullcache/tls/ca.pem\n"
    )

    from_config = admin.create_account(tmp_path, "111122223333")
    plain = admin.create_account(tmp_path, "222233334444", endpoint_url="http://127.0.0.1:5000")

    assert written_config(from_config.config_file) == {
        "region": "us-east-1",
        "endpoint_url": "https://127.0.0.1:5443",
        "cli_follow_urlparam": "false",
        "ca_bundle": "/srv/pullcache/tls/ca.pem",
    }
    assert "ca_bundle" not in written_config(plain.config_file)
