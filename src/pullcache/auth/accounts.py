"""Accounts beyond the first: `pullcache accounts create` makes one, with its root access key, and writes the files
the AWS tools read for it:

    <data-dir>/accounts/<account id>/credentials   [default] aws_access_key_id / aws_secret_access_key   (mode 0600)
    <data-dir>/accounts/<account id>/config        [default] region / endpoint_url / cli_follow_urlparam = false

the same format as the first start's files. Creating an account that exists creates nothing: its first root key is
written again. The region and endpoint default to those of `<data-dir>/config` (the first start's), so the new
account's tools reach the same server; its `ca_bundle` (a server with a local CA) is copied along.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pullcache.auth.bootstrap import CONFIG_FILE, ensure_root_key, write_client_files
from pullcache.auth.ports import AccountStore
from pullcache.core.scopes import ACCOUNT_ID, REGION

ACCOUNTS_DIR = "accounts"
_PROFILE = "default"


class AccountError(ValueError):
    """A value the command was given is malformed; the message says which and why."""


class InvalidAccountId(AccountError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"an account id is 12 digits, not {account_id!r}")
        self.account_id = account_id


class InvalidRegion(AccountError):
    def __init__(self, region: str) -> None:
        super().__init__(f"{region!r} is not a region name like us-east-1")
        self.region = region


class InvalidEndpointUrl(AccountError):
    def __init__(self, url: str) -> None:
        super().__init__(f"{url!r} is not an endpoint URL like http://127.0.0.1:5000")
        self.url = url


@dataclass(frozen=True, slots=True)
class ClientDefaults:
    """What a config file says of the `default` profile; None for what it leaves out."""

    region: str | None = None
    endpoint_url: str | None = None
    ca_bundle: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    account_id: str
    access_key_id: str  # the root key the files hold; its secret is only in the credentials file
    key_created: bool  # False: the account had a root key already, and the files hold that one
    credentials_file: Path
    config_file: Path


def check_account_id(account_id: str) -> None:
    """Raises InvalidAccountId unless `account_id` is twelve digits."""
    if ACCOUNT_ID.fullmatch(account_id) is None:
        raise InvalidAccountId(account_id)


def check_region(region: str) -> None:
    """Raises InvalidRegion unless `region` has a region's form."""
    if REGION.fullmatch(region) is None:
        raise InvalidRegion(region)


def check_endpoint_url(url: str) -> None:
    """Raises InvalidEndpointUrl unless `url` is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or out of range
    except ValueError:
        raise InvalidEndpointUrl(url) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEndpointUrl(url)


def account_directory(data_dir: Path, account_id: str) -> Path:
    """Where the client files of `account_id` go."""
    check_account_id(account_id)
    return data_dir / ACCOUNTS_DIR / account_id


def parse_client_defaults(text: str) -> ClientDefaults:
    """The region and endpoint_url of a config file's `default` profile; a text that does not parse says nothing."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return ClientDefaults()
    if not parser.has_section(_PROFILE):
        return ClientDefaults()
    profile = parser[_PROFILE]
    return ClientDefaults(
        profile.get("region") or None, profile.get("endpoint_url") or None, profile.get("ca_bundle") or None
    )


def read_client_defaults(data_dir: Path) -> ClientDefaults:
    """What `<data-dir>/config` (written on first start) says; nothing when it is not there."""
    try:
        text = (data_dir / CONFIG_FILE).read_text()
    except FileNotFoundError:
        return ClientDefaults()
    return parse_client_defaults(text)


async def create_account(
    store: AccountStore,
    data_dir: Path,
    account_id: str,
    region: str,
    endpoint_url: str,
    ca_bundle: Path | None = None,
) -> CreatedAccount:
    """Ensure the account and a root key, and write its client files. Raises an AccountError (InvalidAccountId,
    InvalidRegion, InvalidEndpointUrl) before anything is created."""
    directory = account_directory(data_dir, account_id)
    check_region(region)
    check_endpoint_url(endpoint_url)
    key, created = await ensure_root_key(store, account_id, None)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    credentials = write_client_files(directory, key, region, endpoint_url, ca_bundle)
    return CreatedAccount(account_id, key.access_key_id, created, credentials, directory / CONFIG_FILE)
