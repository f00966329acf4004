"""Where the server is and how /v2/ lets this client in, read from the places the AWS tools read.

The credentials are botocore's chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, then the
profile (`--profile`, else AWS_PROFILE, else `default`) of AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
AWS_CONFIG_FILE (~/.aws/config). The endpoint is `--endpoint`, else the one botocore would use for ECR
(AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the profile's `endpoint_url`): the files pullcache writes on first
start (`<data-dir>/credentials` and `config`) name the server there.

The /v2/ credentials are what `aws ecr get-login-password` gives: `AWS` and the token of
ecr:GetAuthorizationToken, sent as Basic authentication (registry/api/access.py). Without any credentials the
pulls go anonymous (a repository policy, or a lab server's --anonymous-registry, may let them in).

An https server is verified with the CA bundle the AWS tools would use (AWS_CA_BUNDLE, the profile's `ca_bundle`:
the config file of a server with a local CA names it), else the system's CAs.

The calls here are blocking (botocore): they run once, before the pulls start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.configprovider import ConfiguredEndpointProvider
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

# Region signed for when the profile names none: the server's own default.
DEFAULT_REGION = "us-east-1"
_CLIENT_CONFIG = Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"})


class LoginFailed(Exception):
    """No /v2/ credentials could be had; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class AwsProfile:
    """What the AWS configuration says: the endpoint (None: none configured) and region, and a session to sign
    with (None: no credentials anywhere)."""

    endpoint_url: str | None
    region: str
    session: botocore.session.Session | None
    ca_bundle: str | None = None  # the CAs an https server is verified with (None: the system's)


def read_profile(profile: str | None, endpoint_url: str | None) -> AwsProfile:
    """The configuration of `profile` (None: the default chain); `endpoint_url` overrides the configured one.
    Raises LoginFailed for a profile that does not exist."""
    session = botocore.session.Session(profile=profile)
    try:
        # The lookup botocore's clients make: AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the profile's services
        # section, the profile's endpoint_url.
        configured = ConfiguredEndpointProvider(
            full_config=session.full_config, scoped_config=session.get_scoped_config(), client_name="ecr"
        ).provide()
        region = session.get_config_variable("region") or DEFAULT_REGION
        ca_bundle = session.get_config_variable("ca_bundle")
        credentials = session.get_credentials()
    except ProfileNotFound as error:
        raise LoginFailed(str(error)) from None
    except BotoCoreError as error:
        raise LoginFailed(f"cannot read the AWS credentials: {error}") from None
    endpoint = endpoint_url or (configured if isinstance(configured, str) and configured else None)
    return AwsProfile(
        endpoint, str(region), session if credentials is not None else None, str(ca_bundle) if ca_bundle else None
    )


def registry_authorization(profile: AwsProfile, endpoint_url: str) -> str | None:
    """The Authorization header of /v2/ requests to the server at `endpoint_url`: Basic `AWS:<token>` from
    ecr:GetAuthorizationToken there; None without credentials (anonymous). Raises LoginFailed."""
    if profile.session is None:
        return None
    try:
        # botocore builds its clients' methods from the service model: the stubs know none of them.
        ecr: Any = profile.session.create_client(
            "ecr", region_name=profile.region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG
        )
        answer = ecr.get_authorization_token()
    except ClientError as error:
        details = error.response.get("Error", {})
        raise LoginFailed(
            f"GetAuthorizationToken at {endpoint_url} was refused: "
            f"{details.get('Code', 'error')}: {details.get('Message', '')}".rstrip(": ")
        ) from None
    except (BotoCoreError, ValueError) as error:  # ValueError: an endpoint botocore cannot use
        raise LoginFailed(f"cannot get a registry token from {endpoint_url}: {error}") from None
    data = answer.get("authorizationData") or []
    if not data or "authorizationToken" not in data[0]:
        raise LoginFailed(f"GetAuthorizationToken at {endpoint_url} answered no token")
    return f"Basic {data[0]['authorizationToken']}"  # already base64 of AWS:<password>
