"""Which upstream a rule's URL names: ECR's upstream kinds, what credentials each takes, and any other registry.

ECR's kinds, as its API reference lists the URL of each (CreatePullThroughCacheRule, upstreamRegistryUrl) and its
user guide says which authenticate ("Sync an upstream registry with an Amazon ECR private registry"):

    ecr-public                  public.ecr.aws                              no credentials
    ecr-public-premium          ecr-premium.aws.com                         the service-linked role, or customRoleArn
                                                                            with upstreamRoleArn; no secret
    k8s                         registry.k8s.io                             no credentials
    quay                        quay.io                                     no credentials
    docker-hub                  registry-1.docker.io                        a Secrets Manager secret
    github-container-registry   ghcr.io                                     a Secrets Manager secret
    gitlab-container-registry   registry.gitlab.com                         a Secrets Manager secret
    azure-container-registry    <name>.azurecr.io                           a Secrets Manager secret
    chainguard                  cgr.dev                                     a Secrets Manager secret
    ecr                         <account>.dkr.ecr.<region>.amazonaws.com    an IAM role (customRoleArn)

The premium kind's roles come as a pair: ECR assumes customRoleArn (a role of the registry's account), and through
it upstreamRoleArn (a role in the `aws` partition) to authenticate upstream; without either it uses its
service-linked role (the model's documentation of both members). pullcache keeps and reports the roles; it assumes
no role to reach an upstream (pulls go to the URL without credentials, as for the other kinds that take a role).

Any other OCI registry is accepted too (ECR refuses it): its kind is None and a secret is optional. A URL is
`host[:port]`, optionally with `https://` (the default) or `http://` (a plain-HTTP upstream: labs, tests); it is
reported as given, without a trailing slash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from pullcache.pullthrough.rule_errors import InvalidRuleParameter, UnsupportedUpstreamRegistry

HTTP = "http://"
HTTPS = "https://"
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?::[0-9]{1,5})?")
_IPV6_HOST = re.compile(r"\[[0-9a-f:.]+\](?::[0-9]{1,5})?")
# An IAM role in the `aws` partition, as upstreamRoleArn must be (the model's documentation of the member).
_AWS_ROLE_ARN = re.compile(r"arn:aws:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")


class Credentials(Enum):
    """What an upstream kind takes to authenticate."""

    NONE = "none"  # no credentialArn
    SECRET = "secret"  # a credentialArn is required
    OPTIONAL_SECRET = "optional-secret"  # a credentialArn may be given
    ROLE = "role"  # a customRoleArn is required, no credentialArn
    ROLE_PAIR = "role-pair"  # customRoleArn and upstreamRoleArn together, or neither; no credentialArn


@dataclass(frozen=True, slots=True)
class UpstreamKind:
    name: str
    host: re.Pattern[str]
    credentials: Credentials


KINDS: tuple[UpstreamKind, ...] = (
    UpstreamKind("ecr-public", re.compile(r"public\.ecr\.aws"), Credentials.NONE),
    UpstreamKind("ecr-public-premium", re.compile(r"ecr-premium\.aws\.com"), Credentials.ROLE_PAIR),
    UpstreamKind("k8s", re.compile(r"registry\.k8s\.io"), Credentials.NONE),
    UpstreamKind("quay", re.compile(r"quay\.io"), Credentials.NONE),
    UpstreamKind("docker-hub", re.compile(r"registry-1\.docker\.io"), Credentials.SECRET),
    UpstreamKind("github-container-registry", re.compile(r"ghcr\.io"), Credentials.SECRET),
    UpstreamKind("gitlab-container-registry", re.compile(r"registry\.gitlab\.com"), Credentials.SECRET),
    UpstreamKind("azure-container-registry", re.compile(r"[a-z0-9]+\.azurecr\.io"), Credentials.SECRET),
    UpstreamKind("chainguard", re.compile(r"cgr\.dev"), Credentials.SECRET),
    UpstreamKind("ecr", re.compile(r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?"), Credentials.ROLE),
)
KIND_NAMES = frozenset(kind.name for kind in KINDS)
OTHER_REGISTRY = UpstreamKind("", re.compile(r".*"), Credentials.OPTIONAL_SECRET)


@dataclass(frozen=True, slots=True)
class Upstream:
    """A parsed upstreamRegistryUrl: `url` as reported, `kind` ECR's (OTHER_REGISTRY for any other)."""

    url: str
    host: str
    kind: UpstreamKind

    @property
    def registry(self) -> str | None:
        """ECR's upstreamRegistry: the kind's name, None for any other registry."""
        return self.kind.name or None

    @property
    def hostname(self) -> str:
        """The host without its port (an IPv6 address without its brackets)."""
        if self.host.startswith("["):
            return self.host[1:].partition("]")[0]
        return self.host.partition(":")[0]


