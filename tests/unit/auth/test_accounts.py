"""`pullcache accounts create`'s pure parts: the checks of what it is given, the config file it reads, and the
files it writes over an AccountStore (a fake here; tests/unit/test_admin.py runs it over SQLite)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from pullcache.auth.accounts import (
    ClientDefaults,
    InvalidAccountId,
    InvalidEndpointUrl,
    InvalidRegion,
    account_directory,
    check_account_id,
    check_endpoint_url,
    check_region,
    create_account,
    parse_client_defaults,
    read_client_defaults,
)
from pullcache.auth.ports import RootKey

ENDPOINT = "http://127.0.0.1:5000"


class MemoryAccounts:
    """An AccountStore in a dict, recording every call."""

    def __init__(self) -> None:
        self.accounts: set[str] = set()
        self.keys: dict[str, RootKey] = {}
        self.calls: list[str] = []

    async def ensure_account(self, account_id: str) -> None:
        self.calls.append("ensure_account")
        self.accounts.add(account_id)

    async def find_root_key(self, account_id: str) -> RootKey | None:
        self.calls.append("find_root_key")
        return self.keys.get(account_id)

    async def add_root_key(self, account_id: str, key: RootKey) -> None:
        self.calls.append("add_root_key")
        self.keys[account_id] = key


@pytest.mark.parametrize("account_id", ["000000000000", "111122223333", "999999999999"])
def test_twelve_ascii_digits_are_an_account_id(account_id: str) -> None:
    check_account_id(account_id)


@pytest.mark.parametrize(
    "account_id",
    [
        "",
        "11112222333",
        "1111222233334",
        "11112222333x",
        "arn:aws:iam::111122223333:root",
        "111122223333\n",
        "\uff11" * 12,  # FULLWIDTH DIGIT ONE: a digit to str.isdigit, not to an account id
        "-11122223333",
        " 11122223333",
    ],
)
def test_anything_else_is_refused_with_a_message_naming_it(account_id: str) -> None:
    with pytest.raises(InvalidAccountId) as refused:
        check_account_id(account_id)

    assert str(refused.value) == f"an account id is 12 digits, not {account_id!r}"


def test_a_region_has_the_form_of_one() -> None:
    check_region("eu-west-1")
    check_region("us-gov-west-1")
    for bad in ("", "us-east", "US-EAST-1", "useast1"):
        with pytest.raises(InvalidRegion, match="is not a region name like us-east-1"):
            check_region(bad)


@pytest.mark.parametrize("url", [ENDPOINT, "https://registry.example.com", "http://[::1]:5000", "http://localhost"])
def test_an_http_or_https_url_with_a_host_is_an_endpoint(url: str) -> None:
    check_endpoint_url(url)


@pytest.mark.parametrize("url", ["", "127.0.0.1:5000", "ftp://host", "http://", "http://host:port", "http://[::1"])
def test_other_endpoints_are_refused(url: str) -> None:
    with pytest.raises(InvalidEndpointUrl, match=re.escape("is not an endpoint URL like http://127.0.0.1:5000")):
        check_endpoint_url(url)


def test_an_accounts_files_live_under_accounts_and_its_id() -> None:
    assert account_directory(Path("/data"), "111122223333") == Path("/data/accounts/111122223333")
    with pytest.raises(InvalidAccountId):
        account_directory(Path("/data"), "../../etc")


def test_the_default_profiles_region_and_endpoint_are_read_from_a_config_file() -> None:
    text = "[default]\nregion = eu-west-1\nendpoint_url = http://10.0.0.5:5000\n\n[profile other]\nregion = x\n"

    assert parse_client_defaults(text) == ClientDefaults("eu-west-1", "http://10.0.0.5:5000")
    assert parse_client_defaults("[default]\nregion = eu-west-1\n") == ClientDefaults("eu-west-1", None)
    assert parse_client_defaults("[profile other]\nregion = eu-west-1\n") == ClientDefaults()
    assert parse_client_defaults("not a config file") == ClientDefaults()
    assert parse_client_defaults("") == ClientDefaults()


def test_a_data_dir_without_a_config_file_gives_no_defaults(tmp_path: Path) -> None:
    assert read_client_defaults(tmp_path) == ClientDefaults()
    (tmp_path / "config").write_text(f"[default]\nregion = us-east-1\nendpoint_url = {ENDPOINT}\n")
    assert read_client_defaults(tmp_path) == ClientDefaults("us-east-1", ENDPOINT)


async def test_create_makes_the_account_and_a_root_key_and_writes_its_files(tmp_path: Path) -> None:
    store = MemoryAccounts()

    created = await create_account(store, tmp_path, "111122223333", "eu-west-1", ENDPOINT)

    key = store.keys["111122223333"]
    directory = tmp_path / "accounts" / "111122223333"
    assert store.accounts == {"111122223333"}
    assert created.access_key_id == key.access_key_id
    assert created.key_created
    assert (created.credentials_file, created.config_file) == (directory / "credentials", directory / "config")
    assert created.credentials_file.read_text() == (
        f"[default]\naws_access_key_id = {key.access_key_id}\naws_secret_access_key = {key.secret_access_key}\n"
    )
    assert stat.S_IMODE(created.credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert parse_client_defaults(created.config_file.read_text()) == ClientDefaults("eu-west-1", ENDPOINT)
    assert "cli_follow_urlparam = false" in created.config_file.read_text().splitlines()


async def test_creating_an_account_again_writes_its_existing_key(tmp_path: Path) -> None:
    store = MemoryAccounts()
    first = await create_account(store, tmp_path, "111122223333", "us-east-1", ENDPOINT)
    written = first.credentials_file.read_text()
    first.credentials_file.write_text("lost\n")

    again = await create_account(store, tmp_path, "111122223333", "us-east-1", ENDPOINT)

    assert not again.key_created
    assert again.access_key_id == first.access_key_id
    assert store.calls.count("add_root_key") == 1
    assert again.credentials_file.read_text() == written


@pytest.mark.parametrize(
    ("account_id", "region", "endpoint", "error"),
    [
        ("11112222333", "us-east-1", ENDPOINT, InvalidAccountId),
        ("111122223333", "nowhere", ENDPOINT, InvalidRegion),
        ("111122223333", "us-east-1", "localhost:5000", InvalidEndpointUrl),
    ],
)
async def test_a_malformed_value_is_refused_before_anything_is_created(
    tmp_path: Path, account_id: str, region: str, endpoint: str, error: type[Exception]
) -> None:
    store = MemoryAccounts()

    with pytest.raises(error):
        await create_account(store, tmp_path, account_id, region, endpoint)

    assert store.calls == []
    assert not (tmp_path / "accounts").exists()
