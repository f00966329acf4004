"""`pullcache doctor`: a running deployment as this machine sees it, one line per check.

Each check is a small function returning a `CheckResult` (OK, WARN or FAIL and the reason) that never raises:
whatever goes wrong is the reason of a FAIL. The checks, in the order they are printed:

    health       GET /healthz answers 200
    readiness    GET /readyz answers 200; otherwise the reason of each check it names as failing
    clock        the server's Date header against this machine's clock: WARN past 60 s apart, FAIL past 5 min
                 (SigV4 refuses a request signed 15 min off; a clock drifting that far is an outage to come)
    tls          http on a loopback host is OK, http on any other WARN (keys, tokens and images cross the network
                 in clear); https: the certificate must verify (FAIL) and last 14 more days (WARN)
    disk         with a data dir: free space of its filesystem, WARN under 10 %, FAIL under 1 GiB (a fixed floor
                 rather than a share: an image's layer needs its whole size staged, however big the disk)
    credentials  sts:GetCallerIdentity signed with the data dir's root key (else with whatever the AWS tools would
                 use); WARN when there are none to try

The endpoint is the one given, else the `endpoint_url` of `<data-dir>/config` (written on first start), else
`pullcache serve`'s default address. An https endpoint is verified against the `ca_bundle` of `<data-dir>/config`
(the local CA of `--tls self-signed`), else the one the AWS tools would use (AWS_CA_BUNDLE, the profile's
ca_bundle), else the system's CAs.
"""

from __future__ import annotations

import configparser
import enum
import ipaddress
import json
import shutil
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pullcache.auth import accounts
from pullcache.auth.bootstrap import CREDENTIALS_FILE
from pullcache.config import Settings

HTTP_TIMEOUT: Final = 10.0  # seconds: above /readyz's own bound on its checks (health.CHECK_SECONDS)
SKEW_WARN: Final = timedelta(seconds=60)
SKEW_FAIL: Final = timedelta(minutes=5)
SIGV4_WINDOW: Final = timedelta(minutes=15)  # how far off a signature's time AWS (and pullcache) accept
CERTIFICATE_WARN: Final = timedelta(days=14)
DISK_WARN_SHARE: Final = 0.10
DISK_FAIL_BYTES: Final = 1 << 30
GIB: Final = float(1 << 30)

_T = TypeVar("_T")