def parse_upstream(url: str, declared: str | None) -> Upstream:
    """The upstream `url` names; `declared` is the request's upstreamRegistry, which must agree with the URL.

    Raises UnsupportedUpstreamRegistry for a URL that is not `[scheme://]host[:port]`, or that disagrees.
    """
    reported = url.strip().rstrip("/")
    host = _host_of(reported)
    if host is None:
        raise UnsupportedUpstreamRegistry(_invalid_url(url))
    kind = OTHER_REGISTRY if reported.startswith(HTTP) else _kind_of_host(host)
    if declared is not None and declared != kind.name:
        # Reasoned: ECR refuses an upstreamRegistry the URL does not belong to, with this exception.
        raise UnsupportedUpstreamRegistry(
            f"The upstream registry URL {url} does not match the upstream registry {declared}. Specify a valid "
            "upstream registry URL and try again"
        )
    return Upstream(reported, host, kind)


def check_credentials(
    upstream: Upstream, credential_arn: str | None, custom_role_arn: str | None, upstream_role_arn: str | None = None
) -> None:
    """Raises UnsupportedUpstreamRegistry when the rule's credentials do not fit its upstream's kind, and
    InvalidRuleParameter when the premium kind's roles do not come as a pair or upstreamRoleArn is no role of the
    `aws` partition."""
    needs = upstream.kind.credentials
    if needs is Credentials.SECRET and credential_arn is None:
        # ECR's text (seen in answers of CreatePullThroughCacheRule for registry-1.docker.io without a secret).
        raise UnsupportedUpstreamRegistry(
            "The specified upstream registry requires authentication. Specify a valid Secrets Manager ARN"
        )
    if needs is Credentials.ROLE and custom_role_arn is None:
        # Reasoned, as the text above.
        raise UnsupportedUpstreamRegistry(
            "The specified upstream registry requires authentication. Specify a valid IAM role ARN"
        )
    if needs in (Credentials.NONE, Credentials.ROLE, Credentials.ROLE_PAIR) and credential_arn is not None:
        # Reasoned: these upstreams take no secret (the user guide: "doesn't require authentication"; the model of
        # credentialArn: "You can't use this parameter with the Amazon ECR Public Premium upstream registry").
        raise UnsupportedUpstreamRegistry(
            f"The upstream registry {upstream.url} does not support authentication with a Secrets Manager secret"
        )
    if needs not in (Credentials.ROLE, Credentials.ROLE_PAIR) and custom_role_arn is not None:
        # Reasoned: customRoleArn is for an Amazon ECR upstream (the model's documentation of customRoleArn).
        raise UnsupportedUpstreamRegistry(
            f"The upstream registry {upstream.url} does not support authentication with an IAM role"
        )
    if needs is not Credentials.ROLE_PAIR and upstream_role_arn is not None:
        # Reasoned: "You can use this parameter only for the Amazon ECR Public Premium upstream registry" (the
        # model's documentation of upstreamRoleArn), in the words of the text above.
        raise UnsupportedUpstreamRegistry(
            f"The upstream registry {upstream.url} does not support authentication with an upstream IAM role"
        )
    if needs is Credentials.ROLE_PAIR:
        _check_role_pair(custom_role_arn, upstream_role_arn)


def _check_role_pair(custom_role_arn: str | None, upstream_role_arn: str | None) -> None:
    """The premium kind's roles: both or neither, upstreamRoleArn a role of the `aws` partition. The texts are
    reasoned, in the words of ECR's InvalidParameterException ("Invalid parameter at '<member>' failed to satisfy
    constraint: ...") and of the model's documentation of the two members."""
    if upstream_role_arn is not None and custom_role_arn is None:
        raise InvalidRuleParameter(
            "Invalid parameter at 'upstreamRoleArn' failed to satisfy constraint: 'upstreamRoleArn requires "
            "customRoleArn'"
        )
    if custom_role_arn is not None and upstream_role_arn is None:
        raise InvalidRuleParameter(
            "Invalid parameter at 'customRoleArn' failed to satisfy constraint: 'For the Amazon ECR Public Premium "
            "upstream registry, specify customRoleArn together with upstreamRoleArn'"
        )
    if upstream_role_arn is not None and _AWS_ROLE_ARN.fullmatch(upstream_role_arn) is None:
        raise InvalidRuleParameter(
            "Invalid parameter at 'upstreamRoleArn' failed to satisfy constraint: 'upstreamRoleArn must be the ARN "
            "of an IAM role in the aws partition'"
        )


def _kind_of_host(host: str) -> UpstreamKind:
    for kind in KINDS:
        if kind.host.fullmatch(host):
            return kind
    return OTHER_REGISTRY


def _host_of(url: str) -> str | None:
    """`host[:port]` of a URL that is nothing more (a scheme of http or https aside), lower-cased; else None."""
    if not url:
        return None
    if "://" in url:
        if not url.startswith((HTTP, HTTPS)):
            return None
        parts = urlsplit(url)
        if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
            return None
        host = parts.netloc.lower()
    else:
        host = url.lower()
    if _HOST.fullmatch(host) is None and _IPV6_HOST.fullmatch(host) is None:
        return None
    return host


def _invalid_url(url: str) -> str:
    # ECR's text for a URL it refuses (seen in answers of CreatePullThroughCacheRule).
    return f"The upstream registry URL {url} is invalid. Specify a valid upstream registry URL and try again"
