"""First start: the account, its root access key, and shared-credentials files for the AWS tools.

    <data-dir>/credentials   [default] aws_access_key_id / aws_secret_access_key   (mode 0600)
    <data-dir>/config        [default] region / endpoint_url / cli_follow_urlparam = false
                                       (/ ca_bundle, the local CA's certificate, under --tls self-signed)

so that `AWS_SHARED_CREDENTIALS_FILE=<data-dir>/credentials AWS_CONFIG_FILE=<data-dir>/config aws ...` works.
`cli_follow_urlparam = false` because AWS CLI v1 otherwise fetches any parameter value that starts with `http://`
or `https://` and sends the page instead: `--upstream-registry-url http://registry:5000` would arrive as that
registry's empty root page. (v2 never fetches them; the setting is harmless there.)
"""

from __future__ import annotations

import os
from pathlib import Path

from pullcache.auth.credentials import new_access_key_id, new_secret_access_key
from pullcache.auth.ports import AccountStore, RootKey

CREDENTIALS_FILE = "credentials"
CONFIG_FILE = "config"


async def ensure_root_key(store: AccountStore, account_id: str, given: RootKey | None) -> tuple[RootKey, bool]:
    """The account's root key, created on first start (`given`, else a new one); True when created now."""
    await store.ensure_account(account_id)
    existing = await store.find_root_key(account_id)
    if existing is not None:
        return existing, False
    key = given or RootKey(new_access_key_id(), new_secret_access_key())
    await store.add_root_key(account_id, key)
    return key, True


def write_client_files(
    data_dir: Path, key: RootKey, region: str, endpoint_url: str, ca_bundle: Path | None = None
) -> Path:
    """Write the credentials (owner-only) and config files; returns the credentials file's path. `ca_bundle`: the
    certificates the AWS tools are to trust for the endpoint (an absolute path), when not the system's."""
    credentials = data_dir / CREDENTIALS_FILE
    descriptor = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(
            f"[default]\naws_access_key_id = {key.access_key_id}\naws_secret_access_key = {key.secret_access_key}\n"
        )
    os.chmod(credentials, 0o600)
    trust = "" if ca_bundle is None else f"ca_bundle = {ca_bundle}\n"
    (data_dir / CONFIG_FILE).write_text(
        f"[default]\nregion = {region}\nendpoint_url = {endpoint_url}\ncli_follow_urlparam = false\n{trust}"
    )
    return credentials