class Status(enum.Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    reason: str

    def line(self) -> str:
        """The check as one line, whatever the reason holds (a server's message may span several)."""
        return f"{self.status.value:<4} {self.name:<11} {' '.join(self.reason.split())}"


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    source: str  # where they were found, for the reason printed


@dataclass(frozen=True, slots=True)
class Target:
    """What the checks look at: the endpoint, the data dir when one is given, and the credentials found."""

    endpoint: str
    region: str
    data_dir: Path | None
    credentials: Credentials | None
    ca_bundle: str | None = None  # the CAs an https endpoint is verified with (None: the system's)


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, or why there was none, with this machine's clock on either side of the request."""

    url: str
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: str | None
    sent_at: datetime
    received_at: datetime


def find_target(endpoint: str | None, data_dir: Path | None) -> Target:
    """The endpoint (given, else `<data-dir>/config`'s, else the server's default) and region, and credentials
    from `<data-dir>/credentials`, else from where the AWS tools would find them. Raises AccountError for a
    malformed endpoint URL."""
    written = accounts.read_client_defaults(data_dir) if data_dir is not None else accounts.ClientDefaults()
    chosen = (endpoint or written.endpoint_url or Settings().endpoint_url).rstrip("/")
    accounts.check_endpoint_url(chosen)
    session = botocore.session.Session()
    region = written.region or _quietly(session.get_config_variable, "region") or Settings().region
    found = _data_dir_credentials(data_dir) if data_dir is not None else None
    ca_bundle = written.ca_bundle or _quietly(session.get_config_variable, "ca_bundle")
    return Target(
        chosen, str(region), data_dir, found or _session_credentials(session), str(ca_bundle) if ca_bundle else None
    )


def run_checks(target: Target, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[CheckResult]:
    """Every check, in the order printed; none raises."""
    alive = fetch(f"{target.endpoint}/healthz", now, target.ca_bundle)
    results = [
        health_result(alive),
        readiness_result(fetch(f"{target.endpoint}/readyz", now, target.ca_bundle)),
        clock_result(alive),
        check_tls(target.endpoint, now(), target.ca_bundle),
    ]
    if target.data_dir is not None:
        results.append(check_disk(target.data_dir))
    results.append(check_credentials(target))
    return results


def fetch(url: str, now: Callable[[], datetime], ca_bundle: str | None = None) -> Answer:
    """GET `url` (https: verified with `ca_bundle`, else the system's CAs); an error status is an answer, a
    connection that fails is none (its reason in `error`)."""
    sent_at = now()
    try:
        context = _client_context(ca_bundle) if url.startswith("https:") else None
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT, context=context) as response:
            return Answer(url, response.status, dict(response.headers), response.read(), None, sent_at, now())
    except urllib.error.HTTPError as error:
        return Answer(url, error.code, dict(error.headers), error.read(), None, sent_at, now())
    except (OSError, ValueError) as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        return Answer(url, None, {}, b"", f"no answer from {url}: {reason}", sent_at, now())


def health_result(answer: Answer) -> CheckResult:
    if answer.error is not None:
        return CheckResult("health", Status.FAIL, answer.error)
    if answer.status != 200:
        return CheckResult("health", Status.FAIL, f"{answer.url} answered {answer.status}, not 200")
    return CheckResult("health", Status.OK, f"{answer.url} answered 200")


def readiness_result(answer: Answer) -> CheckResult:
    if answer.error is not None:
        return CheckResult("readiness", Status.FAIL, answer.error)
    if answer.status == 200:
        return CheckResult("readiness", Status.OK, f"/readyz: ready ({_check_names(answer.body)})")
    return CheckResult("readiness", Status.FAIL, f"/readyz answered {answer.status}: {_not_ready_reasons(answer.body)}")


def _not_ready_reasons(body: bytes) -> str:
    """The failing checks of a /readyz body (`{"checks": {name: "ok" or why not}}`), or the body as it came."""
    try:
        checks = json.loads(body)["checks"]
        failing = [f"{name}: {reason}" for name, reason in checks.items() if reason != "ok"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return body.decode(errors="replace").strip() or "(no body)"
    return "; ".join(failing) or "(no check named)"


def _check_names(body: bytes) -> str:
    try:
        return ", ".join(json.loads(body)["checks"]) or "no checks"
    except (ValueError, KeyError, TypeError):
        return "checks not named"


def clock_result(answer: Answer) -> CheckResult:
    """The server's clock (its Date header) against this machine's at the middle of the request."""
    if answer.error is not None:
        return CheckResult("clock", Status.FAIL, "not checked: the server did not answer")
    date = {name.lower(): value for name, value in answer.headers.items()}.get("date")
    try:
        server_time = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        server_time = None
    if server_time is None or server_time.tzinfo is None:
        return CheckResult("clock", Status.WARN, f"not checked: no usable Date header ({date!r})")
    return skew_result(server_time, answer.sent_at + (answer.received_at - answer.sent_at) / 2)


def skew_result(server_time: datetime, local_time: datetime) -> CheckResult:
    """WARN past SKEW_WARN apart, FAIL past SKEW_FAIL. A Date header counts whole seconds, so the server's clock
    is anywhere in the second after it: half a second is added before comparing."""
    skew = server_time + timedelta(seconds=0.5) - local_time
    apart = abs(skew)
    direction = "ahead of" if skew > timedelta(0) else "behind"
    reason = f"the server's clock is {apart.total_seconds():.0f} s {direction} this machine's"
    if apart > SKEW_FAIL:
        return CheckResult(
            "clock", Status.FAIL, f"{reason}; SigV4 refuses requests signed {_minutes(SIGV4_WINDOW)} off"
        )
    if apart > SKEW_WARN:
        return CheckResult("clock", Status.WARN, f"{reason}; set both from NTP")
    return CheckResult("clock", Status.OK, reason if apart >= timedelta(seconds=1) else "within a second")


def check_tls(endpoint: str, now: datetime, ca_bundle: str | None = None) -> CheckResult:
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if parts.scheme == "http":
        if _is_loopback(host):
            return CheckResult("tls", Status.OK, "plain HTTP, on loopback")
        return CheckResult(
            "tls", Status.WARN, f"plain HTTP to {host}: keys, tokens and images cross the network unencrypted"
        )
    port = parts.port or 443
    try:
        with (
            socket.create_connection((host, port), timeout=HTTP_TIMEOUT) as raw,
            _client_context(ca_bundle).wrap_socket(raw, server_hostname=host) as tls,
        ):
            certificate = tls.getpeercert()
    except ssl.SSLCertVerificationError as error:
        return CheckResult(
            "tls", Status.FAIL, f"the certificate of {host}:{port} does not verify: {error.verify_message}"
        )
    except (OSError, ssl.SSLError) as error:
        return CheckResult("tls", Status.FAIL, f"no TLS handshake with {host}:{port}: {error}")
    not_after = certificate.get("notAfter") if certificate else None
    if not isinstance(not_after, str):
        return CheckResult("tls", Status.WARN, f"the certificate of {host}:{port} verifies but states no expiry")
    return expiry_result(datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC), now)


def expiry_result(not_after: datetime, now: datetime) -> CheckResult:
    """A verified certificate: WARN when it expires within CERTIFICATE_WARN, FAIL once it has."""
    left = not_after - now
    if left <= timedelta(0):  # a verification at another moment than `now` may let one through
        return CheckResult("tls", Status.FAIL, f"the certificate expired {not_after:%Y-%m-%d %H:%M} UTC")
    reason = f"the certificate verifies and expires {not_after:%Y-%m-%d %H:%M} UTC, in {left.days} days"
    return CheckResult("tls", Status.WARN if left < CERTIFICATE_WARN else Status.OK, reason)


def check_disk(data_dir: Path) -> CheckResult:
    try:
        usage = shutil.disk_usage(data_dir)
    except OSError as error:
        return CheckResult("disk", Status.FAIL, f"cannot read the free space of {data_dir}: {error.strerror}")
    return disk_result(usage.total, usage.free)


def disk_result(total: int, free: int) -> CheckResult:
    """WARN under DISK_WARN_SHARE free, FAIL under DISK_FAIL_BYTES whatever the share."""
    share = free / total if total else 0.0
    reason = f"{free / GIB:.1f} GiB free of {total / GIB:.1f} GiB ({share:.0%})"
    if free < DISK_FAIL_BYTES:
        return CheckResult("disk", Status.FAIL, f"{reason}: under 1 GiB, a large layer will not fit")
    if share < DISK_WARN_SHARE:
        return CheckResult("disk", Status.WARN, f"{reason}: under {DISK_WARN_SHARE:.0%}")
    return CheckResult("disk", Status.OK, reason)


def check_credentials(target: Target) -> CheckResult:
    """sts:GetCallerIdentity at the endpoint, signed with the credentials found."""
    found = target.credentials
    if found is None:
        return CheckResult("credentials", Status.WARN, "not checked: none found (give --data-dir)")
    try:
        sts: Any = botocore.session.Session().create_client(  # Any: the stubs type no operation methods
            "sts",
            endpoint_url=target.endpoint,
            region_name=target.region,
            aws_access_key_id=found.access_key_id,
            aws_secret_access_key=found.secret_access_key,
            aws_session_token=found.session_token,
            config=Config(connect_timeout=HTTP_TIMEOUT, read_timeout=HTTP_TIMEOUT, retries={"total_max_attempts": 1}),
            verify=target.ca_bundle,
        )
        identity = sts.get_caller_identity()
    except ClientError as error:
        details = error.response.get("Error", {})
        message = str(details.get("Message", "")).strip().split("\n", 1)[0]  # SigV4's adds the canonical request
        return CheckResult(
            "credentials",
            Status.FAIL,
            f"{found.access_key_id} ({found.source}) refused: {details.get('Code')}: {message}",
        )
    except BotoCoreError as error:
        return CheckResult("credentials", Status.FAIL, f"{found.access_key_id} ({found.source}) not checked: {error}")
    return CheckResult("credentials", Status.OK, f"{found.access_key_id} ({found.source}) is {identity.get('Arn')}")


def _data_dir_credentials(data_dir: Path) -> Credentials | None:
    """The root key of `<data-dir>/credentials` (written on first start), if it is there and readable."""
    path = data_dir / CREDENTIALS_FILE
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text())
        profile = parser["default"]
        return Credentials(profile["aws_access_key_id"], profile["aws_secret_access_key"], None, str(path))
    except (OSError, configparser.Error, KeyError):
        return None


def _session_credentials(session: botocore.session.Session) -> Credentials | None:
    """What the AWS tools would sign with here (environment, shared files), if anything."""
    found = _quietly(session.get_credentials)
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    if frozen.access_key is None or frozen.secret_key is None:
        return None
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token, f"from {found.method}")


def _quietly(read: Callable[..., _T], *arguments: str) -> _T | None:
    """`read(*arguments)`, or None when botocore's configuration cannot be read (a profile that is not there)."""
    try:
        return read(*arguments)
    except BotoCoreError:
        return None


def _client_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verifying with `ca_bundle`, else the system's CAs. Raises OSError or ssl.SSLError for a bundle that does
    not load."""
    return ssl.create_default_context(cafile=ca_bundle)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.0f} min"
