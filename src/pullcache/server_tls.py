"""TLS as `pullcache serve` sets it up from its settings (the certificates themselves: tls/).

In the master, before any worker starts: given files are checked before anything is written (unreadable, not PEM,
a key that is not the certificate's: one line, and no start); under `--tls self-signed` the local CA and the
server certificate are made or reused in `<data-dir>/tls/`, and how to trust the CA is logged and printed. A server
listening beyond loopback without TLS is warned about. Each worker then loads the files into its own
ServerCertificates, which SIGHUP reloads.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TextIO

from pullcache.auth.bootstrap import CONFIG_FILE
from pullcache.config import TLS_SELF_SIGNED, Settings
from pullcache.tls import (
    CertificateFiles,
    ServerCertificates,
    check_files,
    default_names,
    ensure_self_signed,
    self_signed_files,
    trust_instructions,
)

log = logging.getLogger(__name__)

EXPIRY_WARNING: Final = timedelta(days=14)  # as `pullcache doctor` warns


def certificate_files(settings: Settings) -> CertificateFiles | None:
    """Where the server's certificate and key are (None: no TLS)."""
    if settings.tls_cert is not None and settings.tls_key is not None:
        return CertificateFiles(settings.tls_cert, settings.tls_key)
    if settings.tls == TLS_SELF_SIGNED:
        return self_signed_files(settings.data_dir).server
    return None


def client_ca_bundle(settings: Settings) -> Path | None:
    """The CA bundle the AWS tools' config names: the local CA's certificate under --tls self-signed."""
    if settings.tls == TLS_SELF_SIGNED:
        return self_signed_files(settings.data_dir).ca.resolve()
    return None


def check_given_files(settings: Settings) -> None:
    """Raises TlsSetupError when a given certificate and key do not load together; writes nothing."""
    if settings.tls_cert is not None and settings.tls_key is not None:
        check_files(CertificateFiles(settings.tls_cert, settings.tls_key))


def prepare(settings: Settings, stderr: TextIO = sys.stderr) -> None:
    """Make or reuse the self-signed files, log what is served, print how to trust a local CA, and warn about a
    server beyond loopback without TLS. Raises TlsSetupError."""
    files = certificate_files(settings)
    if files is None:
        if not _is_loopback(settings.host):
            log.warning(
                "serving plain HTTP beyond loopback: access keys, tokens and images cross the network unencrypted; "
                "give --tls-cert and --tls-key, or --tls self-signed",
                extra={"fields": {"host": settings.host, "port": settings.port}},
            )
        return
    if settings.tls == TLS_SELF_SIGNED:
        names = settings.tls_names or default_names(settings.host, settings.public_host)
        made = ensure_self_signed(self_signed_files(settings.data_dir).directory, names)
        summary = check_files(made.server)
        log.info(
            "serving HTTPS with a certificate of the local CA",
            extra={
                "fields": {
                    "ca": str(made.ca.resolve()),
                    "ca_created": made.ca_created,
                    "certificate_issued": made.server_issued,
                    "names": list(names),
                    **summary.fields(),
                }
            },
        )
        address = settings.endpoint_url.split("://", 1)[1]
        stderr.write(trust_instructions(made, address, str(settings.data_dir.resolve() / CONFIG_FILE)))
        stderr.flush()
        return
    summary = check_files(files)
    fields = {"certificate": str(files.certificate), "key": str(files.key), **summary.fields()}
    log.info("serving HTTPS", extra={"fields": fields})
    left = summary.not_after - datetime.now(UTC)
    if left < EXPIRY_WARNING:
        if left <= timedelta(0):
            log.warning(
                "the TLS certificate has expired: clients refuse it; replace the files and send SIGHUP",
                extra={"fields": fields},
            )
        else:
            log.warning(
                "the TLS certificate expires within %d days: replace the files and send SIGHUP",
                EXPIRY_WARNING.days,
                extra={"fields": fields},
            )


def load_certificates(settings: Settings) -> ServerCertificates | None:
    """A worker's live certificates (None: no TLS). Raises TlsSetupError."""
    files = certificate_files(settings)
    return None if files is None else ServerCertificates(files)


def _is_loopback(host: str) -> bool:
    """Every address `host` names is a loopback address ("" and the wildcards are every address: not loopback)."""
    if host in ("", "0.0.0.0", "::"):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]).is_loopback for info in found)
